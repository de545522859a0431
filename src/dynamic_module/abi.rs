//! The part of Envoy 1.40's dynamic-module C ABI (`source/extensions/dynamic_modules/abi/abi.h`) this
//! shell uses, declared by hand: the buffer types, the few enum values, and the callbacks it calls.
//!
//! Callbacks are looked up by name once, when Envoy loads the module (`resolve`), rather than linked:
//! a missing one then refuses the module at load with its name instead of failing mid-request, and
//! tests can install a fake host (`install`) without Envoy.

use std::ffi::{c_char, c_void, CStr};
use std::sync::OnceLock;

/// What `envoy_dynamic_module_on_program_init` answers: the ABI version of Envoy 1.40's `abi.h`
/// (`ENVOY_DYNAMIC_MODULES_ABI_VERSION`). Envoy logs "ABI version ... matched" when it is equal.
pub const ABI_VERSION: &CStr = c"v0.2.0";

/// `envoy_dynamic_module_type_envoy_buffer`: bytes owned by Envoy, valid during the current hook.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EnvoyBuffer {
    pub ptr: *const c_char,
    pub length: usize,
}

impl EnvoyBuffer {
    pub const EMPTY: EnvoyBuffer = EnvoyBuffer {
        ptr: std::ptr::null(),
        length: 0,
    };

    /// # Safety
    /// `ptr` must be null or point at `length` readable bytes that outlive `'a`.
    pub unsafe fn bytes<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.length)
    }
}

/// `envoy_dynamic_module_type_module_buffer`: bytes owned by the module, read by Envoy during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModuleBuffer {
    pub ptr: *const c_char,
    pub length: usize,
}

impl ModuleBuffer {
    /// A null buffer: for `set_header`, "remove the header".
    pub const NULL: ModuleBuffer = ModuleBuffer {
        ptr: std::ptr::null(),
        length: 0,
    };

    pub fn of(bytes: &[u8]) -> Self {
        ModuleBuffer {
            ptr: bytes.as_ptr().cast::<c_char>(),
            length: bytes.len(),
        }
    }
}

/// `envoy_dynamic_module_type_http_filter_envoy_ptr` and `..._http_filter_config_envoy_ptr`.
pub type FilterEnvoyPtr = *mut c_void;
pub type ConfigEnvoyPtr = *mut c_void;
/// `envoy_dynamic_module_type_cluster_specifier_context_envoy_ptr`: one route selection.
pub type SelectionEnvoyPtr = *mut c_void;

// C enums are `int`-sized; these are the values of the members used here.
/// `envoy_dynamic_module_type_http_header_type`.
pub const REQUEST_HEADERS: u32 = 0;
pub const RESPONSE_HEADERS: u32 = 2;
/// `envoy_dynamic_module_type_log_level`.
pub const LOG_INFO: u32 = 2;
pub const LOG_WARN: u32 = 3;
pub const LOG_ERROR: u32 = 4;
pub const LOG_CRITICAL: u32 = 5;
/// `envoy_dynamic_module_type_attribute_id_ResponseCodeDetails` (response.code_details).
pub const ATTRIBUTE_RESPONSE_CODE_DETAILS: u32 = 16;
/// `envoy_dynamic_module_type_attribute_id_XdsRouteName` (xds.route_name).
pub const ATTRIBUTE_XDS_ROUTE_NAME: u32 = 61;
/// `envoy_dynamic_module_type_metrics_result_Success`.
pub const METRICS_SUCCESS: u32 = 0;
/// `..._on_http_filter_{request,response}_*_status_Continue` (every status enum starts with it).
pub const CONTINUE: u32 = 0;
/// `..._on_http_filter_request_headers_status_StopIteration`: after a local reply.
pub const STOP_ITERATION: u32 = 1;

/// `..._config_define_counter(config, name, *label_names, label_count, *id) -> result`, the same for
/// the HTTP filter and the cluster specifier.
pub type DefineCounter =
    unsafe extern "C" fn(ConfigEnvoyPtr, ModuleBuffer, *mut ModuleBuffer, usize, *mut usize) -> u32;

/// `..._config_set_gauge(config, id, *label_values, label_count, value) -> result`, and the same shape
/// for `..._config_increment_counter`: the HTTP filter's and the cluster specifier's.
pub type ConfigMetric =
    unsafe extern "C" fn(ConfigEnvoyPtr, usize, *mut ModuleBuffer, usize, u64) -> u32;

/// The Envoy callbacks the shell calls (names without the `envoy_dynamic_module_callback_` prefix).
#[derive(Debug, Clone, Copy)]
pub struct Callbacks {
    /// `log(level, message)`
    pub log: unsafe extern "C" fn(u32, ModuleBuffer),
    /// `http_get_header(filter, header_type, key, *result, index, *optional_size) -> bool`
    pub get_header: unsafe extern "C" fn(
        FilterEnvoyPtr,
        u32,
        ModuleBuffer,
        *mut EnvoyBuffer,
        usize,
        *mut usize,
    ) -> bool,
    /// `http_set_header(filter, header_type, key, value)`; a null value removes the header.
    pub set_header: unsafe extern "C" fn(FilterEnvoyPtr, u32, ModuleBuffer, ModuleBuffer) -> bool,
    /// `http_add_header(filter, header_type, key, value)`
    pub add_header: unsafe extern "C" fn(FilterEnvoyPtr, u32, ModuleBuffer, ModuleBuffer) -> bool,
    /// `http_send_response(filter, status, *headers, header_count, body, details)`: a local reply.
    pub send_response:
        unsafe extern "C" fn(FilterEnvoyPtr, u32, *mut c_void, usize, ModuleBuffer, ModuleBuffer),
    /// `http_clear_route_cache(filter)`: the route is matched again, on the header just set.
    pub clear_route_cache: unsafe extern "C" fn(FilterEnvoyPtr),
    /// `http_filter_get_attribute_string(filter, attribute_id, *result) -> bool`
    pub get_attribute_string: unsafe extern "C" fn(FilterEnvoyPtr, u32, *mut EnvoyBuffer) -> bool,
    /// `http_filter_config_define_counter`
    pub define_counter: DefineCounter,
    /// `http_filter_config_define_gauge` (the same shape)
    pub define_gauge: DefineCounter,
    /// `http_filter_config_set_gauge`
    pub set_gauge: ConfigMetric,
    /// `http_filter_increment_counter(filter, id, *label_values, label_count, value) -> result`
    pub increment_counter:
        unsafe extern "C" fn(FilterEnvoyPtr, usize, *mut ModuleBuffer, usize, u64) -> u32,
    /// `cluster_specifier_get_request_header_value(selection, key, *result, index, *total) -> bool`
    pub specifier_get_header: unsafe extern "C" fn(
        SelectionEnvoyPtr,
        ModuleBuffer,
        *mut EnvoyBuffer,
        usize,
        *mut usize,
    ) -> bool,
    /// `cluster_specifier_get_route_name(selection, *result) -> bool`
    pub specifier_get_route_name: unsafe extern "C" fn(SelectionEnvoyPtr, *mut EnvoyBuffer) -> bool,
    /// `cluster_specifier_set_cluster_name(selection, name)`
    pub specifier_set_cluster_name: unsafe extern "C" fn(SelectionEnvoyPtr, ModuleBuffer),
    /// `cluster_specifier_config_define_counter`
    pub specifier_define_counter: DefineCounter,
    /// `cluster_specifier_config_define_gauge`
    pub specifier_define_gauge: DefineCounter,
    /// `cluster_specifier_config_set_gauge`
    pub specifier_set_gauge: ConfigMetric,
    /// `cluster_specifier_config_increment_counter(config, id, *label_values, label_count, value) -> result`
    pub specifier_increment_counter:
        unsafe extern "C" fn(ConfigEnvoyPtr, usize, *mut ModuleBuffer, usize, u64) -> u32,
}

static CALLBACKS: OnceLock<Callbacks> = OnceLock::new();

/// The installed callbacks; `None` before the module was initialised.
pub fn callbacks() -> Option<&'static Callbacks> {
    CALLBACKS.get()
}

/// Installs the host's callbacks (Envoy's, or a test's fake); the first installation wins.
pub fn install(callbacks: Callbacks) -> &'static Callbacks {
    CALLBACKS.get_or_init(|| callbacks)
}

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// `RTLD_DEFAULT` on Linux: search the global scope, where the Envoy binary exports its callbacks.
const RTLD_DEFAULT: *mut c_void = std::ptr::null_mut();

/// The address of `name` (NUL-terminated) in the global scope.
fn symbol(name: &'static str) -> Result<*mut c_void, String> {
    let printable = name.trim_end_matches('\0');
    let Ok(c_name) = CStr::from_bytes_with_nul(name.as_bytes()) else {
        return Err(printable.to_string());
    };
    // SAFETY: dlsym only reads the NUL-terminated name.
    let address = unsafe { dlsym(RTLD_DEFAULT, c_name.as_ptr()) };
    if address.is_null() {
        return Err(printable.to_string());
    }
    Ok(address)
}

macro_rules! callback {
    ($name:literal) => {{
        let address = symbol(concat!("envoy_dynamic_module_callback_", $name, "\0"))?;
        // SAFETY: the symbol is Envoy's callback of that name, whose C signature the field declares.
        unsafe { std::mem::transmute::<*mut c_void, _>(address) }
    }};
}

/// Looks every callback up in the running Envoy; the error names the first one missing.
#[allow(clippy::missing_transmute_annotations)] // each target type is the field it initialises
pub fn resolve() -> Result<Callbacks, String> {
    Ok(Callbacks {
        log: callback!("log"),
        get_header: callback!("http_get_header"),
        set_header: callback!("http_set_header"),
        add_header: callback!("http_add_header"),
        send_response: callback!("http_send_response"),
        clear_route_cache: callback!("http_clear_route_cache"),
        get_attribute_string: callback!("http_filter_get_attribute_string"),
        define_counter: callback!("http_filter_config_define_counter"),
        define_gauge: callback!("http_filter_config_define_gauge"),
        set_gauge: callback!("http_filter_config_set_gauge"),
        increment_counter: callback!("http_filter_increment_counter"),
        specifier_get_header: callback!("cluster_specifier_get_request_header_value"),
        specifier_get_route_name: callback!("cluster_specifier_get_route_name"),
        specifier_set_cluster_name: callback!("cluster_specifier_set_cluster_name"),
        specifier_define_counter: callback!("cluster_specifier_config_define_counter"),
        specifier_define_gauge: callback!("cluster_specifier_config_define_gauge"),
        specifier_set_gauge: callback!("cluster_specifier_config_set_gauge"),
        specifier_increment_counter: callback!("cluster_specifier_config_increment_counter"),
    })
}
