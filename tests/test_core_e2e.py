"""The filter in a real Envoy 1.40 splits traffic by weight, sets the cluster header
Envoy routes on, ignores what the client sends in it, and refuses bad configurations by name."""

import pytest

from tools import envoylab as lab

from conftest import BOTH_SHELLS
from shift_configs import SPLITS, assert_refused_naming, check_split, destination, shift

pytestmark = BOTH_SHELLS


def check_forwarded_cluster_names(envoy, names: dict, header=lab.CLUSTER_HEADER, tries=60):
    """The upstream saw `header` set to the cluster of the version that answered ({version: cluster})."""
    seen = {}
    for _ in range(tries):
        answer = lab.request(envoy.port)
        seen[answer.headers["x-version"]] = answer.headers["x-echo-" + header]
    assert seen == {v: names[v] for v in seen}
    assert len(seen) > 1  # 60 draws of a 50/50 split land on one side with probability 2^-59


@pytest.mark.parametrize("weights", SPLITS.values(), ids=SPLITS.keys())
def test_weighted_split(envoy_for, weights):
    check_split(envoy_for(shift(weights)), weights)


def test_lone_destination_without_weight_takes_all_traffic(envoy_for):
    tally = lab.send_requests(envoy_for(shift({"v2": None})).port, 500)
    assert tally.versions == {"v2": 500}


def test_istio_cluster_names_by_default(envoy_for):
    names = {v: lab.istio_cluster(v) for v in ("v1", "v3")}
    check_forwarded_cluster_names(envoy_for(shift(SPLITS["50/50"])), names)


def test_client_sent_cluster_header_is_ignored(envoy_for):
    envoy = envoy_for(shift(SPLITS["50/50"]))
    tally = check_split(envoy, SPLITS["50/50"], headers={lab.CLUSTER_HEADER: lab.istio_cluster("v2")})
    assert tally.versions["v2"] == 0


def test_client_sent_cluster_header_that_is_not_utf8_is_ignored(envoy_for):
    envoy = envoy_for(shift(SPLITS["50/50"]))
    check_split(envoy, SPLITS["50/50"], headers=[(lab.CLUSTER_HEADER, b"outbound|9080|v2|\xff\xfe")])


def test_request_counters_match_traffic(envoy_for):
    envoy = envoy_for(shift(SPLITS["50/50"]))
    before = lab.metrics.requests(envoy)
    tally = lab.send_requests(envoy.port, 400)
    grown = lab.metrics.requests(envoy) - before
    assert grown == {("reviews-shift", lab.istio_cluster(v)): tally.versions[v] for v in ("v1", "v3")}


def test_custom_cluster_header(envoy_for):
    header = "x-my-cluster"
    envoy = envoy_for(
        shift(SPLITS["50/50"], clusterHeader=header),
        routes=[lab.cluster_header_route(header)],
        echo_headers=(header, lab.CLUSTER_HEADER),
    )
    tally = check_split(envoy, SPLITS["50/50"], headers={header: lab.istio_cluster("v2")})
    assert tally.versions["v2"] == 0
    answer = lab.request(envoy.port, headers={lab.CLUSTER_HEADER: "sent-by-client"})
    assert answer.headers["x-echo-" + header] == lab.istio_cluster(answer.headers["x-version"])
    assert answer.headers["x-echo-" + lab.CLUSTER_HEADER] == "sent-by-client"  # not the filter's header


def test_custom_cluster_name_template(envoy_for):
    template = "{host}-{subset}"
    envoy = envoy_for(
        shift(SPLITS["50/50"], host="reviews", clusterName=template), clusters=lab.clusters_named("reviews-{subset}")
    )
    check_split(envoy, SPLITS["50/50"])
    check_forwarded_cluster_names(envoy, {"v1": "reviews-v1", "v3": "reviews-v3"})


def test_tag_mode_routes_on_the_subset_header(envoy_for):
    config = shift(SPLITS["20/30/50"], clusterName="{subset}", clusterHeader=lab.TAG_HEADER)
    envoy = envoy_for(
        config, routes=lab.tag_routes({v: v for v in lab.VERSIONS}), clusters=lab.clusters_named("{subset}")
    )
    check_split(envoy, SPLITS["20/30/50"])


def test_split_holds_across_worker_threads(envoy_for):
    envoy = envoy_for(shift(SPLITS["relative 1:3"]), concurrency=2)
    check_split(envoy, SPLITS["relative 1:3"], connections=4)


def test_per_route_opt_in(envoy_for):
    routes = [
        lab.cluster_header_route(prefix="/reviews", name="shifted", shift=True),
        lab.cluster_header_route(prefix="/", name="untouched"),
    ]
    envoy = envoy_for(shift(SPLITS["50/50"]), routes=routes, filter_disabled=True)
    check_split(envoy, SPLITS["50/50"], path="/reviews/1")
    # Where the filter is off nothing sets the header: the client's own value routes, or nothing does.
    assert lab.request(envoy.port, path="/ratings").status == 503
    chosen = lab.request(envoy.port, path="/ratings", headers={lab.CLUSTER_HEADER: lab.istio_cluster("v2")})
    assert chosen.headers["x-version"] == "v2"


def test_empty_config_starts_and_routes_nothing(envoy_for):
    envoy = envoy_for({})
    assert lab.send_requests(envoy.port, 20).statuses == {503: 20}


def test_empty_config_still_drops_the_client_cluster_header(envoy_for):
    envoy = envoy_for({})
    answer = lab.request(envoy.port, headers={lab.CLUSTER_HEADER: lab.istio_cluster("v2")})
    assert answer.status == 503


BAD_CONFIGS = {
    # name: (plugin config, path the message names, words the message must contain)
    "not JSON": ('{"http": [', "", ["JSON"]),
    "http not a list": ({"http": {}}, "http", []),
    "negative weight": (shift({"v1": 50, "v3": -5}), "http[0].route[1].weight", ["-5"]),
    "missing host": (
        {"http": [{"route": [{"destination": {"subset": "v1"}}]}]},
        "http[0].route[0].destination.host",
        [],
    ),
    "unknown key": ({"http": [{"route": [{**destination("v1"), "wieght": 10}]}]}, "http[0].route[0].wieght", []),
    "all weights zero": (shift({"v1": 0, "v3": 0}), "http[0].route", []),
}


@pytest.mark.parametrize("config,path,words", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_configuration_stops_envoy_naming_the_field(module, shell, config, path, words):
    assert_refused_naming(module, config, path, words, shell=shell)
