"""An HTTPRoute's `rules` as the plugin configuration, in a real Envoy 1.40. The
shipped Gateway API stages (filter-config/plugin/route-reviews-*.json) route to Istio's clusters for the
per-version Services; Gateway API's matches (PathPrefix by segments, headers with case-insensitive names,
query parameters, method) pick the rule; bad configurations are refused naming their path."""

import json
import os

import pytest

from tools import REPO
from tools import envoylab as lab

from shift_configs import RESPONSE_HEADER, assert_refused_naming, check_split, expect_route

PLUGIN_DIR = os.path.join(REPO, "filter-config", "plugin")
SERVICE_CLUSTERS = lab.clusters_named(lab.SERVICE_TEMPLATE)  # outbound|9080||reviews-v1.default.svc... -> v1


def stage(name: str) -> dict:
    with open(os.path.join(PLUGIN_DIR, name + ".json")) as f:
        return json.load(f)


def service_cluster(service: str) -> str:
    return "outbound|9080||%s.default.svc.cluster.local" % service


def backend(service: str, weight=None) -> dict:
    ref = {"name": service, "port": 9080}
    if weight is not None:
        ref["weight"] = weight
    return ref


def route_config(*rules, **top) -> dict:
    return {"responseHeader": RESPONSE_HEADER, "hostnames": ["reviews"], **top, "rules": list(rules)}


STAGES = {
    "route-reviews-v1": {"v1": 1},
    "route-reviews-50-v3": {"v1": 50, "v3": 50},
    "route-reviews-v3": {"v3": 1},
}


@pytest.mark.parametrize("name,weights", STAGES.items(), ids=STAGES.keys())
def test_shipped_stages_route_to_istio_service_clusters(envoy_for, name, weights):
    envoy = envoy_for(stage(name), clusters=SERVICE_CLUSTERS)
    before = lab.metrics.requests(envoy, by=("entry", "destination", "host", "subset"))
    tally = check_split(envoy, weights)
    answer = lab.request(envoy.port)
    assert answer.headers[RESPONSE_HEADER] == service_cluster("reviews-" + answer.headers["x-version"])
    # The rule's name names the counters, as http[].name does; a Service backend has no subset.
    grown = lab.metrics.requests(envoy, by=("entry", "destination", "host", "subset")) - before
    assert grown == {
        ("reviews", service_cluster("reviews-" + v), "reviews-%s.default.svc.cluster.local" % v, ""): sent
        + (answer.headers["x-version"] == v)
        for v, sent in tally.versions.items()
    }


def test_one_to_three_split(envoy_for):
    config = route_config({"name": "canary", "backendRefs": [backend("reviews-v1", 1), backend("reviews-v3", 3)]})
    check_split(envoy_for(config, clusters=SERVICE_CLUSTERS), {"v1": 1, "v3": 3})


def test_weight_defaults_to_one(envoy_for):
    config = route_config({"backendRefs": [backend("reviews-v2"), backend("reviews-v3")]})
    check_split(envoy_for(config, clusters=SERVICE_CLUSTERS), {"v2": 1, "v3": 1})


# Labelled rules: each rule one backend named after it, so the destination header names the rule that applied.
MATCH_RULES = {
    "order-first": [{"headers": [{"name": "x-order", "value": "1"}]}],
    "order-second": [{"headers": [{"name": "x-order", "type": "RegularExpression", "value": ".*"}]}],
    "prefix-foo": [{"path": {"type": "PathPrefix", "value": "/foo"}}],
    "prefix-bar-slash": [{"path": {"value": "/bar/"}}],
    "exact": [{"path": {"type": "Exact", "value": "/exact"}}],
    "regex-path": [{"path": {"type": "RegularExpression", "value": "/items/[0-9]+"}}],
    "header-any-case": [{"headers": [{"name": "X-Canary", "value": "yes"}]}],
    "header-regex": [{"headers": [{"name": "x-group", "type": "RegularExpression", "value": "beta-(a|b)"}]}],
    "query": [{"queryParams": [{"name": "canary", "value": "1"}]}],
    "method": [{"method": "PUT"}],
    "and-or": [{"path": {"value": "/and"}, "method": "POST"}, {"headers": [{"name": "x-or", "value": "1"}]}],
}
MATCH_CONFIG = route_config(
    *[{"name": name, "matches": matches, "backendRefs": [backend(name)]} for name, matches in MATCH_RULES.items()]
)
MATCH_CLUSTERS = {service_cluster(name): lab.VERSIONS[i % len(lab.VERSIONS)] for i, name in enumerate(MATCH_RULES)}

# (case id, rule the request must reach or None, request options)
MATCH_CASES = [
    ("first match in order wins", "order-first", {"headers": {"x-order": "1"}}),
    ("a later rule when the first does not apply", "order-second", {"headers": {"x-order": "2"}}),
    ("prefix: the path itself", "prefix-foo", {"path": "/foo"}),
    ("prefix: a deeper segment", "prefix-foo", {"path": "/foo/bar"}),
    ("prefix: a trailing slash", "prefix-foo", {"path": "/foo/"}),
    ("prefix: the query is not the path", "prefix-foo", {"path": "/foo?x=/y"}),
    ("prefix: not a longer segment", None, {"path": "/foobar"}),
    ("prefix with trailing slash: the bare path", "prefix-bar-slash", {"path": "/bar"}),
    ("prefix with trailing slash: deeper", "prefix-bar-slash", {"path": "/bar/baz"}),
    ("prefix with trailing slash: not a longer segment", None, {"path": "/barn"}),
    ("exact", "exact", {"path": "/exact"}),
    ("exact is not a prefix", None, {"path": "/exact/more"}),
    ("regex path, whole value", "regex-path", {"path": "/items/42"}),
    ("regex path is anchored", None, {"path": "/items/42/x"}),
    ("header name given in another case", "header-any-case", {"headers": {"x-canary": "yes"}}),
    ("header sent in upper case", "header-any-case", {"headers": {"X-CANARY": "yes"}}),
    ("header value is case-sensitive", None, {"headers": {"x-canary": "Yes"}}),
    ("header regex", "header-regex", {"headers": {"x-group": "beta-b"}}),
    ("header regex is anchored", None, {"headers": {"x-group": "beta-bb"}}),
    ("query parameter", "query", {"path": "/reviews/0?canary=1"}),
    ("query parameter value", None, {"path": "/reviews/0?canary=2"}),
    ("method", "method", {"method": "PUT"}),
    ("another method", None, {"method": "DELETE"}),
    ("fields of a match are ANDed", "and-or", {"path": "/and", "method": "POST"}),
    ("one field is not enough", None, {"path": "/and"}),
    ("matches are ORed", "and-or", {"headers": {"x-or": "1"}}),
    ("no rule applies", None, {}),
]


@pytest.mark.parametrize("rule,options", [c[1:] for c in MATCH_CASES], ids=[c[0] for c in MATCH_CASES])
def test_matches_pick_the_rule(envoy_for, rule, options):
    envoy = envoy_for(MATCH_CONFIG, clusters=MATCH_CLUSTERS)
    expect_route(envoy, rule and service_cluster(rule), MATCH_CLUSTERS, **options)


def test_hostnames_scope_the_rules(envoy_for):
    envoy = envoy_for(MATCH_CONFIG, clusters=MATCH_CLUSTERS)
    expect_route(envoy, None, MATCH_CLUSTERS, host="ratings:9080", path="/foo")


BAD_CONFIGS = {
    # name: (plugin config, path the message names, words the message must contain)
    "both shapes": ({"http": [], "rules": []}, "rules", ["not both"]),
    "negative weight": (
        route_config({"backendRefs": [backend("reviews-v1", 1), backend("reviews-v3", -1)]}),
        "rules[0].backendRefs[1].weight",
        ["-1"],
    ),
    "not a core Service": (
        route_config({"backendRefs": [{**backend("reviews-v1"), "kind": "ServiceImport"}]}),
        "rules[0].backendRefs[0].kind",
        ["core Services"],
    ),
    "rule filters": (
        route_config({"filters": [], "backendRefs": [backend("reviews-v1")]}),
        "rules[0].filters",
        ["not implemented"],
    ),
    "path with //": (
        route_config({"matches": [{"path": {"value": "/a//b"}}], "backendRefs": [backend("reviews-v1")]}),
        "rules[0].matches[0].path.value",
        ["//"],
    ),
    "unknown method": (
        route_config({"matches": [{"method": "FETCH"}], "backendRefs": [backend("reviews-v1")]}),
        "rules[0].matches[0].method",
        ["FETCH"],
    ),
}


@pytest.mark.parametrize("config,path,words", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_bad_gateway_configuration_stops_envoy_naming_the_field(module, config, path, words):
    assert_refused_naming(module, config, path, words)


def test_cluster_specifier_leaves_a_rule_without_backends_without_a_cluster(envoy_for):
    # The specifier cannot answer a request itself: the route keeps no cluster and Envoy answers 503
    # (the HTTP filter answers 500: tests/test_gateway_precedence_e2e.py).
    config = {"rules": [{"matches": [{"path": {"value": "/broken"}}]}, {"backendRefs": [backend("reviews-v1")]}]}
    envoy = envoy_for(None, routes=[lab.cluster_specifier_route(config)], clusters=SERVICE_CLUSTERS)
    for path, wanted in [("/broken/x", (503, None)), ("/reviews/0", (200, "v1"))]:
        answers = [lab.request(envoy.port, path=path) for _ in range(3)]
        assert [(a.status, a.headers.get("x-version")) for a in answers] == [wanted] * 3, path
