//! Host calls that must never trap a request: every failure becomes "absent" or is ignored.

use crate::request::RequestSource;
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::types::{BufferType, MapType};

pub fn plugin_configuration() -> Vec<u8> {
    hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A seed from WASI `random_get`; the clock if that is unavailable (spreading load needs no secret).
pub fn entropy_seed() -> u64 {
    let mut seed = [0u8; 8];
    if getrandom::getrandom(&mut seed).is_ok() {
        return u64::from_le_bytes(seed);
    }
    log::warn!("traffic-shift: no entropy from the host; seeding from the clock");
    hostcalls::get_current_time()
        .ok()
        .and_then(|now| now.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0x2545_f491_4f6c_dd1d, |since| since.as_nanos() as u64)
}

/// Reads the current request through the host, as raw bytes (header values may be any bytes).
pub struct HostRequest;

impl RequestSource for HostRequest {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name)
            .ok()
            .flatten()
    }

    fn route_name(&self) -> Option<Vec<u8>> {
        hostcalls::get_property(vec!["xds", "route_name"])
            .ok()
            .flatten()
    }
}

pub fn set_request_header(name: &str, value: &str) {
    if hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value)).is_err() {
        log::warn!("traffic-shift: could not set {name}");
    }
}

/// Removes a header only when the client sent it: any header change makes Envoy clear its route
/// cache and match the route again, while looking up an absent header costs next to nothing.
pub fn remove_request_header_if_present(name: &str) {
    if HostRequest.header(name).is_none() {
        return;
    }
    if hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None).is_err() {
        log::warn!("traffic-shift: could not remove {name}");
    }
}

pub fn add_response_header(name: &str, value: &str) {
    if hostcalls::add_map_value(MapType::HttpResponseHeaders, name, value).is_err() {
        log::warn!("traffic-shift: could not add {name}");
    }
}
