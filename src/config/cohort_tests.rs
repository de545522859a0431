//! `sticky.cohort` and the backendRef `version`: what is accepted, what is refused, and that both
//! shapes line their users up.

use super::tests::{assert_refusals, cluster_for, compile};
use serde_json::{json, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const USERS: usize = 2_000;

fn subset(subset: &str, weight: u32) -> Value {
    json!({"destination": {"host": "reviews", "subset": subset}, "weight": weight})
}

fn service(name: &str, weight: u32, version: Option<&str>) -> Value {
    let mut backend = json!({"name": name, "port": 9080, "weight": weight});
    if let Some(version) = version {
        backend["version"] = json!(version);
    }
    backend
}

fn cohort_sticky(cohort: &str) -> Value {
    json!({"cookie": "user", "cohort": cohort})
}

/// The cluster each of `USERS` users (cookie `user`) is sent to.
fn placements(config: Value) -> Vec<String> {
    let router = compile(config);
    (0..USERS)
        .map(|i| {
            let cookie: &'static [u8] = format!("user=u{i}").into_bytes().leak();
            cluster_for(&router, &[("cookie", cookie)]).unwrap_or_default()
        })
        .collect()
}

#[test]
fn the_newer_destination_is_the_last_listed_or_the_one_a_rollout_grows() {
    let listed = compile(json!({"http": [{"sticky": cohort_sticky("r"),
        "route": [subset("v1", 90), subset("v2", 10)]}]}));
    assert_eq!(
        listed.entries[0].cohort.as_ref().map(|c| c.newer()),
        Some(1)
    );
    let rolled = compile(json!({"http": [{"sticky": cohort_sticky("r"),
        "route": [subset("v3", 100), subset("v1", 0)],
        "rollout": {"from": [0, 100], "start": "2026-12-01T10:00:00Z", "steps": [{"at": "0s", "progress": 100}]}}]}));
    assert_eq!(
        rolled.entries[0].cohort.as_ref().map(|c| c.newer()),
        Some(0)
    );
    let plain = compile(
        json!({"http": [{"sticky": {"cookie": "user"}, "route": [subset("v1", 1), subset("v2", 1)]}]}),
    );
    assert_eq!(plain.entries[0].cohort, None);
}

#[test]
fn both_shapes_and_any_cluster_names_put_the_same_users_on_the_newer_version() {
    let virtual_service = placements(json!({"http": [{"sticky": cohort_sticky("release"),
        "route": [subset("v1", 70), subset("v3", 30)]}]}));
    // Another service, other cluster names, a version given for the newer backend only.
    let http_route = placements(json!({"rules": [{"sticky": cohort_sticky("release"),
        "backendRefs": [service("ratings-v1", 7, None), service("ratings-v2", 3, Some("v2"))]}]}));
    let on_newer = |placed: &[String], newer: &str| -> Vec<bool> {
        placed.iter().map(|c| c.contains(newer)).collect()
    };
    let reviews_v3 = on_newer(&virtual_service, "v3");
    assert_eq!(reviews_v3, on_newer(&http_route, "ratings-v2"));
    let count = reviews_v3.iter().filter(|n| **n).count();
    assert!(
        (450..750).contains(&count),
        "{count} of {USERS} on v3 at 30%"
    ); // 5 sigma: ±102
       // Without the cohort, the placement differs (the sticky hash mixes in cluster names).
    let plain = placements(json!({"http": [{"sticky": {"cookie": "user"},
        "route": [subset("v1", 70), subset("v3", 30)]}]}));
    assert_ne!(on_newer(&plain, "v3"), reviews_v3);
}

#[test]
fn refusals_name_the_path() {
    let long = "c".repeat(254);
    let vs = |sticky: Value, route: Value| {
        json!({"http": [{"sticky": sticky, "route": route}]}).to_string()
    };
    let gateway = |rule: Value| json!({"rules": [rule]}).to_string();
    let two = json!([subset("v1", 1), subset("v2", 1)]);
    let cases = [
        (
            vs(json!({"cookie": "user", "cohort": long}), two.clone()),
            "at http[0].sticky.cohort: is 254 bytes long; at most 253",
        ),
        (vs(json!({"cookie": "user", "cohort": ""}), two.clone()), "at http[0].sticky.cohort:"),
        (vs(json!({"cookie": "user", "cohort": 7}), two.clone()), "at http[0].sticky.cohort:"),
        (vs(json!({"cohort": "r"}), two.clone()), "at http[0].sticky: give exactly one of header or cookie"),
        (
            vs(cohort_sticky("r"), json!([subset("v1", 1), {"destination": {"host": "ratings", "subset": "v1"}, "weight": 1}])),
            "at http[0].route[1]: has version \"v1\" as destination 0 does; in sticky.cohort \"r\" each destination needs its own version",
        ),
        (
            gateway(json!({"sticky": cohort_sticky("r"),
                "backendRefs": [service("a", 1, Some("1")), service("b", 1, None)]})),
            "at rules[0].backendRefs[1]: has version \"1\" as destination 0 does",
        ),
        (
            gateway(json!({"backendRefs": [service("a", 1, None), service("b", 1, Some("v2"))]})),
            "at rules[0].backendRefs[1].version: lines destinations up in a sticky.cohort, and this entry names none",
        ),
        (
            gateway(json!({"sticky": cohort_sticky("r"), "backendRefs": [service("a", 1, Some(&long))]})),
            "at rules[0].backendRefs[0].version: is 254 bytes long; at most 253",
        ),
    ];
    assert_refusals(&cases);
    let longest = "c".repeat(253);
    compile(
        json!({"http": [{"sticky": {"header": "x-user", "cohort": longest}, "route": [subset("v1", 1)]}]}),
    );
}

#[test]
fn a_request_without_the_key_is_drawn_at_random() {
    use crate::random::SplitMix64;
    use crate::test_kit::FakeRequest;
    let router = compile(json!({"http": [{"sticky": cohort_sticky("release"),
        "route": [subset("v1", 75), subset("v3", 25)]}]}));
    let mut random = SplitMix64::new(11);
    let draws = 8_000;
    let other_cookie = FakeRequest::new(&[("cookie", b"users=someone; theme=dark")]);
    let on_v3 = (0..draws)
        .filter(|_| {
            let decision = router.decide(&other_cookie, &mut random).unwrap();
            router.cluster(decision).is_some_and(|c| c.contains("v3"))
        })
        .count();
    // 25% of 8000 = 2000, 5 sigma = 194.
    assert!((1806..=2194).contains(&on_v3), "{on_v3} of {draws} on v3");
}
