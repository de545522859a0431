//! Fuzz entries for the dynamic-module shell: its exported functions, called as Envoy calls them,
//! against the fake Envoy. A configuration is compiled or refused with exactly the core's one line;
//! a request gets a cluster header of the configuration's or none, and is counted once; the cluster
//! specifier, on the same request, names a configured cluster or none.

use crate::cursor::Cursor;
use crate::request_target::rich_router;
use crate::rich_config::{REQUEST_HEADERS, RICH_CONFIG};
use std::ffi::c_void;
use std::sync::OnceLock;
use traffic_shift::dynamic_module::{
    self as shell, EnvoyBuffer, LOG_CRITICAL, LOG_ERROR, LOG_PREFIX,
};
use traffic_shift::test_kit::fake_envoy::{self, ENVOY};

const FILTER_NAME: &[u8] = b"traffic-shift";
const CLUSTER_HEADER: &[u8] = b"x-traffic-shift-cluster";
const RESPONSE_HEADER: &[u8] = b"x-traffic-shift-destination";

fn buffer(bytes: &[u8]) -> EnvoyBuffer {
    EnvoyBuffer {
        ptr: bytes.as_ptr().cast(),
        length: bytes.len(),
    }
}

fn config_new(name: &[u8], config: &[u8]) -> *const c_void {
    let envoy_config = std::ptr::dangling_mut::<c_void>(); // the fake ignores it
    unsafe {
        shell::envoy_dynamic_module_on_http_filter_config_new(
            envoy_config,
            buffer(name),
            buffer(config),
        )
    }
}

fn assert_no_panic(logs: &[(u32, String)]) {
    assert!(
        logs.iter().all(|(level, _)| *level != LOG_CRITICAL),
        "the shell caught a panic: {logs:?}"
    );
}

/// Input: a configuration document. Returns whether the shell accepted it.
pub fn shell_config(data: &[u8]) -> bool {
    fake_envoy::install();
    fake_envoy::take_logs();
    let config = config_new(FILTER_NAME, data);
    let logs = fake_envoy::take_logs();
    assert_no_panic(&logs);
    match traffic_shift::config::parse(data) {
        // The HTTP filter runs everything the core accepts, rollouts included (their timer thread
        // is stopped and joined when the configuration is destroyed below).
        Ok(_) => assert!(
            !config.is_null(),
            "a valid configuration was refused: {logs:?}"
        ),
        Err(error) => {
            assert!(config.is_null(), "an invalid configuration was accepted");
            let errors: Vec<&String> = logs
                .iter()
                .filter(|(level, _)| *level == LOG_ERROR)
                .map(|(_, m)| m)
                .collect();
            assert_eq!(
                errors,
                [&format!("{LOG_PREFIX}{error}")],
                "refused with other than the core's one line"
            );
        }
    }
    unsafe { shell::envoy_dynamic_module_on_http_filter_config_destroy(config) };
    !config.is_null()
}

/// The rich configuration, created once through the shell (its address, as Envoy keeps it).
fn rich_config() -> usize {
    static CONFIG: OnceLock<usize> = OnceLock::new();
    *CONFIG.get_or_init(|| {
        fake_envoy::install();
        let config = config_new(FILTER_NAME, RICH_CONFIG.as_bytes());
        assert!(
            !config.is_null(),
            "the shell refused the rich configuration: {:?}",
            fake_envoy::take_logs()
        );
        config as usize
    })
}

/// Input: as the request target (seed, header fields, route name); the shell picks its own randomness.
/// Whether `cluster` is one of the configuration's names, or a name that takes the request's port
/// with some port in it.
fn is_configured(router: &traffic_shift::router::Router, cluster: &[u8]) -> bool {
    router
        .entries
        .iter()
        .flat_map(|e| &e.targets)
        .any(|target| {
            target.cluster.as_bytes() == cluster
                || target
                    .port_holes
                    .as_ref()
                    .is_some_and(|holes| holes.is_filled(cluster))
        })
}

/// Returns the cluster header the upstream would see.
pub fn shell_request(data: &[u8]) -> Option<Vec<u8>> {
    let config = rich_config() as *const c_void;
    let mut cursor = Cursor::new(data);
    cursor.u64();
    ENVOY.with(|envoy| {
        let mut envoy = envoy.borrow_mut();
        envoy.request_headers.clear();
        envoy.response_headers.clear();
        for name in REQUEST_HEADERS {
            if let Some(value) = cursor.field() {
                envoy
                    .request_headers
                    .push((name.as_bytes().to_vec(), value.to_vec()));
            }
        }
        envoy.route_name = cursor.field().map(<[u8]>::to_vec);
    });
    let counted_before: u64 = ENVOY.with(|envoy| envoy.borrow().counters.iter().sum());
    let stream_envoy = std::ptr::dangling_mut::<c_void>();
    unsafe {
        let stream = shell::envoy_dynamic_module_on_http_filter_new(config, stream_envoy);
        assert!(!stream.is_null());
        shell::envoy_dynamic_module_on_http_filter_request_headers(stream_envoy, stream, true);
        shell::envoy_dynamic_module_on_http_filter_response_headers(stream_envoy, stream, true);
        shell::envoy_dynamic_module_on_http_filter_destroy(stream);
    }
    assert_no_panic(&fake_envoy::take_logs());
    let sent = ENVOY.with(|envoy| {
        let envoy = envoy.borrow();
        let values = |headers: &[(Vec<u8>, Vec<u8>)], name: &[u8]| -> Vec<Vec<u8>> {
            headers
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let sent = values(&envoy.request_headers, CLUSTER_HEADER);
        assert!(sent.len() <= 1, "more than one cluster header: {sent:?}");
        let sent = sent.into_iter().next();
        if let Some(cluster) = &sent {
            assert!(
                is_configured(rich_router(), cluster),
                "cluster {cluster:?} is not configured"
            );
        }
        // The response names the destination exactly when the request was routed.
        assert_eq!(
            values(&envoy.response_headers, RESPONSE_HEADER),
            sent.iter().cloned().collect::<Vec<_>>()
        );
        let counted: u64 = envoy.counters.iter().sum();
        assert_eq!(counted, counted_before + 1, "a request is counted once");
        sent
    });
    check_specifier();
    sent
}

/// The rich configuration without the headers a cluster specifier cannot write.
fn specifier_config() -> usize {
    static CONFIG: OnceLock<usize> = OnceLock::new();
    *CONFIG.get_or_init(|| {
        let mut document: serde_json::Value = serde_json::from_str(RICH_CONFIG).unwrap();
        let top = document.as_object_mut().unwrap();
        top.remove("responseHeader");
        top.remove("clusterHeader");
        let text = document.to_string();
        let name = buffer(FILTER_NAME);
        let config = unsafe {
            shell::envoy_dynamic_module_on_cluster_specifier_config_new(
                std::ptr::dangling_mut(),
                name,
                buffer(text.as_bytes()),
            )
        };
        assert!(
            !config.is_null(),
            "the specifier refused the rich configuration: {:?}",
            fake_envoy::take_logs()
        );
        config as usize
    })
}

/// The cluster specifier on the request in the fake Envoy: a configured cluster or none, counted once.
fn check_specifier() {
    let config = specifier_config() as *const c_void;
    let counted_before: u64 = ENVOY.with(|envoy| envoy.borrow().counters.iter().sum());
    ENVOY.with(|envoy| envoy.borrow_mut().selected_cluster = None);
    let selected = unsafe {
        shell::envoy_dynamic_module_on_cluster_specifier_select(config, std::ptr::dangling_mut())
    };
    assert_no_panic(&fake_envoy::take_logs());
    ENVOY.with(|envoy| {
        let envoy = envoy.borrow();
        assert_eq!(selected, envoy.selected_cluster.is_some());
        if let Some(cluster) = &envoy.selected_cluster {
            assert!(
                is_configured(rich_router(), cluster),
                "cluster {cluster:?} is not configured"
            );
        }
        assert_eq!(
            envoy.counters.iter().sum::<u64>(),
            counted_before + 1,
            "a selection is counted once"
        );
    });
}
