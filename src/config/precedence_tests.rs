//! Gateway API's precedence across rules and routes, whole HTTPRoute objects and lists of them, and
//! rules without backendRefs. Cases written after the conformance suite's (matching, path order,
//! header, query-parameter and method matching, matching across routes, no backendRefs).

use super::parse;
use super::tests::{assert_refusals, compile};
use crate::random::SplitMix64;
use crate::router::Router;
use crate::test_kit::FakeRequest;
use serde_json::{json, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn to(service: &str) -> Value {
    json!([{"name": service, "port": 8080}])
}

fn rule(matches: Value, service: &str) -> Value {
    json!({"matches": matches, "backendRefs": to(service)})
}

/// The Service a request reaches ("500" for a rule without backends), or None.
fn reached(router: &Router, headers: &[(&'static str, &'static [u8])]) -> Option<String> {
    let request = FakeRequest::new(headers);
    let decision = router.decide(&request, &mut SplitMix64::new(1))?;
    if router.has_no_backend(decision) {
        return Some("500".to_string());
    }
    let cluster = router.cluster(decision)?;
    // outbound|8080||<service>.<namespace>.svc.cluster.local
    let host = cluster.rsplit('|').next()?;
    Some(host.split('.').next()?.to_string())
}

fn path(router: &Router, path: &'static str) -> Option<String> {
    reached(router, &[(":path", path.as_bytes()), (":method", b"GET")])
}

#[test]
fn a_longer_prefix_wins_whatever_the_rule_order() {
    let router = compile(json!({"rules": [
        rule(json!([{"path": {"type": "PathPrefix", "value": "/"}}]), "v1"),
        rule(json!([{"path": {"type": "PathPrefix", "value": "/v2"}}]), "v2"),
    ]}));
    assert_eq!(path(&router, "/").as_deref(), Some("v1"));
    assert_eq!(path(&router, "/v2").as_deref(), Some("v2"));
    assert_eq!(path(&router, "/v2/example").as_deref(), Some("v2"));
    assert_eq!(path(&router, "/v2example").as_deref(), Some("v1"));
}

#[test]
fn exact_before_any_prefix_and_each_match_of_a_rule_ranks_alone() {
    // Written shortest first: the order must come from the paths, not the list.
    let router = compile(json!({"rules": [
        rule(json!([{"path": {"type": "PathPrefix", "value": "/match"}},
                    {"path": {"type": "Exact", "value": "/match/exact/one"}}]), "v3"),
        rule(json!([{"path": {"type": "PathPrefix", "value": "/match/prefix"}},
                    {"path": {"type": "Exact", "value": "/match"}}]), "v1"),
        rule(json!([{"path": {"type": "PathPrefix", "value": "/match/prefix/one"}},
                    {"path": {"type": "Exact", "value": "/match/exact"}}]), "v2"),
    ]}));
    for (request, service) in [
        ("/match/exact/one", "v3"),
        ("/match/exact", "v2"),
        ("/match", "v1"),
        ("/match/prefix/one/any", "v2"),
        ("/match/prefix/any", "v1"),
        ("/match/any", "v3"),
    ] {
        assert_eq!(
            path(&router, request).as_deref(),
            Some(service),
            "{request}"
        );
    }
}

#[test]
fn method_then_headers_then_query_parameters() {
    let router = compile(json!({"rules": [
        rule(json!([{"path": {"value": "/"}}]), "plain"),
        rule(json!([{"queryParams": [{"name": "a", "value": "1"}]}]), "one-query"),
        rule(json!([{"queryParams": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]}]), "two-queries"),
        rule(json!([{"headers": [{"name": "version", "value": "two"}]}]), "one-header"),
        rule(json!([{"headers": [{"name": "version", "value": "two"}, {"name": "color", "value": "orange"}]}]), "two-headers"),
        rule(json!([{"method": "POST"}]), "post"),
        rule(json!([{"path": {"value": "/longer"}}]), "longer"),
    ]}));
    let get = |headers: &[(&'static str, &'static [u8])]| {
        let mut request = vec![(":method", b"GET" as &[u8]), (":path", b"/")];
        request.retain(|(name, _)| !headers.iter().any(|(n, _)| n == name));
        request.extend_from_slice(headers);
        reached(&router, &request)
    };
    assert_eq!(get(&[]).as_deref(), Some("plain"));
    assert_eq!(get(&[(":path", b"/?a=1")]).as_deref(), Some("one-query"));
    assert_eq!(
        get(&[(":path", b"/?a=1&b=2")]).as_deref(),
        Some("two-queries")
    );
    assert_eq!(
        get(&[(":path", b"/?a=1&b=2"), ("version", b"two")]).as_deref(),
        Some("one-header"),
        "a header outranks query parameters"
    );
    assert_eq!(
        get(&[("version", b"two"), ("color", b"orange")]).as_deref(),
        Some("two-headers")
    );
    assert_eq!(
        get(&[
            (":method", b"POST"),
            ("version", b"two"),
            ("color", b"orange")
        ])
        .as_deref(),
        Some("post"),
        "a method outranks headers"
    );
    assert_eq!(
        get(&[(":method", b"POST"), (":path", b"/longer")]).as_deref(),
        Some("longer"),
        "a longer path outranks a method"
    );
}

#[test]
fn regular_expression_paths_come_after_every_prefix() {
    let router = compile(json!({"rules": [
        rule(json!([{"path": {"type": "RegularExpression", "value": "/items/[0-9]+"}}]), "regex"),
        rule(json!([{"path": {"value": "/"}}]), "root"),
    ]}));
    assert_eq!(path(&router, "/items/1").as_deref(), Some("root"));
}

#[test]
fn equal_matches_keep_rule_order() {
    let router = compile(json!({"rules": [
        rule(json!([{"headers": [{"name": "x", "value": "1"}]}]), "first"),
        rule(json!([{"headers": [{"name": "x", "type": "RegularExpression", "value": ".*"}]}]), "second"),
    ]}));
    assert_eq!(
        reached(&router, &[(":path", b"/"), ("x", b"1")]).as_deref(),
        Some("first")
    );
    assert_eq!(
        reached(&router, &[(":path", b"/"), ("x", b"2")]).as_deref(),
        Some("second")
    );
}

#[test]
fn a_rule_without_backend_refs_takes_its_requests_and_answers_500() {
    for no_backends in [
        json!({"matches": [{"path": {"value": "/broken"}}]}),
        json!({"matches": [{"path": {"value": "/broken"}}], "backendRefs": []}),
    ] {
        let router = compile(json!({"rules": [
            rule(json!([{"path": {"value": "/"}}]), "v1"),
            no_backends,
            rule(json!([{"path": {"type": "Exact", "value": "/broken/fixed"}}]), "v2"),
        ]}));
        assert_eq!(path(&router, "/").as_deref(), Some("v1"));
        assert_eq!(
            path(&router, "/broken/x").as_deref(),
            Some("500"),
            "no fall through to /"
        );
        assert_eq!(path(&router, "/broken/fixed").as_deref(), Some("v2"));
        let decision = router.decide(
            &FakeRequest::new(&[(":path", b"/broken")]),
            &mut SplitMix64::new(1),
        );
        assert_eq!(
            decision.and_then(|d| router.cluster(d)).as_deref(),
            None,
            "no cluster to name"
        );
    }
}

fn object(name: &str, created: Option<&str>, spec: Value) -> Value {
    let mut metadata = json!({"name": name, "namespace": "gateway-conformance-infra",
                              "uid": "ignored", "resourceVersion": "7"});
    if let Some(created) = created {
        metadata["creationTimestamp"] = json!(created);
    }
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
           "metadata": metadata, "spec": spec, "status": {"parents": []}})
}

#[test]
fn matching_across_routes_follows_the_conformance_case() {
    let router = compile(json!([
        object(
            "matching-part1",
            None,
            json!({"parentRefs": [{"name": "same-namespace"}],
            "hostnames": ["example.com", "example.net"],
            "rules": [rule(json!([{"path": {"type": "PathPrefix", "value": "/"}},
                                  {"headers": [{"name": "version", "value": "one"}]}]), "infra-backend-v1")]})
        ),
        object(
            "matching-part2",
            None,
            json!({"hostnames": ["*.com"],
            "rules": [rule(json!([{"path": {"type": "PathPrefix", "value": "/v2"}},
                                  {"headers": [{"name": "version", "value": "two"}]}]), "infra-backend-v2")]})
        ),
    ]));
    let at = |host: &'static str, path: &'static str, version: Option<&'static str>| {
        let mut request = vec![(":authority", host.as_bytes()), (":path", path.as_bytes())];
        if let Some(version) = version {
            request.push(("version", version.as_bytes()));
        }
        reached(&router, &request)
    };
    let v1 = Some("infra-backend-v1".to_string());
    let v2 = Some("infra-backend-v2".to_string());
    assert_eq!(at("example.com", "/", None), v1);
    assert_eq!(at("example.com", "/example", None), v1);
    assert_eq!(at("example.net", "/example", None), v1);
    assert_eq!(at("example.com", "/example", Some("one")), v1);
    assert_eq!(at("example.com", "/v2", None), v2);
    assert_eq!(
        at("example.net", "/v2", None),
        v1,
        "*.com does not cover example.net"
    );
    assert_eq!(at("example.com", "/v2/example", None), v2);
    assert_eq!(at("example.com", "/", Some("two")), v2);
    assert_eq!(at("example.org", "/", None), None);
    // The route's namespace is its backendRefs' namespace.
    let decision = router.decide(
        &FakeRequest::new(&[(":authority", b"example.com"), (":path", b"/")]),
        &mut SplitMix64::new(1),
    );
    assert_eq!(
        decision.and_then(|d| router.cluster(d)).as_deref(),
        Some("outbound|8080||infra-backend-v1.gateway-conformance-infra.svc.cluster.local")
    );
}

#[test]
fn ties_across_routes_go_to_the_oldest_then_namespace_and_name() {
    let same = |service| json!({"rules": [rule(json!([{"path": {"value": "/"}}]), service)]});
    let newer_first = compile(json!([
        object("a-newer", Some("2026-01-02T00:00:00Z"), same("newer")),
        object("z-older", Some("2026-01-01T00:00:00Z"), same("older")),
    ]));
    assert_eq!(path(&newer_first, "/").as_deref(), Some("older"));
    let same_time = compile(json!([
        object("b", Some("2026-01-01T00:00:00Z"), same("b")),
        object("a", Some("2026-01-01T00:00:00Z"), same("a")),
    ]));
    assert_eq!(path(&same_time, "/").as_deref(), Some("a"));
    // "{namespace}/{name}" as one string: "a-b/y" sorts before "a/x".
    let mut in_a = object("x", None, same("in-a"));
    in_a["metadata"]["namespace"] = json!("a");
    let mut in_a_b = object("y", None, same("in-a-b"));
    in_a_b["metadata"]["namespace"] = json!("a-b");
    assert_eq!(
        path(&compile(json!([in_a, in_a_b])), "/").as_deref(),
        Some("in-a-b")
    );
    // Without metadata (bare specs) the list's order stands in for age.
    let specs = compile(json!([same("first"), same("second")]));
    assert_eq!(path(&specs, "/").as_deref(), Some("first"));
    // A more precise match of a newer route still wins.
    let precise = compile(json!([
        object("old", Some("2020-01-01T00:00:00Z"), same("old")),
        object(
            "new",
            Some("2026-01-01T00:00:00Z"),
            json!({"rules": [rule(json!([{"path": {"value": "/x"}}]), "new")]})
        ),
    ]));
    assert_eq!(path(&precise, "/x").as_deref(), Some("new"));
}

#[test]
fn one_whole_object_is_a_configuration() {
    let router = compile(object(
        "reviews",
        Some("2026-01-01T00:00:00Z"),
        json!({
        "parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
        "rules": [{"backendRefs": [{"name": "reviews-v1", "port": 9080}]}]}),
    ));
    assert_eq!(router.entries[0].name, "rule-0");
    assert_eq!(
        router.entries[0].clusters(),
        ["outbound|9080||reviews-v1.gateway-conformance-infra.svc.cluster.local"]
    );
    // Rules of routes in a list are named after their route, so names stay unique.
    let list = compile(json!([
        object("a", None, json!({"rules": [{"backendRefs": to("x")}]})),
        object("b", None, json!({"rules": [{"backendRefs": to("y")}]}))
    ]));
    let names: Vec<&str> = list.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["a/rule-0", "b/rule-0"]);
}

#[test]
fn documents_that_are_refused() {
    let spec = json!({"rules": [{"backendRefs": to("x")}]});
    let dated = object("a", Some("2026-01-01T00:00:00Z"), spec.clone());
    let undated = object("b", None, spec.clone());
    let mut wrong_version = object("a", None, spec.clone());
    wrong_version["apiVersion"] = json!("networking.istio.io/v1");
    let mut bad_time = object("a", None, spec.clone());
    bad_time["metadata"]["creationTimestamp"] = json!("yesterday");
    let mut spec_namespace = object("a", None, spec.clone());
    spec_namespace["spec"]["namespace"] = json!("other");
    let virtual_service =
        json!({"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]});
    assert_refusals(&[
        (
            json!([dated, undated]).to_string(),
            "at [1]: has no metadata.creationTimestamp while other routes have one",
        ),
        (
            json!([
                object("a", None, spec.clone()),
                object("a", None, spec.clone())
            ])
            .to_string(),
            "at [1].metadata.name: gateway-conformance-infra/a is an earlier route's name too",
        ),
        (
            json!([wrong_version]).to_string(),
            "at [0].apiVersion: \"networking.istio.io/v1\" is not a Gateway API version",
        ),
        (
            json!([bad_time]).to_string(),
            "at [0].metadata.creationTimestamp: \"yesterday\" is not an RFC 3339 time",
        ),
        (
            json!([spec_namespace]).to_string(),
            "at [0].spec.namespace: unknown field",
        ),
        (
            json!([spec.clone(), virtual_service]).to_string(),
            "at [1]: mixes VirtualServices and HTTPRoutes",
        ),
        (
            json!([spec.clone(), {"kind": "VirtualService"}]).to_string(),
            "at [1]: mixes VirtualServices and HTTPRoutes",
        ),
        (
            json!([{"rules": [{"backendRefs": to("x")}], "clusterName": "{host}"}]).to_string(),
            "at [0].clusterName: unknown field",
        ),
    ]);
}

#[test]
fn the_virtual_service_shape_keeps_first_match_order() {
    let router = parse(
        json!({"http": [
            {"match": [{"uri": {"prefix": "/"}}], "route": [{"destination": {"host": "first"}}]},
            {"match": [{"uri": {"exact": "/x"}}], "route": [{"destination": {"host": "second"}}]}
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert!(router.precedence.is_none());
    let decision = router
        .decide(
            &FakeRequest::new(&[(":path", b"/x")]),
            &mut SplitMix64::new(1),
        )
        .unwrap();
    assert_eq!(decision.entry, 0);
}

#[test]
fn a_route_without_hostnames_competes_for_every_authority() {
    let router = compile(json!([
        {"hostnames": ["a.test"], "rules": [rule(json!([{"path": {"value": "/a"}}]), "a")]},
        {"rules": [rule(json!([{"path": {"value": "/"}}]), "any")]},
    ]));
    let at = |host: &'static str, path: &'static str| {
        reached(
            &router,
            &[(":authority", host.as_bytes()), (":path", path.as_bytes())],
        )
    };
    assert_eq!(at("a.test", "/a/1").as_deref(), Some("a"));
    assert_eq!(at("a.test:8080", "/x").as_deref(), Some("any"));
    assert_eq!(at("b.test", "/a/1").as_deref(), Some("any"));
    let names: Vec<&str> = router.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["route-0/rule-0", "route-1/rule-0"]);
}
