//! A stand-in for Envoy behind the dynamic-module shell's callbacks: one stream's headers, the log,
//! the counters, all per thread, so the shell's exported entry points run without Envoy.

use crate::dynamic_module::{
    self, Callbacks, EnvoyBuffer, ModuleBuffer, ATTRIBUTE_RESPONSE_CODE_DETAILS, METRICS_SUCCESS,
    REQUEST_HEADERS,
};
use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::Once;

/// What the fake Envoy holds for the current thread's stream.
#[derive(Debug, Default)]
pub struct FakeEnvoy {
    pub request_headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub response_headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub route_name: Option<Vec<u8>>,
    /// (level, message) per log call.
    pub logs: Vec<(u32, String)>,
    /// The value of each counter defined so far, by id.
    pub counters: Vec<u64>,
    pub route_cache_clears: usize,
    /// What the cluster specifier named.
    pub selected_cluster: Option<Vec<u8>>,
    /// Envoy's `response.code_details` for the stream (who answered, and why).
    pub response_code_details: Option<Vec<u8>>,
    /// Refuse to set a header value (removals still work): a failed host call.
    pub refuse_header_values: bool,
    /// The status of a local reply the filter sent.
    pub local_reply: Option<u32>,
}

thread_local! {
    pub static ENVOY: RefCell<FakeEnvoy> = RefCell::new(FakeEnvoy::default());
}

/// `envoy_dynamic_module_type_metrics_result_MetricNotFound`.
const METRIC_NOT_FOUND: u32 = 1;

unsafe fn bytes(buffer: ModuleBuffer) -> Vec<u8> {
    if buffer.ptr.is_null() {
        return Vec::new();
    }
    std::slice::from_raw_parts(buffer.ptr.cast::<u8>(), buffer.length).to_vec()
}

fn with<T>(f: impl FnOnce(&mut FakeEnvoy) -> T) -> T {
    ENVOY.with(|envoy| f(&mut envoy.borrow_mut()))
}

fn map(envoy: &mut FakeEnvoy, header_type: u32) -> &mut Vec<(Vec<u8>, Vec<u8>)> {
    if header_type == REQUEST_HEADERS {
        &mut envoy.request_headers
    } else {
        &mut envoy.response_headers
    }
}

unsafe extern "C" fn log(level: u32, message: ModuleBuffer) {
    let message = String::from_utf8_lossy(&bytes(message)).into_owned();
    with(|envoy| envoy.logs.push((level, message)));
}

unsafe extern "C" fn get_header(
    _: *mut c_void,
    header_type: u32,
    key: ModuleBuffer,
    result: *mut EnvoyBuffer,
    index: usize,
    size: *mut usize,
) -> bool {
    let key = bytes(key);
    with(|envoy| {
        let values: Vec<&(Vec<u8>, Vec<u8>)> = map(envoy, header_type)
            .iter()
            .filter(|(k, _)| *k == key)
            .collect();
        if !size.is_null() {
            *size = values.len();
        }
        // As Envoy: the value stays where it is until a header is set, so a pointer into it is valid.
        *result = values
            .get(index)
            .map_or(EnvoyBuffer::EMPTY, |(_, v)| EnvoyBuffer {
                ptr: v.as_ptr().cast(),
                length: v.len(),
            });
    });
    true
}

unsafe extern "C" fn set_header(
    _: *mut c_void,
    header_type: u32,
    key: ModuleBuffer,
    value: ModuleBuffer,
) -> bool {
    let (removing, key, value) = (value.ptr.is_null(), bytes(key), bytes(value));
    with(|envoy| {
        if envoy.refuse_header_values && !removing {
            return false;
        }
        let headers = map(envoy, header_type);
        headers.retain(|(k, _)| *k != key);
        if !removing {
            headers.push((key, value));
        }
        true
    })
}

unsafe extern "C" fn add_header(
    _: *mut c_void,
    header_type: u32,
    key: ModuleBuffer,
    value: ModuleBuffer,
) -> bool {
    let (key, value) = (bytes(key), bytes(value));
    with(|envoy| map(envoy, header_type).push((key, value)));
    true
}

unsafe extern "C" fn clear_route_cache(_: *mut c_void) {
    with(|envoy| envoy.route_cache_clears += 1);
}

unsafe extern "C" fn get_attribute_string(
    _: *mut c_void,
    attribute: u32,
    result: *mut EnvoyBuffer,
) -> bool {
    with(|envoy| {
        let value = match attribute {
            ATTRIBUTE_RESPONSE_CODE_DETAILS => &envoy.response_code_details,
            _ => &envoy.route_name,
        };
        // As Envoy: the value stays where it is for the hook, so a pointer into it is valid.
        match value {
            Some(value) => {
                *result = EnvoyBuffer {
                    ptr: value.as_ptr().cast(),
                    length: value.len(),
                };
                true
            }
            None => false,
        }
    })
}

unsafe extern "C" fn define_counter(
    _: *mut c_void,
    _name: ModuleBuffer,
    _labels: *mut ModuleBuffer,
    _label_count: usize,
    id: *mut usize,
) -> u32 {
    with(|envoy| {
        *id = envoy.counters.len();
        envoy.counters.push(0);
    });
    METRICS_SUCCESS
}

unsafe extern "C" fn increment_counter(
    _: *mut c_void,
    id: usize,
    _labels: *mut ModuleBuffer,
    _label_count: usize,
    value: u64,
) -> u32 {
    with(|envoy| match envoy.counters.get_mut(id) {
        Some(counter) => {
            *counter += value;
            METRICS_SUCCESS
        }
        None => METRIC_NOT_FOUND,
    })
}

// The cluster specifier reads the same fake request; its selection handle is ignored.
unsafe extern "C" fn specifier_get_header(
    selection: *mut c_void,
    key: ModuleBuffer,
    result: *mut EnvoyBuffer,
    index: usize,
    size: *mut usize,
) -> bool {
    get_header(selection, REQUEST_HEADERS, key, result, index, size)
}

unsafe extern "C" fn specifier_get_route_name(
    selection: *mut c_void,
    result: *mut EnvoyBuffer,
) -> bool {
    get_attribute_string(selection, 0, result)
}

unsafe extern "C" fn send_response(
    _: *mut c_void,
    status: u32,
    _: *mut c_void,
    _: usize,
    _: ModuleBuffer,
    _: ModuleBuffer,
) {
    with(|envoy| envoy.local_reply = Some(status));
}

unsafe extern "C" fn specifier_set_cluster_name(_: *mut c_void, name: ModuleBuffer) {
    let name = bytes(name);
    with(|envoy| envoy.selected_cluster = Some(name));
}

unsafe extern "C" fn define_gauge(
    _: *mut c_void,
    name: ModuleBuffer,
    _: *mut ModuleBuffer,
    _: usize,
    id: *mut usize,
) -> u32 {
    let name = String::from_utf8_lossy(&bytes(name)).into_owned();
    // Gauges are set from the module's timer thread too: this fake keeps them process-wide.
    let mut gauges = GAUGES.lock().unwrap_or_else(|e| e.into_inner());
    gauges.push((name, 0));
    *id = gauges.len() - 1;
    METRICS_SUCCESS
}

unsafe extern "C" fn set_gauge(
    _: *mut c_void,
    id: usize,
    _: *mut ModuleBuffer,
    _: usize,
    value: u64,
) -> u32 {
    let mut gauges = GAUGES.lock().unwrap_or_else(|e| e.into_inner());
    match gauges.get_mut(id) {
        Some(gauge) => {
            gauge.1 = value;
            METRICS_SUCCESS
        }
        None => METRIC_NOT_FOUND,
    }
}

/// Every gauge defined so far in the process: (name, value).
pub static GAUGES: std::sync::Mutex<Vec<(String, u64)>> = std::sync::Mutex::new(Vec::new());

/// The value of the last gauge defined under `name`.
pub fn gauge(name: &str) -> Option<u64> {
    let gauges = GAUGES.lock().unwrap_or_else(|e| e.into_inner());
    gauges
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
}

/// Installs the fake as the shell's host, once per process.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        dynamic_module::initialise(Callbacks {
            log,
            get_header,
            set_header,
            add_header,
            send_response,
            clear_route_cache,
            get_attribute_string,
            define_counter,
            increment_counter,
            specifier_get_header,
            specifier_get_route_name,
            specifier_set_cluster_name,
            specifier_define_counter: define_counter,
            specifier_increment_counter: increment_counter,
            define_gauge,
            set_gauge,
            specifier_define_gauge: define_gauge,
            specifier_set_gauge: set_gauge,
        })
    });
}

/// Takes what was logged on this thread so far.
pub fn take_logs() -> Vec<(u32, String)> {
    with(|envoy| std::mem::take(&mut envoy.logs))
}
