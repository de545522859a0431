"""The native module's cluster specifier plugin in a real Envoy 1.40. The route
names the plugin and the plugin names the cluster (no header, no filter): the same splits, matching,
sticky choice and counters as the filter, unmatched requests get the route's 503, and what a specifier
cannot do (set headers) is refused by name, as a bad configuration is; so are rollouts, which the native
module does not run."""

import re

import pytest

from tools import envoylab as lab

from shift_configs import SPLITS, check_split, config, destination, entry, shift, split
from user_traffic import Pool, destinations, only_destination


def specifier(envoy_for, plugin_config, **render_options):
    return envoy_for(None, routes=[lab.cluster_specifier_route(plugin_config)], **render_options)


@pytest.mark.parametrize("weights", SPLITS.values(), ids=SPLITS.keys())
def test_weighted_split(envoy_for, weights):
    check_split(specifier(envoy_for, shift(weights)), weights)


def test_lone_destination_without_weight_takes_all_traffic(envoy_for):
    tally = lab.send_requests(specifier(envoy_for, shift({"v2": None})).port, 500)
    assert tally.versions == {"v2": 500}


def test_client_sent_cluster_header_changes_nothing(envoy_for):
    envoy = specifier(envoy_for, shift(SPLITS["50/50"]))
    tally = check_split(envoy, SPLITS["50/50"], headers={lab.CLUSTER_HEADER: lab.istio_cluster("v2")})
    assert tally.versions["v2"] == 0


def test_request_counters_match_traffic(envoy_for):
    envoy = specifier(envoy_for, shift(SPLITS["50/50"]))
    before = lab.metrics.requests(envoy)
    tally = lab.send_requests(envoy.port, 400)
    grown = lab.metrics.requests(envoy) - before
    assert grown == {("reviews-shift", lab.istio_cluster(v)): tally.versions[v] for v in ("v1", "v3")}


MATCHING = {
    "http": [
        entry("jason", [destination("v2")], match=[{"headers": {"end-user": {"exact": "jason"}}}]),
        entry("canary-route", [destination("v3")], match=[{"routeName": {"exact": "canary"}}]),
        entry("reviews", split({"v1": 1}), match=[{"uri": {"prefix": "/reviews"}}]),
    ]
}


@pytest.mark.parametrize(
    "path,headers,version",
    [
        ("/reviews/1", {"end-user": "jason"}, "v2"),
        ("/reviews/1", {"end-user": "json"}, "v1"),
        ("/canary/1", {}, "v3"),
        ("/ratings/1", {}, None),  # no entry applies: the route has no cluster
    ],
    ids=["header", "header mismatch", "route name", "unmatched"],
)
def test_matching(envoy_for, path, headers, version):
    routes = [
        lab.cluster_specifier_route(MATCHING, prefix="/canary", name="canary"),
        lab.cluster_specifier_route(MATCHING, prefix="/", name="default"),
    ]
    envoy = envoy_for(None, routes=routes)
    answers = [lab.request(envoy.port, path=path, headers=headers) for _ in range(10)]
    if version is None:
        assert {a.status for a in answers} == {503}
    else:
        assert {(a.status, a.headers.get("x-version")) for a in answers} == {(200, version)}


def test_sticky_users_keep_their_destination(envoy_for):
    envoy = specifier(envoy_for, {"http": [entry("sticky", split(SPLITS["50/50"]), sticky={"header": "x-user-id"})]})
    users = ["user-%d" % i for i in range(100)]
    with Pool(envoy.port, 4) as pool:
        chosen = only_destination(destinations(pool, users, lambda user, round_: {"x-user-id": user}, 3))
    assert set(chosen.values()) == {"v1", "v3"}


ROLLOUT = {
    "http": [
        {
            **shift({"v1": 0, "v3": 100})["http"][0],
            "rollout": {"from": [100, 0], "start": "2026-12-01T10:00:00Z", "steps": [{"at": "0s", "progress": 5}]},
        }
    ]
}
BAD_CONFIGS = {
    "negative weight": (shift({"v1": 50, "v3": -5}), "http[0].route[1].weight"),
    "response header": (config(entry("a", [destination("v1")])), "responseHeader"),
    "cluster header": (shift({"v1": 1}, clusterHeader="x-mine"), "clusterHeader"),
    "rollout": (ROLLOUT, "http[0].rollout"),  # the native module runs no rollouts (yet)
}


def assert_refused(bootstrap, path):
    log = lab.expect_startup_failure(bootstrap)
    messages = re.findall(r"traffic-shift: invalid configuration at (.*)", log)
    assert len(messages) == 1 and messages[0].startswith(path), messages


@pytest.mark.parametrize("plugin_config,path", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_configuration_stops_envoy_naming_the_field(plugin_config, path):
    assert_refused(lab.render_bootstrap(None, routes=[lab.cluster_specifier_route(plugin_config)]), path)


def test_the_native_filter_refuses_a_rollout_too():
    assert_refused(lab.render_bootstrap(ROLLOUT, shell="native"), "http[0].rollout")
