"""reviews v1, v2, v3: two reviews of the book; v2 and v3 ask `ratings` (through the sidecar) for the stars
and colour them black (v2) or red (v3), v1 shows none, as in Bookinfo. Every answer names its version in the
`x-version` header (what the demo's client counts) and in `podname`."""

from .service import Answer, Sidecar

VERSIONS = ("v1", "v2", "v3")
STAR_COLOURS = {"v2": "black", "v3": "red"}
REVIEWS = (
    ("Reviewer1", "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
    ),
)


def routes(version: str, sidecar: str) -> dict:
    colour = STAR_COLOURS.get(version)
    ratings = Sidecar(sidecar) if colour else None

    def reviews(path: str) -> Answer:
        body = {
            "id": path.rsplit("/", 1)[-1],
            "podname": "reviews-" + version,
            "clustername": "null",
            "reviews": [{"reviewer": who, "text": text} for who, text in REVIEWS],
        }
        if ratings:
            status, _, data = ratings.get("ratings", "/ratings/0")
            given = (data or {}).get("ratings", {}) if status == 200 else {}
            for review in body["reviews"]:
                stars = given.get(review["reviewer"])
                review["rating"] = (
                    {"stars": stars, "color": colour}
                    if isinstance(stars, int)
                    else {"error": "Ratings service is currently unavailable"}
                )
        return Answer(200, body, headers={"x-version": version})

    return {"/reviews/": reviews}
