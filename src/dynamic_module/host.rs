//! Safe wrappers over the Envoy callbacks for one HTTP stream; every failure becomes "absent" or a
//! warning, never a crash.

use super::abi::{
    self, Callbacks, ConfigEnvoyPtr, DefineCounter, EnvoyBuffer, FilterEnvoyPtr, ModuleBuffer,
};
use crate::request::RequestSource;
use crate::shell::{self, AnswerHost, FilterHost};
use std::borrow::Cow;

/// What each of the module's lines starts with: Envoy's `[dynamic_modules]` log does not say which
/// module speaks. (The proxy-wasm shell's lines need none: Envoy starts them with the plugin's.)
pub const LOG_PREFIX: &str = "traffic-shift: ";

/// Logs `message` through Envoy's log, after [`LOG_PREFIX`]; silent before the callbacks are installed.
pub fn log(level: u32, message: &str) {
    if let Some(callbacks) = abi::callbacks() {
        let line = format!("{LOG_PREFIX}{message}");
        // SAFETY: the line outlives the call; Envoy copies it.
        unsafe { (callbacks.log)(level, ModuleBuffer::of(line.as_bytes())) }
    }
}

/// A seed from the OS; the clock if that fails.
pub fn entropy_seed() -> u64 {
    let clock = || {
        let now = std::time::SystemTime::now();
        Some(now.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos())
    };
    shell::entropy_seed(clock, |line| log(abi::LOG_WARN, line))
}

/// Defines a counter or gauge (`define` is the extension point's callback) on the configuration
/// being created; `None` (logged) when Envoy refuses.
pub fn define_metric(define: DefineCounter, config: ConfigEnvoyPtr, name: &str) -> Option<usize> {
    let mut id = 0;
    // SAFETY: `config` is the configuration being created; the name outlives the call.
    let result = unsafe {
        define(
            config,
            ModuleBuffer::of(name.as_bytes()),
            std::ptr::null_mut(),
            0,
            &mut id,
        )
    };
    let id = (result == abi::METRICS_SUCCESS).then_some(id);
    if id.is_none() {
        log(abi::LOG_WARN, &format!("could not define metric {name}"));
    }
    id
}

/// The stream Envoy is running a hook for.
pub struct Stream {
    pub filter: FilterEnvoyPtr,
    pub callbacks: &'static Callbacks,
}

impl Stream {
    fn request_header(&self, name: &str) -> Option<&[u8]> {
        self.header_at(abi::REQUEST_HEADERS, name, 0, std::ptr::null_mut())
    }

    /// The `index`th value of a request header; `total`, unless null, receives how many it has.
    fn request_header_at(&self, name: &str, index: usize, total: *mut usize) -> Option<&[u8]> {
        self.header_at(abi::REQUEST_HEADERS, name, index, total)
    }

    /// The answer's status, in the response hook.
    pub fn response_status(&self) -> Option<u64> {
        let status = self.header_at(abi::RESPONSE_HEADERS, ":status", 0, std::ptr::null_mut())?;
        std::str::from_utf8(status).ok()?.parse().ok()
    }

    /// Envoy's `response.code_details`: who answered (`via_upstream`) or why Envoy did.
    pub fn response_code_details(&self) -> Option<Vec<u8>> {
        let mut value = EnvoyBuffer::EMPTY;
        // SAFETY: `filter` is the live stream; the value is copied before the hook returns.
        let found = unsafe {
            (self.callbacks.get_attribute_string)(
                self.filter,
                abi::ATTRIBUTE_RESPONSE_CODE_DETAILS,
                &mut value,
            )
        };
        found.then(|| unsafe { value.bytes() }.to_vec())
    }

    /// The `index`th value of a header of `header_type`; `total`, unless null, receives how many.
    fn header_at(
        &self,
        header_type: u32,
        name: &str,
        index: usize,
        total: *mut usize,
    ) -> Option<&[u8]> {
        let mut value = EnvoyBuffer::EMPTY;
        // SAFETY: `filter` is the live stream of the current hook; `value` is written by Envoy and
        // stays valid until this hook returns or a header is set. Borrowed values live in the
        // decision's memo, which ends before the shell sets a header.
        let found = unsafe {
            (self.callbacks.get_header)(
                self.filter,
                header_type,
                ModuleBuffer::of(name.as_bytes()),
                &mut value,
                index,
                total,
            )
        };
        // Envoy answers true with a null buffer when the header is absent.
        (found && !value.ptr.is_null()).then(|| unsafe { value.bytes() })
    }

    fn set(&self, header_type: u32, name: &str, value: ModuleBuffer, add: bool) -> bool {
        let key = ModuleBuffer::of(name.as_bytes());
        let call = if add {
            self.callbacks.add_header
        } else {
            self.callbacks.set_header
        };
        // SAFETY: `filter` is the live stream; both buffers outlive the call.
        unsafe { call(self.filter, header_type, key, value) }
    }

    /// Replaces any value the client sent, then has Envoy match the route again on it. If Envoy
    /// refuses, the client's value must not survive: the header is removed instead.
    pub fn set_request_header(&self, name: &str, value: &str) {
        if !self.set(
            abi::REQUEST_HEADERS,
            name,
            ModuleBuffer::of(value.as_bytes()),
            false,
        ) {
            log(abi::LOG_WARN, &format!("could not set {name}; removing it"));
            self.remove_request_header(name);
            return;
        }
        self.clear_route_cache();
    }

    /// Removes the header whether or not the client sent it (the fail-safe paths), then has Envoy
    /// match the route again.
    pub fn remove_request_header(&self, name: &str) {
        if !self.set(abi::REQUEST_HEADERS, name, ModuleBuffer::NULL, false) {
            log(abi::LOG_WARN, &format!("could not remove {name}"));
        }
        self.clear_route_cache();
    }

    /// Removes a header only when the client sent it: the route is matched again only then.
    pub fn remove_request_header_if_present(&self, name: &str) {
        if self.request_header(name).is_some() {
            self.remove_request_header(name);
        }
    }

    /// Answers the request itself, with `status` and no body; the stream goes no further.
    pub fn send_local_reply(&self, status: u32, details: &str) {
        // SAFETY: `filter` is the live stream; no headers; the buffers outlive the call.
        unsafe {
            (self.callbacks.send_response)(
                self.filter,
                status,
                std::ptr::null_mut(),
                0,
                ModuleBuffer::NULL,
                ModuleBuffer::of(details.as_bytes()),
            )
        }
    }

    pub fn add_response_header(&self, name: &str, value: &str) {
        if !self.set(
            abi::RESPONSE_HEADERS,
            name,
            ModuleBuffer::of(value.as_bytes()),
            true,
        ) {
            log(abi::LOG_WARN, &format!("could not add {name}"));
        }
    }

    fn clear_route_cache(&self) {
        // SAFETY: `filter` is the live stream of the current hook.
        unsafe { (self.callbacks.clear_route_cache)(self.filter) }
    }

    /// Adds one to a counter defined by the stream's configuration; a lost count is not an error.
    pub fn increment(&self, counter: usize) {
        // SAFETY: `filter` is the live stream; no labels are passed.
        unsafe {
            (self.callbacks.increment_counter)(self.filter, counter, std::ptr::null_mut(), 0, 1)
        };
    }
}

impl FilterHost for Stream {
    fn set_request_header(&self, name: &str, value: &str) {
        Stream::set_request_header(self, name, value);
    }

    fn remove_request_header_if_present(&self, name: &str) {
        Stream::remove_request_header_if_present(self, name);
    }

    fn send_local_reply(&self, status: u32, details: &str) {
        Stream::send_local_reply(self, status, details);
    }

    fn increment(&self, counter: u64) {
        if let Ok(id) = usize::try_from(counter) {
            Stream::increment(self, id);
        }
    }
}

impl AnswerHost for Stream {
    fn response_status(&self) -> Option<u64> {
        Stream::response_status(self)
    }

    fn response_code_details(&self) -> Option<Vec<u8>> {
        Stream::response_code_details(self)
    }

    fn add_response_header(&self, name: &str, value: &str) {
        Stream::add_response_header(self, name, value);
    }

    fn increment(&self, counter: u64) {
        if let Ok(id) = usize::try_from(counter) {
            Stream::increment(self, id);
        }
    }
}

impl RequestSource for Stream {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.request_header(name).map(Cow::Borrowed)
    }

    fn any_later_value(&self, name: &str, test: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        any_later_by_index(
            |index, total| self.request_header_at(name, index, total),
            test,
        )
    }

    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        let mut value = EnvoyBuffer::EMPTY;
        // SAFETY: as for headers; the name is copied before the hook returns.
        let found = unsafe {
            (self.callbacks.get_attribute_string)(
                self.filter,
                abi::ATTRIBUTE_XDS_ROUTE_NAME,
                &mut value,
            )
        };
        found.then(|| Cow::Owned(unsafe { value.bytes() }.to_vec()))
    }
}

/// The route selection a cluster specifier is making: the request's headers, read only.
pub struct Selection {
    pub selection: abi::SelectionEnvoyPtr,
    pub callbacks: &'static Callbacks,
}

impl Selection {
    pub fn set_cluster(&self, cluster: &str) {
        // SAFETY: the selection is live; Envoy copies the name.
        unsafe {
            (self.callbacks.specifier_set_cluster_name)(
                self.selection,
                ModuleBuffer::of(cluster.as_bytes()),
            )
        }
    }
}

impl Selection {
    /// The `index`th value of a request header; `total`, unless null, receives how many it has.
    fn header_at(&self, name: &str, index: usize, total: *mut usize) -> Option<&[u8]> {
        let mut value = EnvoyBuffer::EMPTY;
        // SAFETY: the selection is live; the value is valid until the hook returns, and the
        // decision that borrows it ends before then.
        let found = unsafe {
            (self.callbacks.specifier_get_header)(
                self.selection,
                ModuleBuffer::of(name.as_bytes()),
                &mut value,
                index,
                total,
            )
        };
        (found && !value.ptr.is_null()).then(|| unsafe { value.bytes() })
    }
}

/// Whether a value after the first of a repeated header passes `test`, read by index through
/// `value_at(index, total)` (Envoy's indexed read, which also says how many values there are).
fn any_later_by_index<'a>(
    value_at: impl Fn(usize, *mut usize) -> Option<&'a [u8]>,
    test: &mut dyn FnMut(&[u8]) -> bool,
) -> bool {
    let mut total = 0;
    if value_at(1, &mut total).is_some_and(&mut *test) {
        return true;
    }
    (2..total).any(|index| value_at(index, std::ptr::null_mut()).is_some_and(&mut *test))
}

impl RequestSource for Selection {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.header_at(name, 0, std::ptr::null_mut())
            .map(Cow::Borrowed)
    }

    fn any_later_value(&self, name: &str, test: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        any_later_by_index(|index, total| self.header_at(name, index, total), test)
    }

    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        let mut value = EnvoyBuffer::EMPTY;
        // SAFETY: as for headers.
        let found =
            unsafe { (self.callbacks.specifier_get_route_name)(self.selection, &mut value) };
        found.then(|| Cow::Owned(unsafe { value.bytes() }.to_vec()))
    }
}
