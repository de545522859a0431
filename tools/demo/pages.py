"""A person refreshing Bookinfo's product page, a few times a second: what the page showed each time.

Each load is classed by the stars on it, as a reader of Istio's task tells the versions apart: "no stars"
(reviews v1), "black" (v2), "red" (v3); a page whose reviews part says they are unavailable is a failure.
The classes come from the page's HTML here; tests/test_bookinfo_browser_e2e.py counts them in a real browser.
"""
import re

from . import client

PATH = "/productpage"
CLASSES = ("no stars", "black", "red")
_STARS = re.compile(r'class="stars" style="color: ([a-z]+)"')


def classify(page: str) -> str:
    if 'id="served-by">reviews unavailable' in page or "reviews are currently unavailable" in page:
        return "failed: reviews unavailable"
    colours = set(_STARS.findall(page))
    if not colours:
        return "no stars"
    if len(colours) == 1 and colours <= {"black", "red"}:
        return colours.pop()
    return "failed: stars %s" % "+".join(sorted(colours))


def _load(conn) -> str:
    conn.request("GET", PATH)
    response = conn.getresponse()
    body = response.read().decode("utf-8", "replace")
    if response.status != 200:
        return "failed: HTTP %d" % response.status
    return classify(body)


class PageClient(client.Client):
    """client.Client's pacing and record, loading the product page instead of calling reviews."""

    def __init__(self, port: int, rate: float, max_requests: int, max_seconds: float):
        super().__init__(port, rate, max_requests, max_seconds)
        self.name = "productpage-client"

    def ask(self, conn) -> str:
        return client._ask(conn, _load)


def describe(counts: dict) -> str:
    """"12 pages: 6 no stars, 0 black, 6 red (+ n failed)"."""
    shown = sum(counts.get(c, 0) for c in CLASSES)
    failed = sum(n for c, n in counts.items() if c.startswith("failed"))
    return "%d pages: %s%s" % (shown, ", ".join("%d %s" % (counts.get(c, 0), c) for c in CLASSES),
                               ", %d failed" % failed if failed else "")
