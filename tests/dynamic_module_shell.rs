//! The dynamic-module shell's exported functions, called as Envoy calls them, against the fake Envoy
//! the fuzz targets use: what reaches Envoy for a request, and what is refused at configuration.
#![cfg(not(target_family = "wasm"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/src/fake_envoy.rs"]
#[allow(dead_code)]
mod fake_envoy;

use fake_envoy::ENVOY;
use std::ffi::c_void;
use traffic_shift::dynamic_module::{self as shell, EnvoyBuffer};

const LOG_ERROR: u32 = 4;
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

#[test]
fn a_rollout_is_refused_naming_it() {
    let rollout = include_str!("../filter-config/plugin/reviews-rollout.json");
    let errors = refusal(filter_config("traffic-shift", rollout));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("traffic-shift: invalid configuration at http[0].rollout: "),
        "{errors:?}"
    );
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
    for (path, reply, status) in [("/broken/x", Some(500), 1), ("/ok", None, 0)] {
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
