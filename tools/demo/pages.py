"""A person refreshing Bookinfo's product page, a few times a second: what the page showed each time.

Each load is classed by the stars on it, as a reader of Istio's task tells the versions apart: "no stars"
(reviews v1), "black" (v2), "red" (v3); a page whose reviews part says they are unavailable is a failure.
The classes come from the page's HTML here; tests/test_bookinfo_browser_e2e.py counts them in a real browser.
"""

from tools import envoylab
from tools.bookinfo.productpage import stars_shown

PATH = "/productpage"
CLASSES = ("no stars", "black", "red")


class PageClient(envoylab.PacedClient):
    """envoylab.PacedClient's pacing and record, loading the product page instead of calling reviews."""

    path, host = PATH, "bookinfo"

    def __init__(self, port: int, rate: float, max_requests: int, max_seconds: float):
        super().__init__(port, rate, max_requests, max_seconds, name="productpage-client")

    def answer_of(self, response) -> str:
        return stars_shown(response.body.decode("utf-8", "replace"))


def describe(counts: dict) -> str:
    """ "12 pages: 6 no stars, 0 black, 6 red (+ n failed)"."""
    shown = sum(counts.get(c, 0) for c in CLASSES)
    failed = sum(n for c, n in counts.items() if c.startswith("failed"))
    return "%d pages: %s%s" % (
        shown,
        ", ".join("%d %s" % (counts.get(c, 0), c) for c in CLASSES),
        ", %d failed" % failed if failed else "",
    )
