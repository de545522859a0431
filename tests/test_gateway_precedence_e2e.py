"""Gateway API precedence, end to end in a real Envoy 1.40, both builds of the filter. The plugin
configuration is a list of whole HTTPRoute objects (as `kubectl get httproute -o json` prints them, status
and all), one route per scenario, each scenario on its own hostnames: cases written after the conformance
suite's matching, path order, header, query-parameter and method matching, matching across routes, ties
between routes (oldest first) and rules without backendRefs. The rules are listed in an order that first-match
would get wrong, so each case checks the precedence, not the list."""

import pytest

from tools import envoylab as lab

from conftest import BOTH_SHELLS

pytestmark = BOTH_SHELLS

NAMESPACE = "gateway-conformance-infra"
BACKENDS = {"infra-backend-v%d" % i: "v%d" % i for i in (1, 2, 3)}
CLUSTERS = {"outbound|8080||%s.%s.svc.cluster.local" % (name, NAMESPACE): version for name, version in BACKENDS.items()}


def path(kind, value):
    return {"path": {"type": kind, "value": value}}


def headers(**pairs):
    return {"headers": [{"name": name, "value": value} for name, value in pairs.items()]}


def query(**pairs):
    return {"queryParams": [{"name": name, "value": value} for name, value in pairs.items()]}


def rule(matches, backend=None):
    found = {"matches": matches}
    if backend:
        found["backendRefs"] = [{"name": backend, "port": 8080}]
    return found


def route(name, hostnames, rules, created="2026-01-01T00:00:00Z"):
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "creationTimestamp": created,
            "uid": "0f1e2d3c",
            "generation": 1,
        },
        "spec": {"parentRefs": [{"name": "same-namespace"}], "hostnames": hostnames, "rules": rules},
        "status": {"parents": [{"parentRef": {"name": "same-namespace"}, "controllerName": "example.com/gw"}]},
    }


V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"
ROUTES = [
    # The shortest prefix is written first.
    route(
        "matching",
        ["matching.test"],
        [
            rule([path("PathPrefix", "/")], V1),
            rule([path("PathPrefix", "/v2")], V2),
        ],
    ),
    # Each rule mixes a prefix and an exact path; every match ranks on its own.
    route(
        "path-order",
        ["path-order.test"],
        [
            rule([path("PathPrefix", "/match"), path("Exact", "/match/exact/one")], V3),
            rule([path("PathPrefix", "/match/prefix"), path("Exact", "/match")], V1),
            rule([path("PathPrefix", "/match/prefix/one"), path("Exact", "/match/exact")], V2),
        ],
    ),
    route(
        "header-matching",
        ["headers.test"],
        [
            rule([headers(version="two")], V2),
            rule([headers(version="two", color="orange")], V3),
            rule([headers(version="one")], V1),
        ],
    ),
    route(
        "query-param-matching",
        ["query.test"],
        [
            rule([query(animal="whale")], V1),
            rule([query(animal="whale", color="blue")], V3),
            rule([query(animal="dolphin")], V2),
        ],
    ),
    route(
        "method-matching",
        ["method.test"],
        [
            rule([path("PathPrefix", "/path1")], V3),
            rule([{"method": "POST"}], V1),
            rule([{"method": "GET"}], V2),
        ],
    ),
    # The conformance suite's two routes: the wildcard route's longer prefix and header match win on
    # example.com, over the older exact-hostname route's `/`.
    route(
        "matching-part1",
        ["example.com", "example.net"],
        [
            rule([path("PathPrefix", "/"), headers(version="one")], V1),
        ],
    ),
    route(
        "matching-part2",
        ["*.com"],
        [
            rule([path("PathPrefix", "/v2"), headers(version="two")], V2),
        ],
        created="2026-01-02T00:00:00Z",
    ),
    # Equal matches in two routes: the older one wins though it is listed second.
    route("a-newer", ["age.test"], [rule([path("PathPrefix", "/")], V1)], created="2026-02-01T00:00:00Z"),
    route("z-older", ["age.test"], [rule([path("PathPrefix", "/")], V2)], created="2026-01-15T00:00:00Z"),
    # A rule without backendRefs takes its requests and answers 500; no fall through to `/`.
    route(
        "no-backends",
        ["broken.test"],
        [
            rule([path("PathPrefix", "/")], V1),
            rule([path("PathPrefix", "/broken")]),
            rule([path("Exact", "/broken/fixed")], V2),
        ],
    ),
]

# (host, request options, backend or None for "no route" or 500 for the rule without backends)
CASES = [
    ("matching.test", {"path": "/"}, V1),
    ("matching.test", {"path": "/example"}, V1),
    ("matching.test", {"path": "/v2"}, V2),
    ("matching.test", {"path": "/v2/example"}, V2),
    ("matching.test", {"path": "/v2example"}, V1),
    ("path-order.test", {"path": "/match/exact/one"}, V3),
    ("path-order.test", {"path": "/match/exact"}, V2),
    ("path-order.test", {"path": "/match"}, V1),
    ("path-order.test", {"path": "/match/prefix/one/any"}, V2),
    ("path-order.test", {"path": "/match/prefix/any"}, V1),
    ("path-order.test", {"path": "/match/any"}, V3),
    ("path-order.test", {"path": "/other"}, None),
    ("headers.test", {"headers": {"version": "one"}}, V1),
    ("headers.test", {"headers": {"Version": "two"}}, V2),
    ("headers.test", {"headers": {"version": "two", "color": "orange"}}, V3),
    ("headers.test", {"headers": {"version": "two", "color": "blue"}}, V2),
    ("headers.test", {"headers": {"color": "orange"}}, None),
    ("query.test", {"path": "/?animal=whale"}, V1),
    ("query.test", {"path": "/?animal=whale&color=blue"}, V3),
    ("query.test", {"path": "/?color=blue&animal=dolphin"}, V2),
    ("query.test", {"path": "/?color=blue"}, None),
    ("method.test", {"method": "POST"}, V1),
    ("method.test", {"method": "GET"}, V2),
    ("method.test", {"method": "POST", "path": "/path1"}, V3),
    ("method.test", {"method": "GET", "path": "/path1/x"}, V3),
    ("method.test", {"method": "DELETE"}, None),
    ("example.com", {"path": "/"}, V1),
    ("example.com", {"path": "/example"}, V1),
    ("example.net", {"path": "/example"}, V1),
    ("example.com", {"path": "/example", "headers": {"version": "one"}}, V1),
    ("example.com", {"path": "/v2"}, V2),
    ("example.net", {"path": "/v2"}, V1),
    ("example.com", {"path": "/v2/example"}, V2),
    ("example.com", {"path": "/", "headers": {"version": "two"}}, V2),
    ("age.test", {"path": "/"}, V2),
    ("broken.test", {"path": "/"}, V1),
    ("broken.test", {"path": "/broken"}, 500),
    ("broken.test", {"path": "/broken/x"}, 500),
    ("broken.test", {"path": "/broken/fixed"}, V2),
    ("unknown.test", {"path": "/"}, None),
]


def case_id(case):
    host, options, backend = case
    return "%s %s %s %s -> %s" % (
        host,
        options.get("method", "GET"),
        options.get("path", "/"),
        options.get("headers", ""),
        backend,
    )


def outcome(answer):
    return answer.status, answer.headers.get("x-version")


@pytest.mark.parametrize("host,options,backend", CASES, ids=[case_id(c) for c in CASES])
def test_precedence_picks_the_backend(envoy_for, host, options, backend):
    envoy = envoy_for(ROUTES, clusters=CLUSTERS)
    answers = [outcome(lab.request(envoy.port, host=host, **options)) for _ in range(3)]
    # No route: the route Envoy keeps has no cluster (503); no backends: the filter's own 500.
    wanted = {None: (503, None), 500: (500, None)}.get(backend) or (200, BACKENDS.get(backend))
    assert answers == [wanted] * 3
