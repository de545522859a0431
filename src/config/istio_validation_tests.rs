//! Istio's validation of a VirtualService's `http` routes (`pkg/config/validation`), as cases written
//! from its tests and code: what it accepts is accepted here, what it refuses is refused with the
//! path of the field and one line. Also the filter's own refusal of a configuration that reads the
//! header it writes.

use super::tests::{assert_refusals, cluster_for, compile};
use serde_json::{json, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn dest(subset: &str, weight: Value) -> Value {
    json!({"destination": {"host": "reviews.default.svc.cluster.local", "subset": subset, "port": {"number": 9080}}, "weight": weight})
}

fn with_route(route: Value) -> Value {
    json!({"http": [{"route": route}]})
}

fn with_match(block: Value) -> Value {
    json!({"http": [{"match": [block], "route": [dest("v1", json!(1))]}]})
}

#[test]
fn accepted_as_by_istio() {
    let accepted = [
        // Subsets are DNS labels.
        with_route(json!([dest("v1", json!(50)), dest("shiny", json!(50))])),
        with_route(json!([dest("canary-2", json!(1))])),
        with_route(json!([dest("0", json!(1))])),
        with_route(json!([dest(&"a".repeat(63), json!(1))])),
        // Weights: int32, any total, a lone zero.
        with_route(json!([
            dest("v1", json!(2_147_483_647u64)),
            dest("v2", json!(0))
        ])),
        with_route(json!([dest("v1", json!(550)), dest("v2", json!(500))])),
        with_route(json!([dest("v1", json!(49)), dest("v2", json!(50))])),
        with_route(json!([dest("v1", json!(0))])),
        // An empty exact is a value like any other; an empty uri prefix is Envoy's prefix "".
        with_match(json!({"headers": {"x-empty": {"exact": ""}}})),
        with_match(json!({"uri": {"prefix": ""}})),
        with_match(json!({"uri": {"exact": ""}})),
        with_match(json!({"method": {"exact": ""}})),
        // Presence, absence, and Istio's `regex: "*"` absent form.
        with_match(json!({"headers": {"x-canary": {}}, "queryParams": {"debug": {}}})),
        with_match(json!({"withoutHeaders": {"x-canary": {}, "x-beta": {"regex": "*"}}})),
        // Header names: any case, RFC 9110 token characters, Istio's pseudo-headers.
        with_match(json!({"headers": {"End-User": {"exact": "jason"}}})),
        with_match(json!({"headers": {"x_underscore": {"prefix": "a"}, "x.dot~": {"exact": "b"}}})),
        with_match(
            json!({"headers": {":authority": {"prefix": "reviews"}, ":path": {"prefix": "/"}}}),
        ),
        with_match(json!({"withoutHeaders": {"X-Beta": {"exact": "1"}}})),
    ];
    for config in accepted {
        super::parse(config.to_string().as_bytes())
            .unwrap_or_else(|error| panic!("{config}\n  refused: {error}"));
    }
}

#[test]
fn refused_as_by_istio_with_the_path() {
    let refusal = |config: Value, expected: &'static str| (config.to_string(), expected);
    let cases = [
        refusal(
            with_route(json!([dest("V1", json!(1))])),
            "at http[0].route[0].destination.subset: \"V1\" is not a valid subset name",
        ),
        refusal(
            with_route(json!([dest("v1.2", json!(1))])),
            "at http[0].route[0].destination.subset: \"v1.2\" is not a valid subset name",
        ),
        refusal(
            with_route(json!([dest("-v1", json!(1))])),
            "at http[0].route[0].destination.subset: \"-v1\"",
        ),
        refusal(
            with_route(json!([dest("v1_", json!(1))])),
            "at http[0].route[0].destination.subset: \"v1_\"",
        ),
        refusal(
            with_route(json!([dest(&"a".repeat(64), json!(1))])),
            "at http[0].route[0].destination.subset:",
        ),
        refusal(
            with_route(json!([dest("v1", json!(1)), dest("v2", json!(2_147_483_648u64))])),
            "at http[0].route[1].weight: expected an integer no larger than 2147483647, got 2147483648",
        ),
        refusal(
            with_route(json!([dest("v1", json!(5)), dest("v2", json!(-1))])),
            "at http[0].route[1].weight: expected a non-negative integer, got -1",
        ),
        refusal(
            with_route(json!([dest("v1", json!(0)), dest("v2", json!(0))])),
            "at http[0].route: every destination has weight 0",
        ),
        // An empty prefix or regex, wherever Istio refuses it.
        refusal(
            with_match(json!({"headers": {"emptyprefix": {"prefix": ""}}})),
            "at http[0].match[0].headers.emptyprefix.prefix: an empty prefix is refused",
        ),
        refusal(
            with_match(json!({"headers": {"x": {"regex": ""}}})),
            "at http[0].match[0].headers.x.regex: an empty regex is refused",
        ),
        refusal(
            with_match(json!({"withoutHeaders": {"x": {"prefix": ""}}})),
            "at http[0].match[0].withoutHeaders.x.prefix: an empty prefix",
        ),
        refusal(
            with_match(json!({"queryParams": {"q": {"prefix": ""}}})),
            "at http[0].match[0].queryParams.q.prefix: an empty prefix",
        ),
        refusal(
            with_match(json!({"queryParams": {"q": {"regex": ""}}})),
            "at http[0].match[0].queryParams.q.regex: an empty regex",
        ),
        refusal(
            with_match(json!({"method": {"prefix": ""}})),
            "at http[0].match[0].method.prefix: an empty prefix",
        ),
        refusal(
            with_match(json!({"scheme": {"regex": ""}})),
            "at http[0].match[0].scheme.regex: an empty regex",
        ),
        refusal(
            with_match(json!({"authority": {"prefix": ""}})),
            "at http[0].match[0].authority.prefix: an empty prefix",
        ),
        refusal(
            with_match(json!({"uri": {"regex": ""}})),
            "at http[0].match[0].uri.regex: an empty regex",
        ),
        // `*` is Istio's absent form in withoutHeaders only; elsewhere it is an invalid regex.
        refusal(
            with_match(json!({"headers": {"x": {"regex": "*"}}})),
            "at http[0].match[0].headers.x.regex: invalid regex",
        ),
        // Header names.
        refusal(
            with_match(json!({"headers": {"bad name": {"exact": "1"}}})),
            "at http[0].match[0].headers[\"bad name\"]: \"bad name\" is not a valid header name",
        ),
        refusal(
            with_match(json!({"headers": {":foo": {"exact": "1"}}})),
            "\":foo\" is not a valid header name",
        ),
        refusal(
            with_match(json!({"withoutHeaders": {"": {}}})),
            "at http[0].match[0].withoutHeaders[\"\"]: \"\" is not a valid header name",
        ),
        refusal(
            with_match(json!({"headers": {"@request.auth.claims.group": {"exact": "admin"}}})),
            "routing on JWT claims (@request.auth.claims) is not implemented by traffic-shift",
        ),
    ];
    assert_refusals(&cases);
}

#[test]
fn header_names_match_in_any_case_and_repeated_headers_by_any_value() {
    let router = compile(json!({"clusterName": "{subset}", "http": [
        {"name": "jason", "match": [{"headers": {"End-User": {"exact": "jason"}}}], "route": [dest("v2", json!(1))]},
        {"name": "rest", "route": [dest("v1", json!(1))]}
    ]}));
    assert_eq!(
        cluster_for(&router, &[("end-user", b"jason")]).as_deref(),
        Some("v2")
    );
    assert_eq!(
        cluster_for(&router, &[("end-user", b"Jason")]).as_deref(),
        Some("v1")
    );
}

#[test]
fn a_configuration_may_not_read_the_header_the_filter_writes() {
    let route = json!([dest("v1", json!(1))]);
    let gateway_rule = |name: &str| {
        json!({"rules": [{"matches": [{"headers": [{"name": "x-a", "value": "1"}, {"name": name, "value": "v2"}]}],
                          "backendRefs": [{"name": "reviews-v2", "port": 9080}]}]})
    };
    let cases = [
        (
            json!({"http": [{"match": [{"headers": {"x-traffic-shift-cluster": {"exact": "v2"}}}], "route": route}]}),
            "at http[0].match[0].headers.x-traffic-shift-cluster: reads \"x-traffic-shift-cluster\", the header this filter sets (clusterHeader)",
        ),
        (
            json!({"http": [{"match": [{"uri": {"prefix": "/"}}, {"withoutHeaders": {"X-Traffic-Shift-Cluster": {}}}], "route": route}]}),
            "at http[0].match[1].withoutHeaders.X-Traffic-Shift-Cluster: reads \"x-traffic-shift-cluster\"",
        ),
        (
            json!({"clusterHeader": "x-traffic-shift-subset", "clusterName": "{subset}",
                   "http": [{"match": [{"headers": {"x-traffic-shift-subset": {"prefix": "v"}}}], "route": route}]}),
            "at http[0].match[0].headers.x-traffic-shift-subset: reads \"x-traffic-shift-subset\"",
        ),
        (
            json!({"http": [{"sticky": {"header": "x-traffic-shift-cluster"}, "route": [dest("v1", json!(1)), dest("v2", json!(1))]}]}),
            "at http[0].sticky.header: reads \"x-traffic-shift-cluster\", the header this filter sets",
        ),
        (
            json!({"clusterHeader": "cookie", "http": [{"sticky": {"cookie": "user"}, "route": route}]}),
            "at http[0].sticky.cookie: reads \"cookie\"",
        ),
        (
            gateway_rule("X-Traffic-Shift-Cluster"),
            "at rules[0].matches[0].headers[1].name: reads \"x-traffic-shift-cluster\"",
        ),
    ];
    let cases: Vec<(String, &str)> = cases
        .into_iter()
        .map(|(config, expected)| (config.to_string(), expected))
        .collect();
    assert_refusals(&cases);
    // Matching on the default header is fine once the filter writes another one.
    compile(
        json!({"clusterHeader": "x-traffic-shift-subset", "clusterName": "{subset}",
                   "http": [{"match": [{"headers": {"x-traffic-shift-cluster": {}}}], "route": route}]}),
    );
}
