//! The dynamic-module shell's exported functions, called as Envoy calls them, against the test
//! kit's fake Envoy (the fuzz targets' too): what reaches Envoy for a request, and what is refused
//! at configuration.
#![cfg(not(target_family = "wasm"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::c_void;
use traffic_shift::dynamic_module::{self as shell, EnvoyBuffer};
use traffic_shift::dynamic_module::{CONTINUE, LOG_ERROR, STOP_ITERATION};
use traffic_shift::test_kit::fake_envoy::{self, ENVOY};

// The default clusterName expands the short host as Istio does.
const CLUSTER: &str = "outbound|9080|v2|reviews.default.svc.cluster.local";
const ONE_WAY: &str = r#"{"responseHeader": "x-dest", "http": [{"name": "r", "match": [{"headers": {"end-user": {}}}],
    "route": [{"destination": {"host": "reviews", "subset": "v2", "port": {"number": 9080}}}]}]}"#;

type Headers = Vec<(Vec<u8>, Vec<u8>)>;

fn buffer(bytes: &[u8]) -> EnvoyBuffer {
    EnvoyBuffer {
        ptr: bytes.as_ptr().cast(),
        length: bytes.len(),
    }
}

fn filter_config(name: &str, config: &str) -> *const c_void {
    fake_envoy::install();
    let envoy = std::ptr::dangling_mut();
    unsafe {
        shell::envoy_dynamic_module_on_http_filter_config_new(
            envoy,
            buffer(name.as_bytes()),
            buffer(config.as_bytes()),
        )
    }
}

/// Runs one stream through the filter; returns (request headers after, response headers after).
fn run(config: *const c_void, headers: &[(&str, &str)]) -> (Headers, Headers) {
    ENVOY.with(|envoy| {
        let mut envoy = envoy.borrow_mut();
        envoy.request_headers = headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        envoy.response_headers.clear();
        envoy.route_cache_clears = 0;
    });
    let stream_envoy = std::ptr::dangling_mut();
    unsafe {
        let stream = shell::envoy_dynamic_module_on_http_filter_new(config, stream_envoy);
        shell::envoy_dynamic_module_on_http_filter_request_headers(stream_envoy, stream, true);
        shell::envoy_dynamic_module_on_http_filter_response_headers(stream_envoy, stream, true);
        shell::envoy_dynamic_module_on_http_filter_destroy(stream);
    }
    ENVOY.with(|envoy| {
        let envoy = envoy.borrow();
        (
            envoy.request_headers.clone(),
            envoy.response_headers.clone(),
        )
    })
}

fn pair(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

fn route_cache_clears() -> usize {
    ENVOY.with(|envoy| envoy.borrow().route_cache_clears)
}

#[test]
fn a_routed_request_gets_the_cluster_header_replacing_the_clients() {
    let config = filter_config("traffic-shift", ONE_WAY);
    let (request, response) = run(
        config,
        &[("end-user", "jason"), ("x-traffic-shift-cluster", "mine")],
    );
    assert_eq!(
        request,
        [
            pair("end-user", "jason"),
            pair("x-traffic-shift-cluster", CLUSTER)
        ]
    );
    assert_eq!(response, [pair("x-dest", CLUSTER)]);
    assert_eq!(
        route_cache_clears(),
        1,
        "Envoy must match the route again on the new header"
    );
}

#[test]
fn an_unmatched_request_loses_only_a_client_sent_header() {
    let config = filter_config("traffic-shift", ONE_WAY);
    let (request, response) = run(config, &[("x-traffic-shift-cluster", "mine")]);
    assert_eq!((request, response), (vec![], vec![]));
    assert_eq!(route_cache_clears(), 1);
    // Nothing to remove: the route is not matched again.
    let (request, _) = run(config, &[(":path", "/")]);
    assert_eq!(request, [pair(":path", "/")]);
    assert_eq!(route_cache_clears(), 0);
}

#[test]
fn a_header_envoy_refuses_to_set_is_removed_not_left_to_the_client() {
    let config = filter_config("traffic-shift", ONE_WAY);
    ENVOY.with(|envoy| envoy.borrow_mut().refuse_header_values = true);
    let (request, _) = run(
        config,
        &[("end-user", "jason"), ("x-traffic-shift-cluster", "mine")],
    );
    ENVOY.with(|envoy| envoy.borrow_mut().refuse_header_values = false);
    assert_eq!(request, [pair("end-user", "jason")]);
}

#[test]
fn each_request_is_counted_once_by_destination() {
    let config = filter_config("traffic-shift", ONE_WAY);
    run(config, &[("end-user", "a")]);
    run(config, &[("end-user", "b")]);
    run(config, &[]);
    // Defined in order: the entry's destination, then the unmatched counter.
    let counters = ENVOY.with(|envoy| envoy.borrow().counters.clone());
    assert_eq!(counters, [2, 1]);
}

fn refusal(config: *const c_void) -> Vec<String> {
    assert!(config.is_null(), "the configuration was accepted");
    fake_envoy::take_logs()
        .into_iter()
        .filter(|(level, _)| *level == LOG_ERROR)
        .map(|(_, m)| m)
        .collect()
}

#[test]
fn a_bad_configuration_is_refused_with_the_cores_one_line() {
    let errors = refusal(filter_config(
        "traffic-shift",
        r#"{"http": [{"route": [], "wieght": 1}]}"#,
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("traffic-shift: invalid configuration at http[0]"),
        "{errors:?}"
    );
}

/// A rollout halfway since 2020 (its last step in ten years), guarded; `guard` replaces the guard.
/// `entry` names it: a rollout's state (its steps logged once per Envoy) is process-wide, as in
/// Envoy, so tests running in parallel each take their own entry name.
fn halfway(entry: &str, guard: &str) -> String {
    format!(
        r#"{{"clusterName": "{{subset}}", "http": [{{"name": "{entry}",
            "route": [{{"destination": {{"host": "reviews", "subset": "v1"}}, "weight": 0}},
                      {{"destination": {{"host": "reviews", "subset": "v3"}}, "weight": 100}}],
            "rollout": {{"from": [100, 0], "start": "2020-01-01T00:00:00Z",
                "steps": [{{"at": "0s", "progress": 50}}, {{"at": "87600h", "progress": 100}}]{guard}}}}}]}}"#
    )
}

const GUARD: &str = r#", "guard": {"maxErrorRate": 0.5, "minRequests": 100000, "window": "1m"}"#;

/// One stream answered `status` (with Envoy's `details`), or reset before any answer (`None`).
fn answered(config: *const c_void, answer: Option<(&str, &str)>) -> String {
    ENVOY.with(|envoy| {
        let mut envoy = envoy.borrow_mut();
        envoy.request_headers.clear();
        envoy.response_headers = answer
            .map(|(status, _)| vec![pair(":status", status)])
            .unwrap_or_default();
        envoy.response_code_details = answer.map(|(_, details)| details.as_bytes().to_vec());
    });
    let stream_envoy = std::ptr::dangling_mut();
    unsafe {
        let stream = shell::envoy_dynamic_module_on_http_filter_new(config, stream_envoy);
        shell::envoy_dynamic_module_on_http_filter_request_headers(stream_envoy, stream, true);
        if answer.is_some() {
            shell::envoy_dynamic_module_on_http_filter_response_headers(stream_envoy, stream, true);
        }
        shell::envoy_dynamic_module_on_http_filter_destroy(stream);
    }
    ENVOY.with(|envoy| {
        let envoy = envoy.borrow();
        let cluster = envoy
            .request_headers
            .iter()
            .find(|(k, _)| k == b"x-traffic-shift-cluster");
        String::from_utf8_lossy(&cluster.expect("routed").1).into_owned()
    })
}

fn counters() -> Vec<u64> {
    ENVOY.with(|envoy| envoy.borrow().counters.clone())
}

#[test]
fn the_native_filter_runs_a_rollout_and_its_guard_counts_only_upstream_failures() {
    let config = filter_config("traffic-shift", &halfway("reviews", GUARD));
    assert!(!config.is_null(), "{:?}", fake_envoy::take_logs());
    assert!(fake_envoy::take_logs()
        .iter()
        .any(|(_, line)| line
            == "traffic-shift: rollout reviews: step 1 of 2 in force, progress 50%"));
    let before = counters();
    let mut to_v3 = 0;
    for _ in 0..200 {
        // Every answer is a 503 from the upstream: only v3's are the guard's to count.
        to_v3 += usize::from(answered(config, Some(("503", "via_upstream"))) == "v3");
    }
    assert!((60..140).contains(&to_v3), "{to_v3}: about half at 50%");
    // Requests the client reset, and 5xx Envoy answered for another reason, are not counted.
    for _ in 0..200 {
        answered(config, None);
        answered(config, Some(("503", "cluster_not_found")));
        answered(config, Some(("200", "via_upstream")));
    }
    let after = counters();
    // Defined in order: the two destinations, unmatched, then the guard's failures of v3.
    assert_eq!(after.len(), 4, "{after:?}");
    assert_eq!(after[3] - before.get(3).copied().unwrap_or(0), to_v3 as u64);
    assert_eq!(
        fake_envoy::gauge("traffic_shift.entry=.=reviews;.;rollout_progress_percent"),
        Some(50),
        "{:?}",
        fake_envoy::GAUGES.lock().unwrap()
    );
    unsafe { shell::envoy_dynamic_module_on_http_filter_config_destroy(config) };
}

#[test]
fn another_filter_name_is_refused() {
    let errors = refusal(filter_config("traffic-split", "{}"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("\"traffic-split\""), "{errors:?}");
}

fn specifier_config(config: &str) -> *const c_void {
    fake_envoy::install();
    let envoy = std::ptr::dangling_mut();
    unsafe {
        shell::envoy_dynamic_module_on_cluster_specifier_config_new(
            envoy,
            buffer(b"traffic-shift"),
            buffer(config.as_bytes()),
        )
    }
}

#[test]
fn the_cluster_specifier_runs_a_rollout_but_refuses_its_guard() {
    let errors = refusal(specifier_config(&halfway("reviews-specifier", GUARD)));
    assert_eq!(
        errors,
        ["traffic-shift: invalid configuration at http[0].rollout.guard: the cluster specifier never sees the answer, so it cannot guard a rollout; use the traffic-shift HTTP filter for a guarded rollout (a rollout without guard runs here)"]
    );
    let config = specifier_config(&halfway("reviews-specifier", ""));
    assert!(!config.is_null(), "{:?}", fake_envoy::take_logs());
    let mut chosen = std::collections::BTreeMap::<Vec<u8>, usize>::new();
    for _ in 0..200 {
        ENVOY.with(|envoy| envoy.borrow_mut().selected_cluster = None);
        assert!(unsafe {
            shell::envoy_dynamic_module_on_cluster_specifier_select(
                config,
                std::ptr::dangling_mut(),
            )
        });
        let cluster = ENVOY.with(|envoy| envoy.borrow().selected_cluster.clone().unwrap());
        *chosen.entry(cluster).or_default() += 1;
    }
    assert_eq!(chosen.len(), 2, "both at 50%: {chosen:?}");
    unsafe { shell::envoy_dynamic_module_on_cluster_specifier_config_destroy(config) };
}

#[test]
fn the_cluster_specifier_refuses_headers_it_cannot_set() {
    let errors = refusal(specifier_config(ONE_WAY));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("traffic-shift: invalid configuration at responseHeader: "),
        "{errors:?}"
    );
}

#[test]
fn the_cluster_specifier_names_the_cluster_or_declines() {
    let config = specifier_config(&ONE_WAY.replace(r#""responseHeader": "x-dest", "#, ""));
    assert!(!config.is_null(), "{:?}", fake_envoy::take_logs());
    let select = |headers: Headers| {
        ENVOY.with(|envoy| {
            let mut envoy = envoy.borrow_mut();
            envoy.request_headers = headers;
            envoy.selected_cluster = None;
        });
        let chosen = unsafe {
            shell::envoy_dynamic_module_on_cluster_specifier_select(
                config,
                std::ptr::dangling_mut(),
            )
        };
        (
            chosen,
            ENVOY.with(|envoy| envoy.borrow().selected_cluster.clone()),
        )
    };
    assert_eq!(
        select(vec![pair("end-user", "x")]),
        (true, Some(CLUSTER.as_bytes().to_vec()))
    );
    assert_eq!(select(vec![]), (false, None));
    unsafe { shell::envoy_dynamic_module_on_cluster_specifier_config_destroy(config) };
}

#[test]
fn a_rule_without_backends_is_answered_500_by_the_filter() {
    let config = filter_config(
        "traffic-shift",
        r#"{"rules": [{"matches": [{"path": {"value": "/broken"}}]}]}"#,
    );
    assert!(!config.is_null(), "{:?}", fake_envoy::take_logs());
    for (path, reply, status) in [
        ("/broken/x", Some(500), STOP_ITERATION),
        ("/ok", None, CONTINUE),
    ] {
        ENVOY.with(|envoy| {
            let mut envoy = envoy.borrow_mut();
            envoy.request_headers = vec![(b":path".to_vec(), path.as_bytes().to_vec())];
            envoy.local_reply = None;
        });
        let stream_envoy = std::ptr::dangling_mut();
        let answered = unsafe {
            let stream = shell::envoy_dynamic_module_on_http_filter_new(config, stream_envoy);
            let answered = shell::envoy_dynamic_module_on_http_filter_request_headers(
                stream_envoy,
                stream,
                true,
            );
            shell::envoy_dynamic_module_on_http_filter_destroy(stream);
            answered
        };
        assert_eq!(
            answered, status,
            "{path}: stop after a local reply, else continue"
        );
        assert_eq!(
            ENVOY.with(|envoy| envoy.borrow().local_reply),
            reply,
            "{path}"
        );
    }
    unsafe { shell::envoy_dynamic_module_on_http_filter_config_destroy(config) };
}
