"""Our Bookinfo's own parts, without Envoy: the split page's reading of the filter's counter, the shares it
draws, the product page's rendering of each reviews answer, and how the demo classes a page by its stars."""

import json

from tools.bookinfo import productpage, split
from tools.demo import pages

PROMETHEUS = """# TYPE traffic_shift_requests_total counter
traffic_shift_requests_total{entry="reviews",destination="outbound|9080|v1|reviews.default.svc.cluster.local",host="reviews.default.svc.cluster.local",subset="v1"} 30
traffic_shift_requests_total{entry="other",destination="outbound|9080|v1|reviews.default.svc.cluster.local",host="reviews.default.svc.cluster.local",subset="v1"} 12
traffic_shift_requests_total{entry="reviews",destination="outbound|9080|v3|reviews.default.svc.cluster.local",host="reviews.default.svc.cluster.local",subset="v3"} 8
traffic_shift_requests_total{entry="no-subset",destination="ratings-cluster",host="ratings \\"x\\"",subset=""} 5
traffic_shift_unmatched_requests_total{} 99
"""  # noqa: E501 (Envoy's exposition lines, as long as they are)


def test_the_split_page_sums_the_labelled_counter_by_destination():
    assert split.parse(PROMETHEUS) == {"v1": 42, "v3": 8, "ratings-cluster": 5}


def sampler_with(counts: list) -> split.Sampler:
    sampler = split.Sampler("127.0.0.1:1")
    for second, sample in enumerate(counts):
        sampler.samples.append((1000.0 + second, sample))
    return sampler


def test_now_is_the_last_window_and_history_one_point_a_second():
    # v1 only for the first seconds, then 50/50, counters growing; a reset (lower count) counts as nothing.
    counts = [{"v1": 10 * s} for s in range(6)] + [{"v1": 50 + 5 * s, "v3": 5 * s} for s in range(1, 7)]
    data = sampler_with(counts).data()
    assert data["destinations"] == ["v1", "v3"]
    assert data["now"] == {"v1": 50.0, "v3": 50.0} and data["now_counts"] == {"v1": 25, "v3": 25}
    assert len(data["history"]) == len(counts) - split.WINDOW
    assert data["history"][0][1] == {"v1": 100.0, "v3": 0.0}
    reset = sampler_with([{"v1": 100}] * 3 + [{"v1": 0}] * 3).data()
    assert reset["now"] == {} and reset["now_counts"] == {"v1": 0}


def test_no_samples_yet_draws_nothing():
    data = sampler_with([]).data()
    assert data["now"] == {} and data["history"] == [] and json.dumps(data)


class FakeSidecar:
    def __init__(self, answers: dict):
        self.answers = answers

    def get(self, service: str, path: str):
        return self.answers[service]


BOOK = (200, {}, {"type": "paperback", "pages": 200})


def reviews_answer(version: str, colour=None):
    reviews = [{"reviewer": "Reviewer1", "text": "Fun <b>!</b>"}]
    if colour:
        reviews[0]["rating"] = {"stars": 4, "color": colour}
    return 200, {"x-version": version}, {"podname": "reviews-" + version, "reviews": reviews}


def render(reviews) -> str:
    return productpage.page(FakeSidecar({"details": BOOK, "reviews": reviews})).body.decode()


def test_the_product_page_shows_each_version_by_its_stars_and_names_it_in_the_footer():
    for version, colour, shown in (("v1", None, "no stars"), ("v2", "black", "black"), ("v3", "red", "red")):
        page = render(reviews_answer(version, colour))
        assert productpage.stars_shown(page) == shown, page
        assert "reviews %s answered (%s)" % (version, "%s stars" % colour if colour else "no stars") in page
        assert page.count('fill="currentColor"') == (4 if colour else 0)  # 4 of 5 stars filled
        assert "Fun &lt;b&gt;!&lt;/b&gt;" in page  # what a service sends is text, never markup


def test_a_failed_reviews_call_is_a_failed_page_not_one_without_stars():
    page = render((503, {}, None))
    assert "reviews are currently unavailable" in page and "reviews unavailable (HTTP 503)" in page
    assert productpage.stars_shown(page).startswith("failed")
    no_ratings = render(
        (
            200,
            {"x-version": "v3"},
            {
                "reviews": [
                    {"reviewer": "R", "text": "t", "rating": {"error": "Ratings service is currently unavailable"}}
                ]
            },
        )
    )
    assert (
        productpage.stars_shown(no_ratings) == "no stars" and "Ratings service is currently unavailable" in no_ratings
    )


def test_pages_describe_counts_failures_apart():
    assert (
        pages.describe({"no stars": 3, "red": 2, "failed: HTTP 503": 1})
        == "5 pages: 3 no stars, 0 black, 2 red, 1 failed"
    )
