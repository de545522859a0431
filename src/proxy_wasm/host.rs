//! Host calls that must never trap a request: every failure becomes "absent" or is ignored.

use crate::header_block::HeaderBlock;
use crate::request::RequestSource;
use crate::shell::{self, AnswerHost, FilterHost};
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::types::{BufferType, MapType, Status};
use std::borrow::Cow;
use std::cell::OnceCell;

pub fn plugin_configuration() -> Vec<u8> {
    hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A seed from WASI `random_get`; the host's clock if that is unavailable.
pub fn entropy_seed() -> u64 {
    let clock = || {
        let now = hostcalls::get_current_time().ok()?;
        Some(now.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos())
    };
    shell::entropy_seed(clock, |line| log::warn!("{line}"))
}

/// The current request, read through the host as raw bytes (header values may be any bytes).
pub struct HostRequest {
    /// Take the whole header map in one call on the first read (the configuration reads several
    /// values: `Attributes::reads_several_values`) rather than each header on its own.
    whole_map: bool,
    /// The map once taken; `None` inside if the host refused it (then headers are read one by one).
    block: OnceCell<Option<HeaderBlock<HostBytes>>>,
}

impl HostRequest {
    pub fn new(whole_map: bool) -> Self {
        HostRequest {
            whole_map,
            block: OnceCell::new(),
        }
    }

    /// Whether the client may have sent `name`: from the map if this request already took it (a
    /// lookup in module memory; a malformed map cannot say no), else one host lookup (cheap when
    /// absent, the usual case).
    pub fn has_header(&self, name: &str) -> bool {
        match self.block.get() {
            Some(Some(block)) => block.get(name).is_some() || !block.is_well_formed(),
            _ => request_header(name).is_some(),
        }
    }
}

impl RequestSource for HostRequest {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        // The map, once taken (up front, or for a repeated header), answers every later read.
        let block = if self.whole_map {
            self.block.get_or_init(request_header_map).as_ref()
        } else {
            self.block.get().and_then(Option::as_ref)
        };
        match block {
            Some(block) => block.get(name).map(Cow::Borrowed),
            None => request_header(name).map(|value| Cow::Owned(value.into_vec())),
        }
    }

    /// Envoy 1.40's single-value read hands over only a header's first value, so the later ones
    /// come from the whole map: one call, taken only when a present header's first value fails a
    /// condition, and kept for the rest of the request.
    fn any_later_value(&self, name: &str, test: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.block
            .get_or_init(request_header_map)
            .as_ref()
            .is_some_and(|block| block.values(name).skip(1).any(test))
    }

    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        hostcalls::get_property(vec!["xds", "route_name"])
            .ok()
            .flatten()
            .map(Cow::Owned)
    }
}

impl FilterHost for HostRequest {
    fn set_request_header(&self, name: &str, value: &str) {
        set_request_header(name, value);
    }

    fn remove_request_header_if_present(&self, name: &str) {
        remove_request_header_if_present(self, name);
    }

    fn increment(&self, counter: u64) {
        increment(counter);
    }

    fn send_local_reply(&self, status: u32, _details: &str) {
        if hostcalls::send_http_response(status, vec![], None).is_err() {
            log::warn!("could not answer {status}");
        }
    }
}

/// The answer passing through the response hook.
pub struct Answer;

impl AnswerHost for Answer {
    fn response_status(&self) -> Option<u64> {
        let status = map_value(RESPONSE_HEADERS, ":status")?;
        std::str::from_utf8(status.as_ref()).ok()?.parse().ok()
    }

    fn response_code_details(&self) -> Option<Vec<u8>> {
        hostcalls::get_property(vec!["response", "code_details"])
            .ok()
            .flatten()
    }

    fn add_response_header(&self, name: &str, value: &str) {
        add_response_header(name, value);
    }

    fn increment(&self, counter: u64) {
        increment(counter);
    }
}

/// Adds one to a counter; a lost count must not fail the request.
fn increment(counter: u64) {
    if let Ok(id) = u32::try_from(counter) {
        let _ = hostcalls::increment_metric(id, 1);
    }
}

const REQUEST_HEADERS: u32 = MapType::HttpRequestHeaders as u32;
const RESPONSE_HEADERS: u32 = MapType::HttpResponseHeaders as u32;
const STATUS_OK: u32 = Status::Ok as u32;

// The ABI's calls, declared here (the SDK declares them too) so that an unexpected status is an
// absent value: the SDK's wrappers panic on one, which would trap the VM.
extern "C" {
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
}

/// Replaces a request header; false when the host refused (its wrapper would trap instead).
fn replace_request_header(name: &str, value: &str) -> bool {
    // SAFETY: both buffers outlive the call; the host only reads them.
    let status = unsafe {
        proxy_replace_header_map_value(
            REQUEST_HEADERS,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    };
    status == STATUS_OK
}

/// Removes a request header; false when the host refused.
fn remove_request_header(name: &str) -> bool {
    // SAFETY: the name outlives the call; the host only reads it.
    let status =
        unsafe { proxy_remove_header_map_value(REQUEST_HEADERS, name.as_ptr(), name.len()) };
    status == STATUS_OK
}

/// Bytes the host wrote into memory it allocated through `proxy_on_memory_allocate` (a `Vec<u8>`
/// of exactly that size), freed when dropped.
pub struct HostBytes(Vec<u8>);

impl HostBytes {
    /// Takes over what a call returned; `None` unless it succeeded.
    fn take(status: u32, data: *mut u8, size: usize) -> Option<HostBytes> {
        if status != STATUS_OK {
            return None;
        }
        if data.is_null() {
            return Some(HostBytes(Vec::new()));
        }
        // SAFETY: on success the host returns memory from the SDK's `proxy_on_memory_allocate`, a
        // forgotten `Vec<u8>` with capacity `size`, which it filled with `size` bytes.
        Some(HostBytes(unsafe { Vec::from_raw_parts(data, size, size) }))
    }

    fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl AsRef<[u8]> for HostBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn request_header(name: &str) -> Option<HostBytes> {
    map_value(REQUEST_HEADERS, name)
}

fn map_value(map_type: u32, name: &str) -> Option<HostBytes> {
    let (mut data, mut size) = (std::ptr::null_mut(), 0);
    // SAFETY: the name outlives the call; the host writes only the two return slots.
    let status = unsafe {
        proxy_get_header_map_value(map_type, name.as_ptr(), name.len(), &mut data, &mut size)
    };
    HostBytes::take(status, data, size)
}

fn request_header_map() -> Option<HeaderBlock<HostBytes>> {
    let (mut data, mut size) = (std::ptr::null_mut(), 0);
    // SAFETY: as for one header.
    let status = unsafe { proxy_get_header_map_pairs(REQUEST_HEADERS, &mut data, &mut size) };
    HostBytes::take(status, data, size).map(HeaderBlock::new)
}

/// Sets `name`, replacing what the client sent; if the host refuses, the client's value must not
/// survive: the header is removed instead (the route then finds no cluster).
fn set_request_header(name: &str, value: &str) {
    if !replace_request_header(name, value) {
        log::warn!("could not set {name}; removing it");
        if !remove_request_header(name) {
            log::warn!("could not remove {name}");
        }
    }
}

/// Removes a header only when the client sent it: any header change makes Envoy clear its route
/// cache and match the route again, while looking up an absent header costs next to nothing.
fn remove_request_header_if_present(request: &HostRequest, name: &str) {
    if !request.has_header(name) {
        return;
    }
    if !remove_request_header(name) {
        log::warn!("could not remove {name}");
    }
}

fn add_response_header(name: &str, value: &str) {
    if hostcalls::add_map_value(MapType::HttpResponseHeaders, name, value).is_err() {
        log::warn!("could not add {name}");
    }
}
