//! The configuration contract: what is accepted, what is refused, and the path each error names.

use super::parse;
use crate::random::SplitMix64;
use crate::router::{Router, StickyKey};
use crate::test_kit::FakeRequest;
use serde_json::{json, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

pub(super) fn compile(config: Value) -> Router {
    parse(config.to_string().as_bytes()).unwrap()
}

/// The error line for a configuration that must be refused.
pub(super) fn refused(config: &str) -> String {
    parse(config.as_bytes()).unwrap_err().to_string()
}

fn route(subset: &str, weight: Value) -> Value {
    json!({"destination": {"host": "reviews.default.svc.cluster.local", "subset": subset, "port": {"number": 9080}}, "weight": weight})
}

fn one_entry(entry: Value) -> String {
    json!({"http": [entry]}).to_string()
}

/// Each configuration is refused with one error line containing its expected text.
pub(super) fn assert_refusals(cases: &[(String, &str)]) {
    for (config, expected) in cases {
        let message = refused(config);
        assert!(
            message.contains(expected),
            "{config}\n  gave: {message}\n  want: {expected}"
        );
        assert!(
            message.starts_with("invalid configuration at "),
            "{message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
    }
}

pub(super) fn cluster_for(
    router: &Router,
    headers: &[(&'static str, &'static [u8])],
) -> Option<String> {
    let request = FakeRequest::new(headers);
    let decision = router.decide(&request, &mut SplitMix64::new(3))?;
    router.cluster(decision).map(String::from)
}

#[test]
fn a_fifty_fifty_split_between_subsets_compiles_to_istio_cluster_names() {
    let router = compile(json!({
        "clusterHeader": "x-traffic-shift-cluster",
        "clusterName": "outbound|{port}|{subset}|{host}",
        "http": [{"name": "reviews-shift", "route": [route("v1", json!(50)), route("v3", json!(50))]}]
    }));
    assert_eq!(router.cluster_header, "x-traffic-shift-cluster");
    let entry = &router.entries[0];
    assert_eq!(entry.name, "reviews-shift");
    assert_eq!(
        entry.clusters(),
        [
            "outbound|9080|v1|reviews.default.svc.cluster.local",
            "outbound|9080|v3|reviews.default.svc.cluster.local"
        ]
    );
    assert_eq!(entry.weights(), [50, 50]);
}

#[test]
fn empty_configurations_route_nothing() {
    for empty in ["", "  \n", "{}"] {
        let router = parse(empty.as_bytes()).unwrap();
        assert!(router.entries.is_empty());
        assert_eq!(router.cluster_header, "x-traffic-shift-cluster");
        assert_eq!(cluster_for(&router, &[(":authority", b"reviews")]), None);
    }
    assert!(compile(json!({"http": []})).entries.is_empty());
}

#[test]
fn weights_follow_istio() {
    let lone = compile(json!({"http": [{"route": [{"destination": {"host": "reviews"}}]}]}));
    assert_eq!(lone.entries[0].weights(), [1]);
    let lone_zero = compile(json!({"http": [{"route": [route("v1", json!(0))]}]}));
    assert_eq!(lone_zero.entries[0].weights(), [1]);
    let missing_is_zero = compile(json!({"http": [{"route": [
        route("v1", json!(1)),
        {"destination": {"host": "reviews", "subset": "v2"}}
    ]}]}));
    assert_eq!(missing_is_zero.entries[0].weights(), [1, 0]);
    // Istio's weight is an int32: the largest is 2147483647, and totals may exceed it.
    let huge = compile(
        json!({"http": [{"route": [route("v1", json!(2_147_483_647u64)), route("v2", json!(2_147_483_647u64))]}]}),
    );
    assert_eq!(huge.entries[0].choice.total(), 2 * 2_147_483_647u64);
}

#[test]
fn errors_name_the_path_and_the_reason() {
    let cases = [
        (
            one_entry(json!({"route": [route("v1", json!(50)), route("v3", json!(-5))]})),
            "invalid configuration at http[0].route[1].weight: expected a non-negative integer, got -5",
        ),
        (
            one_entry(json!({"route": [route("v1", json!(2_147_483_648u64))]})),
            "at http[0].route[0].weight: expected an integer no larger than 2147483647, got 2147483648",
        ),
        (
            one_entry(json!({"route": [route("v1", json!("50"))]})),
            "at http[0].route[0].weight: expected a non-negative integer, got the string \"50\"",
        ),
        (
            one_entry(json!({"route": [{"destination": {"subset": "v1"}}]})),
            "at http[0].route[0].destination.host: missing; every destination needs a host",
        ),
        (
            one_entry(json!({"route": [{"destination": {"host": "r"}, "wieght": 5}]})),
            "at http[0].route[0].wieght: unknown field \"wieght\" (did you mean \"weight\"?)",
        ),
        (
            one_entry(json!({"route": [route("v1", json!(0)), route("v2", json!(0))]})),
            "at http[0].route: every destination has weight 0",
        ),
        (
            one_entry(json!({"route": []})),
            "at http[0].route: needs at least one destination",
        ),
        (one_entry(json!({"name": "x"})), "at http[0].route: missing"),
        (
            json!({"http": {}}).to_string(),
            "at http: expected an array, got an object",
        ),
        ("[1]".to_string(), "at [0]: expected an object, got 1"),
        ("{\"http\": [".to_string(), "at http: not valid JSON: EOF while parsing a list"),
        (
            json!({"clusterHeader": "X-Cluster"}).to_string(),
            "at clusterHeader: header names must be lowercase: write \"x-cluster\"",
        ),
        (
            json!({"clusterHeader": ":authority"}).to_string(),
            "at clusterHeader: \":authority\" cannot be set by the filter",
        ),
        (
            json!({"clusterName": "{hots}"}).to_string(),
            "at clusterName: unknown placeholder \"{hots}\"",
        ),
        (
            json!({"clusterName": "{subset}", "http": [{"route": [{"destination": {"host": "r"}}]}]}).to_string(),
            "at http[0].route[0].destination: the clusterName template renders an empty cluster name",
        ),
        (
            one_entry(json!({"route": [{"destination": {"host": "r", "port": {"number": 70000}}}]})),
            "at http[0].route[0].destination.port.number: expected an integer no larger than 65535",
        ),
        (
            one_entry(json!({"timeout": "5s", "route": [route("v1", json!(1))]})),
            "at http[0].timeout: the VirtualService field \"timeout\" is not implemented by traffic-shift",
        ),
        (
            json!({"gateways": ["mesh"]}).to_string(),
            "at gateways: the VirtualService field \"gateways\" is not implemented",
        ),
        (
            json!({"hosts": []}).to_string(),
            "at hosts: lists no host",
        ),
        (
            json!({"hosts": ["re views"]}).to_string(),
            "at hosts[0]: \"re views\" is not a host name",
        ),
        (
            json!({"http": [{"name": "a", "route": [route("v1", json!(1))]}, {"name": "a", "route": [route("v1", json!(1))]}]}).to_string(),
            "at http[1].name: \"a\" names an earlier entry too",
        ),
        (
            one_entry(json!({"match": [{"uri": {"regex": "/r(.*"}}], "route": [route("v1", json!(1))]})),
            "at http[0].match[0].uri.regex: invalid regex",
        ),
        (
            one_entry(json!({"match": [{"uri": {"exact": "/a", "prefix": "/b"}}], "route": [route("v1", json!(1))]})),
            "at http[0].match[0].uri: give only one of exact, prefix or regex",
        ),
        (
            one_entry(json!({"match": [{"uri": {}}], "route": [route("v1", json!(1))]})),
            "at http[0].match[0].uri: expected one of exact, prefix or regex",
        ),
        (
            one_entry(json!({"match": [{"port": 9080}], "route": [route("v1", json!(1))]})),
            "at http[0].match[0].port: the VirtualService field \"port\" is not implemented",
        ),
        (
            one_entry(json!({"match": [{"ignoreUriCase": "yes"}], "route": [route("v1", json!(1))]})),
            "at http[0].match[0].ignoreUriCase: expected true or false",
        ),
        (
            one_entry(json!({"sticky": {"header": "x-user", "cookie": "u"}, "route": [route("v1", json!(1))]})),
            "at http[0].sticky: give exactly one of header or cookie",
        ),
        (
            json!({"clusterHeader": "\r\n"}).to_string(),
            "at clusterHeader: \"\\r\\n\" is not a valid header name",
        ),
        (
            json!({"a\nb": 1}).to_string(),
            "at [\"a\\nb\"]: unknown field \"a\\nb\"",
        ),
        (
            one_entry(json!({"sticky": {"cookie": "a b"}, "route": [route("v1", json!(1))]})),
            "at http[0].sticky.cookie: \"a b\" is not a valid cookie name",
        ),
    ];
    assert_refusals(&cases);
}

#[test]
fn matching_and_hosts_route_requests() {
    let router = compile(json!({
        "hosts": ["reviews"],
        "http": [
            {"name": "jason", "match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [route("v2", json!(1))]},
            {"name": "api", "match": [{"uri": {"prefix": "/api"}, "method": {"exact": "POST"}}, {"queryParams": {"canary": {}}}], "route": [route("v3", json!(1))]},
            {"name": "rest", "route": [route("v1", json!(1))]}
        ]
    }));
    let v = |subset: &str| {
        Some(format!(
            "outbound|9080|{subset}|reviews.default.svc.cluster.local"
        ))
    };
    let reviews: (&str, &[u8]) = (":authority", b"reviews:9080");
    assert_eq!(
        cluster_for(&router, &[reviews, ("end-user", b"jason")]),
        v("v2")
    );
    assert_eq!(
        cluster_for(
            &router,
            &[reviews, (":path", b"/api/x"), (":method", b"POST")]
        ),
        v("v3")
    );
    assert_eq!(
        cluster_for(
            &router,
            &[reviews, (":path", b"/api/x"), (":method", b"GET")]
        ),
        v("v1")
    );
    assert_eq!(
        cluster_for(&router, &[reviews, (":path", b"/x?canary")]),
        v("v3")
    );
    assert_eq!(
        cluster_for(&router, &[reviews, ("end-user", b"ja\xffson")]),
        v("v1")
    );
    assert_eq!(
        cluster_for(
            &router,
            &[(":authority", b"ratings:9080"), ("end-user", b"jason")]
        ),
        None
    );
    assert_eq!(
        cluster_for(&router, &[("end-user", b"jason")]),
        None,
        "no authority, no match"
    );
}

#[test]
fn route_names_scope_entries() {
    let router = compile(json!({"http": [
        {"match": [{"routeName": {"exact": "reviews-route"}}], "route": [route("v3", json!(1))]}
    ]}));
    assert!(cluster_for(&router, &[("@route", b"reviews-route")]).is_some());
    assert_eq!(cluster_for(&router, &[("@route", b"details-route")]), None);
    assert_eq!(cluster_for(&router, &[]), None);
}

#[test]
fn sticky_keys_compile_and_decide() {
    let router = compile(json!({"http": [
        {"name": "by-header", "match": [{"headers": {"x-kind": {"exact": "h"}}}], "sticky": {"header": "x-user"}, "route": [route("v1", json!(50)), route("v3", json!(50))]},
        {"name": "by-cookie", "sticky": {"cookie": "user"}, "route": [route("v1", json!(50)), route("v3", json!(50))]}
    ]}));
    assert!(matches!(
        router.entries[0].sticky,
        Some(StickyKey::Header { .. })
    ));
    assert!(matches!(
        router.entries[1].sticky,
        Some(StickyKey::Cookie { .. })
    ));
    // The random source changes between calls, the answer for a key does not.
    let request = FakeRequest::new(&[("cookie", b"a=1; user=alice")]);
    let mut random = SplitMix64::new(9);
    let first = router.decide(&request, &mut random).unwrap();
    for _ in 0..50 {
        assert_eq!(router.decide(&request, &mut random), Some(first));
    }
}

#[test]
fn tag_mode_and_custom_headers() {
    let router = compile(json!({
        "clusterHeader": "x-traffic-shift-subset",
        "clusterName": "{subset}",
        "responseHeader": "x-traffic-shift-destination",
        "http": [{"route": [route("v3", json!(1))]}]
    }));
    assert_eq!(router.cluster_header, "x-traffic-shift-subset");
    assert_eq!(
        router.response_header.as_deref(),
        Some("x-traffic-shift-destination")
    );
    assert_eq!(cluster_for(&router, &[]).as_deref(), Some("v3"));
}

#[test]
fn regex_matches_compile_whole_and_ignore_uri_case_leaves_them_alone() {
    let router = compile(json!({"http": [
        {"name": "ids", "match": [{"uri": {"regex": "/reviews/[0-9]+"}, "ignoreUriCase": true}], "route": [route("v2", json!(1))]},
        {"name": "beta", "match": [{"headers": {"x-group": {"regex": "beta-(a|b)"}}}], "route": [route("v3", json!(1))]}
    ]}));
    let subset = |headers: &[(&'static str, &'static [u8])]| {
        cluster_for(&router, headers).map(|c| c.split('|').nth(2).unwrap_or("").to_string())
    };
    assert_eq!(
        subset(&[(":path", b"/reviews/12?x=1")]).as_deref(),
        Some("v2")
    );
    // As in Envoy: `ignoreUriCase` (the route's `case_sensitive: false`) does not apply to a regex.
    assert_eq!(subset(&[(":path", b"/REVIEWS/12?x=1")]), None);
    assert_eq!(subset(&[(":path", b"/reviews/12/ratings")]), None);
    assert_eq!(subset(&[("x-group", b"beta-b")]).as_deref(), Some("v3"));
    assert_eq!(subset(&[("x-group", b"beta-bc")]), None);
    assert_eq!(subset(&[("x-group", b"beta-\xff")]), None);
}

#[test]
fn a_configuration_reading_two_pseudo_headers_takes_the_whole_map() {
    let reads_several = |config: Value| compile(config).attributes.reads_several_values();
    let split = json!([route("v1", json!(50)), route("v3", json!(50))]);
    let headers_only = json!({"http": [
        {"name": "a", "match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": split},
        {"name": "b", "match": [{"withoutHeaders": {"x-canary": {}}}], "route": split},
    ]});
    assert!(!reads_several(headers_only));
    let one_value = json!({"hosts": ["reviews"], "http": [{"name": "a", "route": split}]});
    assert!(!reads_several(one_value));
    let hosts_and_uri = json!({"hosts": ["reviews"], "http": [
        {"name": "a", "match": [{"uri": {"prefix": "/admin"}}], "route": split},
        {"name": "b", "route": split},
    ]});
    assert!(reads_several(hosts_and_uri));
    let uri_and_method = json!({"http": [
        {"name": "a", "match": [{"uri": {"exact": "/x"}, "method": {"exact": "POST"}}], "route": split},
    ]});
    assert!(reads_several(uri_and_method));
}

#[test]
fn regex_limits_are_refused_at_the_path_of_the_regex() {
    let entry =
        |block: Value| one_entry(json!({"match": [block], "route": [route("v1", json!(1))]}));
    let long = "a".repeat(1025);
    let message = refused(&entry(json!({"headers": {"x-id": {"regex": long}}})));
    assert!(
        message.ends_with(
            "at http[0].match[0].headers.x-id.regex: regex too long: 1025 bytes, more than the 1024 Istio accepts"
        ),
        "{message}"
    );
    let message = refused(&entry(json!({"uri": {"regex": "(?:.{1000}){200}"}})));
    assert!(
        message.contains(
            "at http[0].match[0].uri.regex: regex too large: its program exceeds 32768 states"
        ),
        "{message}"
    );
    let message = refused(&entry(json!({"authority": {"regex": "[a-z&&[^x]]"}})));
    assert!(
        message.contains("at http[0].match[0].authority.regex: invalid regex: a class operation"),
        "{message}"
    );
    // Each `.{0,200}` takes about 200 KiB of the 32 MiB budget (203 natively, 195 on wasm32): the
    // 162nd to 168th crosses it; the error names that one.
    let crossed_at = |message: &str, before: &str, after: &str| {
        let start = message.find(before).map(|i| i + before.len());
        let index = start.and_then(|start| {
            let digits = &message[start..];
            let end = digits.find(']')?;
            let rest = &digits[end + 1..];
            rest.starts_with(after)
                .then(|| digits[..end].parse::<usize>().ok())
                .flatten()
        });
        assert!(
            index.is_some_and(|i| (150..170).contains(&i))
                && message.contains("the regexes up to this one take"),
            "{message}"
        );
    };
    let blocks: Vec<Value> = (0..170)
        .map(|_| json!({"uri": {"regex": ".{0,200}"}}))
        .collect();
    let message = refused(
        &json!({"http": [{"match": blocks, "route": [route("v1", json!(1))]}]}).to_string(),
    );
    crossed_at(&message, "at http[0].match[", ".uri.regex: ");
    assert!(
        message.ends_with(
            "more than the 32 MiB one configuration may use; use fewer or simpler regexes"
        ),
        "{message}"
    );
    // The budget is the whole configuration's, across entries and in both shapes.
    let entries: Vec<Value> = (0..170)
        .map(|i| json!({"name": format!("e{i}"), "match": [{"headers": {"x-id": {"regex": ".{0,200}"}}}], "route": [route("v1", json!(1))]}))
        .collect();
    let message = refused(&json!({ "http": entries }).to_string());
    crossed_at(&message, "at http[", ".match[0].headers.x-id.regex: ");
    let rules: Vec<Value> = (0..170)
        .map(|_| json!({"matches": [{"headers": [{"name": "x-id", "type": "RegularExpression", "value": ".{0,200}"}]}], "backendRefs": [{"name": "reviews-v1", "port": 9080}]}))
        .collect();
    let message = refused(&json!({ "rules": rules }).to_string());
    crossed_at(&message, "at rules[", ".matches[0].headers[0].value: ");
    let message = refused(&json!({"rules": [{"matches": [{"path": {"type": "RegularExpression", "value": long}}], "backendRefs": [{"name": "reviews-v1", "port": 9080}]}]}).to_string());
    assert!(
        message.contains("at rules[0].matches[0].path.value: "),
        "{message}"
    );
    // Within the budget, ordinary patterns compile by the hundred.
    let ordinary: Vec<Value> = (0..300)
        .map(|i| json!({"uri": {"regex": format!("/api/v{i}/[a-z0-9-]+(/.*)?")}}))
        .collect();
    compile(json!({"http": [{"match": ordinary, "route": [route("v1", json!(1))]}]}));
}

#[test]
fn a_header_name_given_twice_in_an_http_route_list_is_refused_at_the_second() {
    let headers: Vec<Value> = (0..5000)
        .map(|i| json!({"name": format!("x-h{}", i % 4999), "value": "1"}))
        .collect();
    let message = refused(&json!({"rules": [{"matches": [{"headers": headers}], "backendRefs": [{"name": "reviews-v1", "port": 9080}]}]}).to_string());
    assert!(
        message.contains(
            "at rules[0].matches[0].headers[4999].name: \"x-h0\" is matched by an earlier entry"
        ),
        "{message}"
    );
}
