"""Where the filter runs (per-route opt-in, Envoy's way and the filter's way), tag mode
(Envoy re-evaluates the route after the filter sets the header), the request counters and the response header,
in a real Envoy.
"""

import collections
import functools

import pytest

from tools import envoylab as lab

import shift_configs
from shift_configs import RESPONSE_HEADER, config, destination, entry, split
from user_traffic import Pool, connections_by_worker

TOLERANCE = 0.06
SPLIT = {"v1": 50, "v3": 50}
SHIFT = config(entry("reviews-shift", split(SPLIT)))


check_split = functools.partial(shift_configs.check_split, tolerance=TOLERANCE)


def shift_stats(envoy) -> dict:
    """The filter's series in /stats/prometheus: {counter(entry, destination): n, UNMATCHED: n}."""
    return {**lab.metrics.requests(envoy), UNMATCHED: lab.metrics.unmatched(envoy)}


def counted(envoy, action) -> dict:
    """How much each traffic_shift series grew while action() ran (series absent before count from 0)."""
    before = shift_stats(envoy)
    action()
    return {
        name: value - before.get(name, 0) for name, value in shift_stats(envoy).items() if value != before.get(name, 0)
    }


def counter(entry_name, cluster) -> tuple:
    """A traffic_shift_requests_total series, by its entry and destination labels."""
    return (entry_name, cluster)


UNMATCHED = "traffic_shift_unmatched_requests_total"


# -- per-route opt-in, Envoy's way: the filter is on only where a route's FilterConfig says so -----------------

OPT_IN_WAYS = {
    # filter disabled in the chain, enabled on /reviews only
    "disabled, enabled per route": dict(
        routes=[
            lab.cluster_header_route(prefix="/reviews", name="shifted", shift=True),
            lab.cluster_header_route(prefix="/", name="untouched"),
        ],
        filter_disabled=True,
    ),
    # filter enabled in the chain, disabled on everything but /reviews
    "enabled, disabled per route": dict(
        routes=[
            lab.cluster_header_route(prefix="/reviews", name="shifted"),
            lab.cluster_header_route(prefix="/", name="untouched", shift=False),
        ]
    ),
}


@pytest.mark.parametrize("render_options", OPT_IN_WAYS.values(), ids=OPT_IN_WAYS.keys())
def test_envoy_per_route_opt_in(envoy_for, render_options):
    envoy = envoy_for(SHIFT, **render_options)
    check_split(envoy, SPLIT, path="/reviews/1")
    # Elsewhere the filter does not run: nothing sets, strips, counts or reports.
    grown = counted(envoy, lambda: lab.send_requests(envoy.port, 20, path="/ratings/1"))
    assert grown == {}
    plain = lab.request(envoy.port, path="/ratings/1")
    assert plain.status == 503 and RESPONSE_HEADER not in plain.headers
    chosen = lab.request(envoy.port, path="/ratings/1", headers={lab.CLUSTER_HEADER: lab.istio_cluster("v2")})
    assert chosen.headers["x-version"] == "v2" and RESPONSE_HEADER not in chosen.headers


# -- per-route opt-in, the filter's way: one filter everywhere, entries choose by route name, uri or host ---------

IN_FILTER_ROUTES = [
    lab.cluster_header_route(prefix="/reviews", name="reviews-route"),
    lab.cluster_header_route(prefix="/", name="other-route"),
]
IN_FILTER = config(
    entry("by-route-name", split(SPLIT), match=[{"routeName": {"exact": "reviews-route"}}]),
    entry("by-uri", [destination("v2")], match=[{"uri": {"prefix": "/details"}}]),
    hosts=["reviews"],
)


def test_filter_per_route_opt_in(envoy_for):
    envoy = envoy_for(IN_FILTER, routes=IN_FILTER_ROUTES)
    check_split(envoy, SPLIT, path="/reviews/1")
    assert lab.send_requests(envoy.port, 50, path="/details/1").versions == {"v2": 50}
    # Neither route name nor uri, or a host not listed: unrouted, and the client's header is dropped.
    spoofed = {lab.CLUSTER_HEADER: lab.istio_cluster("v2")}
    for request_options in ({"path": "/ratings/1"}, {"path": "/reviews/1", "host": "ratings:9080"}):
        grown = counted(
            envoy, lambda options=request_options: lab.send_requests(envoy.port, 20, headers=spoofed, **options)
        )
        assert grown == {UNMATCHED: 20}, request_options
        assert lab.send_requests(envoy.port, 20, headers=spoofed, **request_options).statuses == {503: 20}


# -- tag mode: the filter sets a subset header, header-matched routes pick the cluster ---------------------------

TAG_TOP = dict(clusterName="{subset}", clusterHeader=lab.TAG_HEADER)
# Tag routes first, then a fallback route to cluster "fallback" (served by v2). v2 gets weight 0 below, so a
# v2 answer means the request used the route Envoy picked before the filter set the header.
TAG_ROUTES = lab.tag_routes({v: v for v in lab.VERSIONS}, name_prefix="tag-") + [
    lab.cluster_route("fallback", name="fallback")
]
TAG_CLUSTERS = {**lab.clusters_named("{subset}"), "fallback": "v2"}
TAG_SPLIT = {"v1": 50, "v2": 0, "v3": 50}
TAG_SHIFT = config(entry("tag-shift", split(TAG_SPLIT), match=[{"uri": {"prefix": "/reviews"}}]), **TAG_TOP)
# The same, but applying by the route name Envoy picked for the request as it arrived.
TAG_BY_ROUTE = config(entry("tag-shift", split(TAG_SPLIT), match=[{"routeName": {"exact": "fallback"}}]), **TAG_TOP)


@pytest.mark.parametrize("spoofed", [None, "v2"], ids=["no client tag", "client sends tag v2"])
def test_tag_mode_route_is_re_evaluated_after_the_filter(envoy_for, spoofed):
    envoy = envoy_for(TAG_SHIFT, routes=TAG_ROUTES, clusters=TAG_CLUSTERS)
    check_split(envoy, TAG_SPLIT, headers={lab.TAG_HEADER: spoofed} if spoofed else None)


@pytest.mark.parametrize("spoofed", [None, "v1"], ids=["no client tag", "client sends tag v1"])
def test_tag_mode_unmatched_falls_back_without_the_clients_tag(envoy_for, spoofed):
    envoy = envoy_for(TAG_SHIFT, routes=TAG_ROUTES, clusters=TAG_CLUSTERS)
    tally = lab.send_requests(envoy.port, 50, path="/ratings/1", headers={lab.TAG_HEADER: spoofed} if spoofed else None)
    assert tally.versions == {"v2": 50}  # the fallback route: the tag was removed and the route re-evaluated


def test_tag_mode_by_route_name_shifts_untagged_requests(envoy_for):
    envoy = envoy_for(TAG_BY_ROUTE, routes=TAG_ROUTES, clusters=TAG_CLUSTERS)
    check_split(envoy, TAG_SPLIT)


def test_tag_mode_by_route_name_never_honours_a_clients_tag(envoy_for):
    # Documented limit (README, "routeName"): the route name is the one Envoy picked for the request as it
    # arrived, so a client's tag selects tag-v2 and the entry scoped to "fallback" does not apply. The filter
    # still strips the tag, so the request cannot reach the route it named: it lands on the untagged route.
    envoy = envoy_for(TAG_BY_ROUTE, routes=TAG_ROUTES, clusters=TAG_CLUSTERS)
    before = lab.metrics.unmatched(envoy)
    tally = lab.send_requests(envoy.port, 50, headers={lab.TAG_HEADER: "v1"})
    assert tally.versions == {"v2": 50}, tally  # fallback (v2), never the v1 the client named
    assert lab.metrics.unmatched(envoy) - before == 50


# -- counters and the response header -----------------------------------------------------------------------

STATS_SPLIT = {"v1": 30, "v3": 70}
STATS_CONFIG = config(
    entry("jason-v2", [destination("v2")], match=[{"headers": {"end-user": {"exact": "jason"}}}]),
    entry("reviews-shift", split(STATS_SPLIT), match=[{"uri": {"prefix": "/reviews"}}]),
)
EXPECTED_COUNTERS = {
    counter("jason-v2", lab.istio_cluster("v2")),
    counter("reviews-shift", lab.istio_cluster("v1")),
    counter("reviews-shift", lab.istio_cluster("v3")),
    UNMATCHED,
}


def test_counters_equal_the_traffic_on_both_workers(envoy_for):
    envoy = envoy_for(STATS_CONFIG, concurrency=2)
    assert set(shift_stats(envoy)) == EXPECTED_COUNTERS  # exactly these series, defined before any traffic
    by_worker = connections_by_worker(envoy, per_worker=2)  # these first requests are counted too: excluded
    seen = collections.Counter()
    requests = [
        ({"end-user": "jason"}, "/reviews/1", 150),
        ({}, "/reviews/1", lab.sample_size(STATS_SPLIT, TOLERANCE)),
        ({}, "/ratings/1", 120),
    ]

    def send():
        with Pool(connections=[c for conns in by_worker.values() for c in conns]) as pool:
            for headers, path, n in requests:
                for _ in range(n):
                    answer = pool.send(headers, path=path)
                    seen[(answer.status, answer.headers.get("x-version"))] += 1

    grown = counted(envoy, send)
    assert grown == {
        counter("jason-v2", lab.istio_cluster("v2")): seen[(200, "v2")],
        counter("reviews-shift", lab.istio_cluster("v1")): seen[(200, "v1")],
        counter("reviews-shift", lab.istio_cluster("v3")): seen[(200, "v3")],
        UNMATCHED: seen[(503, None)],
    }
    assert seen[(200, "v2")] == 150 and seen[(503, None)] == 120
    lab.assert_shares({v: seen[(200, v)] for v in ("v1", "v3")}, STATS_SPLIT)


def test_response_header_names_the_cluster_that_answered(envoy_for):
    envoy = envoy_for(STATS_CONFIG, concurrency=2)
    seen = collections.Counter()
    for headers, path in (({"end-user": "jason"}, "/reviews/1"), ({}, "/reviews/1"), ({}, "/ratings/1")):
        for _ in range(60):
            answer = lab.request(envoy.port, path=path, headers=headers)
            version = answer.headers.get("x-version")
            assert answer.headers.get(RESPONSE_HEADER) == (version and lab.istio_cluster(version)), answer.headers
            seen[version] += 1
    assert set(seen) == {"v1", "v2", "v3", None}


# -- tag mode with per-route opt-in: every route the tag selects must run the filter -----------------------------
# A client may send the tag itself. Envoy picks the route on the request as it arrives, so a client's tag selects
# that tag's route; the filter strips the tag only if it runs there. With the filter on the whole listener (as an
# Istio WasmPlugin is) this always holds; with per-route opt-in, the tag routes must opt in too (README, tag mode).

TAG_OPT_IN_SAFE = [
    *lab.tag_routes({v: v for v in lab.VERSIONS}, name_prefix="tag-", shift=True),
    lab.cluster_route("fallback", name="fallback", shift=True),
]
TAG_OPT_IN_UNSAFE = [
    *lab.tag_routes({v: v for v in lab.VERSIONS}, name_prefix="tag-"),
    lab.cluster_route("fallback", name="fallback", shift=True),
]


def test_tag_mode_opt_in_on_every_tag_route_never_honours_a_clients_tag(envoy_for):
    envoy = envoy_for(TAG_SHIFT, routes=TAG_OPT_IN_SAFE, clusters=TAG_CLUSTERS, filter_disabled=True)
    check_split(envoy, TAG_SPLIT, path="/reviews/1")
    tally = lab.send_requests(envoy.port, 50, path="/reviews/1", headers={lab.TAG_HEADER: "v2"})
    assert tally.versions["v2"] == 0 and tally.statuses == {200: 50}, tally  # v2 has weight 0


def test_tag_mode_opt_in_only_on_the_untagged_route_lets_a_client_choose(envoy_for):
    # Why the rule above is needed: a tag route without the filter serves whatever tag the client sent.
    envoy = envoy_for(TAG_SHIFT, routes=TAG_OPT_IN_UNSAFE, clusters=TAG_CLUSTERS, filter_disabled=True)
    check_split(envoy, TAG_SPLIT, path="/reviews/1")
    tally = lab.send_requests(envoy.port, 50, path="/reviews/1", headers={lab.TAG_HEADER: "v2"})
    assert tally.versions == {"v2": 50}, tally
