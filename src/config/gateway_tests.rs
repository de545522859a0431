//! The HTTPRoute shape's contract: what `rules` accept, how they route, and the paths errors name.

use super::tests::{assert_refusals, cluster_for, compile, refused};
use crate::router::StickyKey;
use serde_json::{json, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn backend(name: &str, weight: u64) -> Value {
    json!({"name": name, "port": 9080, "weight": weight})
}

fn one_rule(rule: Value) -> String {
    json!({"rules": [rule]}).to_string()
}

fn istio_cluster(service: &str) -> String {
    format!("outbound|9080||{service}.default.svc.cluster.local")
}

#[test]
fn a_fifty_fifty_route_between_two_services_compiles_to_istio_service_clusters() {
    let router = compile(json!({
        "parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
        "rules": [{"backendRefs": [backend("reviews-v1", 50), backend("reviews-v3", 50)]}]
    }));
    let entry = &router.entries[0];
    assert_eq!(entry.name, "rule-0");
    assert_eq!(
        entry.clusters(),
        [istio_cluster("reviews-v1"), istio_cluster("reviews-v3")]
    );
    assert_eq!(entry.weights(), [50, 50]);
    assert!(entry.rule.blocks.is_empty(), "no matches: every request");
}

#[test]
fn compiles_to_the_same_entry_as_the_virtual_service_shape() {
    let gateway = compile(json!({
        "hostnames": ["reviews"],
        "rules": [{"name": "shift", "sticky": {"cookie": "user"},
                   "matches": [{"path": {"type": "Exact", "value": "/reviews"},
                                "headers": [{"name": "end-user", "value": "jason"}]}],
                   "backendRefs": [backend("reviews-v1", 1), backend("reviews-v3", 3)]}]
    }));
    let destination = |service: &str, weight: u64| {
        json!({"destination": {"host": format!("{service}.default.svc.cluster.local"),
                               "port": {"number": 9080}}, "weight": weight})
    };
    let virtual_service = compile(json!({
        "hosts": ["reviews"],
        "http": [{"name": "shift", "sticky": {"cookie": "user"},
                  "match": [{"uri": {"exact": "/reviews"}, "headers": {"end-user": {"exact": "jason"}}}],
                  "route": [destination("reviews-v1", 1), destination("reviews-v3", 3)]}]
    }));
    // The same entry and hosts; only the HTTPRoute shape has a precedence order.
    assert_eq!(gateway.entries, virtual_service.entries);
    assert_eq!(gateway.host_sets, virtual_service.host_sets);
    assert_eq!(gateway.attributes, virtual_service.attributes);
    assert!(gateway.precedence.is_some() && virtual_service.precedence.is_none());
}

#[test]
fn weights_follow_gateway_api() {
    let defaulted = compile(json!({"rules": [{"backendRefs": [
        {"name": "reviews-v1", "port": 9080}, {"name": "reviews-v3", "port": 9080}
    ]}]}));
    assert_eq!(defaulted.entries[0].weights(), [1, 1]);
    let zero_allowed = compile(json!({"rules": [{"backendRefs": [
        backend("reviews-v1", 0), backend("reviews-v3", 1_000_000)
    ]}]}));
    assert_eq!(zero_allowed.entries[0].weights(), [0, 1_000_000]);
    // Unlike Istio's lone destination, a lone backend of weight 0 gets no traffic: refused.
    let lone_zero = one_rule(json!({"backendRefs": [backend("reviews-v1", 0)]}));
    assert!(
        refused(&lone_zero).contains("at rules[0].backendRefs: every destination has weight 0"),
        "{}",
        refused(&lone_zero)
    );
}

#[test]
fn namespaces_default_then_follow_the_top_level_key_then_the_ref() {
    let rule = json!({"backendRefs": [
        {"name": "reviews-v1", "port": 9080},
        {"name": "reviews-v3", "namespace": "canary", "port": 9080, "group": "", "kind": "Service"}
    ]});
    let default = compile(json!({"rules": [rule]}));
    assert_eq!(
        default.entries[0].clusters(),
        [
            "outbound|9080||reviews-v1.default.svc.cluster.local",
            "outbound|9080||reviews-v3.canary.svc.cluster.local"
        ]
    );
    let prod = compile(json!({"namespace": "prod", "rules": [rule]}));
    assert_eq!(
        prod.entries[0].clusters()[0],
        "outbound|9080||reviews-v1.prod.svc.cluster.local"
    );
    let tag = compile(json!({"clusterName": "{host}:{port}", "rules": [rule]}));
    assert_eq!(
        tag.entries[0].clusters()[0],
        "reviews-v1.default.svc.cluster.local:9080"
    );
}

#[test]
fn matches_route_requests() {
    let router = compile(json!({
        "hostnames": ["reviews", "*.example.com"],
        "rules": [
            {"name": "prefix", "matches": [{"path": {"value": "/api/"}}],
             "backendRefs": [backend("api", 1)]},
            {"name": "header-and-method", "matches": [{"method": "POST",
              "headers": [{"name": "End-User", "value": "jason"},
                          {"name": "x-build", "type": "RegularExpression", "value": "v[0-9]+"}]}],
             "backendRefs": [backend("jason", 1)]},
            {"name": "query-or-exact", "matches": [
                {"queryParams": [{"name": "canary", "value": "1"}]},
                {"path": {"type": "Exact", "value": "/exact"}}],
             "backendRefs": [backend("canary", 1)]},
            {"name": "regex-path", "matches": [{"path": {"type": "RegularExpression", "value": "/r/[0-9]+"}}],
             "backendRefs": [backend("regex", 1)]}
        ]
    }));
    let route = |headers: &[(&'static str, &'static [u8])]| {
        let mut request = vec![(":authority", b"reviews" as &[u8]), (":method", b"GET")];
        request.extend_from_slice(headers);
        cluster_for(&router, &request)
    };
    let api = Some(istio_cluster("api"));
    assert_eq!(route(&[(":path", b"/api")]), api);
    assert_eq!(route(&[(":path", b"/api/v1?x=1")]), api);
    assert_eq!(route(&[(":path", b"/apis")]), None, "segments, not bytes");
    let post = [
        (":method", b"POST" as &[u8]),
        ("end-user", b"jason"),
        ("x-build", b"v12"),
    ];
    let jason = cluster_for(
        &router,
        &[&[(":authority", b"a.example.com" as &[u8])], &post[..]].concat(),
    );
    assert_eq!(jason, Some(istio_cluster("jason")));
    assert_eq!(
        route(&[("end-user", b"jason"), ("x-build", b"v12")]),
        None,
        "GET is not POST"
    );
    assert_eq!(
        route(&[(":path", b"/x?canary=1")]),
        Some(istio_cluster("canary"))
    );
    assert_eq!(
        route(&[(":path", b"/exact")]),
        Some(istio_cluster("canary"))
    );
    assert_eq!(route(&[(":path", b"/exact/more")]), None);
    assert_eq!(route(&[(":path", b"/r/12")]), Some(istio_cluster("regex")));
    assert_eq!(
        cluster_for(&router, &[(":authority", b"ratings"), (":path", b"/api")]),
        None,
        "hostnames scope the rules like hosts"
    );
}

#[test]
fn default_and_empty_matches_apply_to_every_request() {
    for matches in [
        json!([]),
        json!([{}]),
        json!([{"path": {}}]),
        json!([{"path": {"value": "/"}}]),
    ] {
        let router =
            compile(json!({"rules": [{"matches": matches, "backendRefs": [backend("r", 1)]}]}));
        assert_eq!(
            cluster_for(&router, &[(":path", b"/anything/at/all")]),
            Some(istio_cluster("r")),
            "{matches}"
        );
    }
}

#[test]
fn names_sticky_and_top_level_keys_carry_over() {
    let router = compile(json!({
        "clusterHeader": "x-pick", "responseHeader": "x-picked", "hostnames": [],
        "rules": [{"name": "reviews", "sticky": {"header": "x-user-id"},
                   "backendRefs": [backend("reviews-v1", 1), backend("reviews-v3", 1)]}]
    }));
    assert_eq!(router.cluster_header, "x-pick");
    assert_eq!(router.response_header.as_deref(), Some("x-picked"));
    assert!(router.host_sets.is_empty(), "no hostnames: every authority");
    assert_eq!(router.entries[0].name, "reviews");
    assert!(matches!(
        router.entries[0].sticky,
        Some(StickyKey::Header { .. })
    ));
}

#[test]
fn errors_name_the_path_and_the_reason() {
    let two = |second: Value| one_rule(json!({"backendRefs": [backend("reviews-v1", 1), second]}));
    let cases = [
        (
            two(json!({"name": "reviews-v3", "port": 9080, "weight": -1})),
            "invalid configuration at rules[0].backendRefs[1].weight: expected a non-negative integer, got -1",
        ),
        (
            two(json!({"name": "reviews-v3", "port": 9080, "weight": 1_000_001})),
            "at rules[0].backendRefs[1].weight: expected an integer no larger than 1000000",
        ),
        (
            two(json!({"name": "reviews-v3"})),
            "at rules[0].backendRefs[1].port: missing; a backendRef to a Service needs its port",
        ),
        (
            two(json!({"name": "reviews-v3", "port": 9080, "kind": "ServiceImport"})),
            "at rules[0].backendRefs[1].kind: traffic-shift routes only to core Services",
        ),
        (
            two(json!({"name": "reviews-v3", "port": 9080, "group": "multicluster.x-k8s.io"})),
            "at rules[0].backendRefs[1].group: traffic-shift routes only to core Services",
        ),
        (
            two(json!({"name": "Reviews", "port": 9080})),
            "at rules[0].backendRefs[1].name: \"Reviews\" is not a valid Service name",
        ),
        (
            two(json!({"name": "reviews-v3", "port": 9080, "filters": []})),
            "at rules[0].backendRefs[1].filters: the HTTPRoute field \"filters\" is not implemented by traffic-shift",
        ),
        (
            one_rule(json!({"filters": [], "backendRefs": [backend("r", 1)]})),
            "at rules[0].filters: the HTTPRoute field \"filters\" is not implemented",
        ),
        (
            one_rule(json!({"timeouts": {"request": "1s"}, "backendRefs": [backend("r", 1)]})),
            "at rules[0].timeouts: the HTTPRoute field \"timeouts\" is not implemented",
        ),
        (
            one_rule(json!({"retry": {}, "backendRefs": [backend("r", 1)]})),
            "at rules[0].retry: the HTTPRoute field \"retry\" is not implemented",
        ),
        (
            one_rule(json!({"sessionPersistence": {}, "backendRefs": [backend("r", 1)]})),
            "at rules[0].sessionPersistence: the HTTPRoute field \"sessionPersistence\" is not implemented",
        ),
        (
            one_rule(json!({"backendRef": []})),
            "at rules[0].backendRef: unknown field \"backendRef\" (did you mean \"backendRefs\"?)",
        ),
        (
            one_rule(json!({"sticky": {"header": "x-user"}})),
            "at rules[0].sticky: a rule without backendRefs answers 500 and has no backend to choose between",
        ),
        (
            json!({"http": [], "rules": []}).to_string(),
            "at rules: give either http (the VirtualService shape) or rules (the HTTPRoute shape), not both",
        ),
        (
            json!({"hosts": ["reviews"], "hostnames": ["reviews"]}).to_string(),
            "at hostnames: \"hostnames\" belongs to the HTTPRoute shape",
        ),
        (
            json!({"namespace": "Prod"}).to_string(),
            "at namespace: \"Prod\" is not a valid namespace name",
        ),
        (
            json!({"parentRefs": {"name": "reviews"}}).to_string(),
            "at parentRefs: expected an array, got an object",
        ),
        (
            json!({"rules": [{"name": "a", "backendRefs": [backend("r", 1)]},
                             {"name": "a", "backendRefs": [backend("r", 1)]}]}).to_string(),
            "at rules[1].name: \"a\" names an earlier entry too",
        ),
    ];
    assert_refusals(&cases);
}

#[test]
fn match_errors_name_the_path_and_the_reason() {
    let with = |one_match: Value| {
        one_rule(json!({"matches": [{}, one_match], "backendRefs": [backend("r", 1)]}))
    };
    let cases = [
        (
            with(json!({"path": {"type": "Prefix", "value": "/a"}})),
            "at rules[0].matches[1].path.type: \"Prefix\" is not a match type here; expected one of: Exact, PathPrefix, RegularExpression",
        ),
        (
            with(json!({"path": {"value": "api"}})),
            "at rules[0].matches[1].path.value: must be an absolute path starting with \"/\"",
        ),
        (
            with(json!({"path": {"type": "Exact", "value": "/a//b"}})),
            "at rules[0].matches[1].path.value: must not contain \"//\"",
        ),
        (
            with(json!({"path": {"value": "/a/.."}})),
            "at rules[0].matches[1].path.value: must not end with \"/..\"",
        ),
        (
            with(json!({"path": {"value": "/a b"}})),
            "at rules[0].matches[1].path.value: may only hold the characters of a URL path",
        ),
        (
            with(json!({"path": {"type": "RegularExpression", "value": "(unclosed"}})),
            "at rules[0].matches[1].path.value: invalid regex",
        ),
        (
            with(json!({"headers": [{"name": "end-user"}]})),
            "at rules[0].matches[1].headers[0].value: missing",
        ),
        (
            with(json!({"headers": [{"name": "End-User", "value": "a"}, {"name": "end-user", "value": "b"}]})),
            "at rules[0].matches[1].headers[1].name: \"end-user\" is matched by an earlier entry of this list",
        ),
        (
            with(json!({"headers": [{"name": ":authority", "value": "a"}]})),
            "at rules[0].matches[1].headers[0].name: \":authority\" is not a valid header name",
        ),
        (
            with(json!({"headers": [{"name": "x", "value": "a", "type": "Prefix"}]})),
            "at rules[0].matches[1].headers[0].type: \"Prefix\" is not a match type here; expected one of: Exact, RegularExpression",
        ),
        (
            with(json!({"queryParams": [{"name": "q", "value": ""}]})),
            "at rules[0].matches[1].queryParams[0].value: must not be empty",
        ),
        (
            with(json!({"queryParams": {"q": "1"}})),
            "at rules[0].matches[1].queryParams: expected an array, got an object",
        ),
        (
            with(json!({"method": "get"})),
            "at rules[0].matches[1].method: \"get\" is not a Gateway API method",
        ),
        (
            with(json!({"uri": {"prefix": "/"}})),
            "at rules[0].matches[1].uri: unknown field \"uri\"; expected one of: path, headers, queryParams, method",
        ),
    ];
    assert_refusals(&cases);
}
