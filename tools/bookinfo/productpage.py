"""productpage: the Bookinfo page a person opens. Each load asks `details` and `reviews` through the sidecar
(Host details:9080, reviews:9080: the traffic-shift filter picks the reviews version) and renders what came
back. Stars are inline SVG in the colour the reviews answer gave (no font needed); a footer names the version.
Also serves /traffic-shift (split.py) when told where Envoy's admin is. stars_shown() reads a rendered page
back the way a reader of Istio's task tells the versions apart."""

import html
import re

from . import split
from .service import Answer, Sidecar

TITLE = "The Comedy of Errors"
SUMMARY = (
    "Wikipedia Summary: The Comedy of Errors is one of William Shakespeare's early plays. It is his "
    "shortest and one of his most farcical comedies, with a major part of the humour coming from "
    "slapstick and mistaken identity, in addition to puns and word play."
)
STAR = "12,2 15,9 22,9 16.5,13.5 18.5,21 12,16.5 5.5,21 7.5,13.5 2,9 9,9"
_STARS_COLOUR = re.compile(r'class="stars" style="color: ([a-z]+)"')
STYLE = """
body { font-family: sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #2b3e50; color: #fff; padding: 12px 24px; font-size: 20px; }
header a { color: #cfe; font-size: 14px; margin-left: 16px; }
main { max-width: 960px; margin: 0 auto; padding: 8px 24px; }
.columns { display: flex; gap: 32px; }
.columns > section { flex: 1; }
blockquote { margin: 0 0 16px; padding: 8px 16px; border-left: 4px solid #ddd; background: #fff; }
.reviewer { font-size: 13px; color: #666; }
.stars { display: inline-flex; gap: 2px; margin-top: 4px; }
.unavailable { color: #a00; }
footer { font-size: 12px; color: #666; border-top: 1px solid #ddd; margin-top: 24px; padding: 8px 0; }
dt { font-weight: bold; float: left; width: 110px; } dd { margin: 0 0 4px 120px; }
"""


def _stars(rating: dict) -> str:
    """Five SVG stars, `stars` of them filled, in the rating's colour (Bookinfo: black or red)."""
    if "stars" not in rating:
        return '<p class="unavailable">%s</p>' % html.escape(rating.get("error", "no rating"))
    colour = html.escape(str(rating.get("color", "black")))
    shapes = "".join(
        '<svg class="star" width="20" height="20" viewBox="0 0 24 24"><polygon points="%s" %s/></svg>'
        % (STAR, 'fill="currentColor"' if i < rating["stars"] else 'fill="none" stroke="currentColor"')
        for i in range(5)
    )
    return '<div class="stars" style="color: %s" data-stars="%d">%s</div>' % (colour, rating["stars"], shapes)


def _details(status: int, book) -> str:
    if status != 200 or not isinstance(book, dict):
        return '<p class="unavailable">Sorry, product details are currently unavailable for this book.</p>'
    rows = [
        ("Type", book.get("type")),
        ("Pages", book.get("pages")),
        ("Publisher", book.get("publisher")),
        ("Language", book.get("language")),
        ("ISBN-10", book.get("ISBN-10")),
        ("ISBN-13", book.get("ISBN-13")),
    ]
    return "<dl>%s</dl>" % "".join("<dt>%s</dt><dd>%s</dd>" % (k, html.escape(str(v))) for k, v in rows)


def _reviews(status: int, headers: dict, answer):
    """(HTML of the reviews, footer text naming who answered)."""
    if status != 200 or not isinstance(answer, dict):
        return (
            '<p class="unavailable">Sorry, product reviews are currently unavailable for this book.</p>',
            "reviews unavailable (%s)" % ("HTTP %d" % status if status else "no answer"),
        )
    version = headers.get("x-version") or str(answer.get("podname", "?")).replace("reviews-", "")
    blocks = []
    for review in answer.get("reviews", []):
        rating = review.get("rating")
        blocks.append(
            '<blockquote><p>%s</p><div class="reviewer">%s</div>%s</blockquote>'
            % (
                html.escape(str(review.get("text", ""))),
                html.escape(str(review.get("reviewer", ""))),
                _stars(rating) if isinstance(rating, dict) else "",
            )
        )
    colours = sorted(
        {
            r["rating"]["color"]
            for r in answer.get("reviews", [])
            if isinstance(r.get("rating"), dict) and "color" in r["rating"]
        }
    )
    shown = ", ".join("%s stars" % c for c in colours) or "no stars"
    return "".join(blocks), "reviews %s answered (%s)" % (html.escape(version), html.escape(shown))


def page(sidecar: Sidecar) -> Answer:
    details = sidecar.get("details", "/details/0")
    reviews_html, footer = _reviews(*sidecar.get("reviews", "/reviews/0"))
    body = """<!doctype html><html><head><meta charset="utf-8"><title>Bookinfo: %s</title><style>%s</style></head>
<body><header>BookInfo Sample <a href="/traffic-shift">traffic split</a></header><main>
<h1>%s</h1><p>%s</p><div class="columns">
<section><h2>Book Details</h2>%s</section><section><h2>Book Reviews</h2>%s</section></div>
<footer id="served-by">%s</footer></main></body></html>""" % (
        TITLE,
        STYLE,
        TITLE,
        SUMMARY,
        _details(details[0], details[2]),
        reviews_html,
        footer,
    )
    return Answer(200, body, "text/html; charset=utf-8")


def stars_shown(page: str) -> str:
    """ "no stars" (reviews v1), "black" (v2) or "red" (v3) by the stars on a rendered page; "failed: …" when its
    reviews part is unavailable or its stars are mixed."""
    if 'id="served-by">reviews unavailable' in page or "reviews are currently unavailable" in page:
        return "failed: reviews unavailable"
    colours = set(_STARS_COLOUR.findall(page))
    if not colours:
        return "no stars"
    if len(colours) == 1 and colours <= {"black", "red"}:
        return colours.pop()
    return "failed: stars %s" % "+".join(sorted(colours))


def routes(sidecar_address: str, admin_address: str = None) -> dict:
    sidecar = Sidecar(sidecar_address)
    found = {
        "/productpage": lambda path: page(sidecar),
        "/": lambda path: (
            Answer(302, "", "text/plain", {"location": "/productpage"})
            if path == "/"
            else Answer(404, {"error": "no such path: %s" % path})
        ),
    }
    if admin_address:
        found.update(split.routes(admin_address))
    return found
