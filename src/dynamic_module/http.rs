//! The HTTP filter `traffic-shift`: strips the client's cluster header, decides, sets the header the
//! route reads (Envoy matches the route again), counts, and names the destination in the response.

use super::abi::{self, ConfigEnvoyPtr, EnvoyBuffer, FilterEnvoyPtr, CONTINUE, STOP_ITERATION};
use super::host::Stream;
use super::{configure, guarded, with_random, MetricCallbacks, Shared};
use std::ffi::c_void;
use std::sync::Arc;

/// One stream: its configuration, and the kernel's state between the hooks.
struct ShiftStream {
    shared: Arc<Shared>,
    stream: crate::shell::Stream,
}

/// # Safety
/// Called by Envoy: `name` and `config` point at bytes valid for the call.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy_ptr: ConfigEnvoyPtr,
    name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    guarded(std::ptr::null(), || {
        let shared = unsafe {
            configure(
                config_envoy_ptr,
                name,
                config,
                |_| Ok(()),
                |c| MetricCallbacks {
                    define_counter: c.define_counter,
                    define_gauge: c.define_gauge,
                    set_gauge: c.set_gauge,
                },
            )
        };
        shared.map_or(std::ptr::null(), |shared| {
            Arc::into_raw(Arc::new(shared)).cast::<c_void>()
        })
    })
}

/// # Safety
/// `config` is a pointer returned by `..._config_new`, destroyed once.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    guarded((), || {
        if !config.is_null() {
            let shared = unsafe { Arc::from_raw(config.cast::<Shared>()) };
            shared.stop();
        }
    })
}

/// # Safety
/// `config` is a live pointer returned by `..._config_new`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: *const c_void,
    _filter_envoy_ptr: FilterEnvoyPtr,
) -> *const c_void {
    guarded(std::ptr::null(), || {
        if config.is_null() {
            return std::ptr::null();
        }
        let config = config.cast::<Shared>();
        // The stream holds its own reference: nothing depends on the order Envoy destroys them in.
        unsafe { Arc::increment_strong_count(config) };
        let shared = unsafe { Arc::from_raw(config) };
        Box::into_raw(Box::new(ShiftStream {
            shared,
            stream: crate::shell::Stream::default(),
        }))
        .cast::<c_void>()
    })
}

/// # Safety
/// `filter` is a pointer returned by `..._http_filter_new`, destroyed once.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(filter: *const c_void) {
    guarded((), || {
        if !filter.is_null() {
            drop(unsafe { Box::from_raw(filter.cast_mut().cast::<ShiftStream>()) });
        }
    })
}

/// The host view and the module's state of the stream a hook runs for.
///
/// # Safety
/// `filter_envoy_ptr` is the live stream and `filter` its pointer from `..._http_filter_new`, used by
/// this hook alone.
unsafe fn stream<'a>(
    filter_envoy_ptr: FilterEnvoyPtr,
    filter: *const c_void,
) -> Option<(Stream, &'a mut ShiftStream)> {
    let callbacks = abi::callbacks()?;
    let state = filter.cast_mut().cast::<ShiftStream>().as_mut()?;
    Some((
        Stream {
            filter: filter_envoy_ptr,
            callbacks,
        },
        state,
    ))
}

/// Runs a header hook on its stream; the stream continues unless the hook answered it.
///
/// # Safety
/// As for [`stream`].
unsafe fn on_headers(
    filter_envoy_ptr: FilterEnvoyPtr,
    filter: *const c_void,
    hook: impl FnOnce(&Stream, &mut ShiftStream) -> u32,
) -> u32 {
    guarded(CONTINUE, || {
        match unsafe { stream(filter_envoy_ptr, filter) } {
            Some((host, state)) => hook(&host, state),
            None => CONTINUE,
        }
    })
}

/// # Safety
/// `filter_envoy_ptr` is the live stream and `filter` its pointer from `..._http_filter_new`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter_envoy_ptr: FilterEnvoyPtr,
    filter: *const c_void,
    _end_of_stream: bool,
) -> u32 {
    let decided = guarded(None, || match unsafe { stream(filter_envoy_ptr, filter) } {
        Some((host, stream)) => Some(on_request(&host, stream)),
        None => Some(CONTINUE),
    });
    let Some(status) = decided else {
        // A panic (logged by the hook) must not let the client's cluster header through.
        guarded((), || {
            if let Some((host, stream)) = unsafe { stream(filter_envoy_ptr, filter) } {
                host.remove_request_header(&stream.shared.router.cluster_header);
            }
        });
        return CONTINUE;
    };
    status
}

/// The kernel on the request; the status the hook answers Envoy with.
fn on_request(host: &Stream, state: &mut ShiftStream) -> u32 {
    let shared = &state.shared;
    state.stream = with_random(|random| {
        shared.with_router(|router| shared.kernel.on_request(router, host, random))
    });
    if state.stream.answered_locally {
        // A Gateway API rule without backendRefs was answered with a local reply.
        return STOP_ITERATION;
    }
    CONTINUE
}

/// # Safety
/// As for the request headers.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    filter_envoy_ptr: FilterEnvoyPtr,
    filter: *const c_void,
    _end_of_stream: bool,
) -> u32 {
    on_headers(filter_envoy_ptr, filter, |host, state| {
        let shared = &state.shared;
        // Cluster names do not change with weights: the compiled router names them.
        shared
            .kernel
            .on_response(&shared.router, &mut state.stream, host);
        CONTINUE
    })
}

/// Hooks Envoy 1.40 requires of every HTTP filter module; this filter has nothing to do in them.
macro_rules! nothing_to_do {
    ($($name:ident($($arg:ty),*) -> $ret:ty = $value:expr;)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($(_: $arg),*) -> $ret {
            guarded($value, || $value)
        }
    )*};
}

type Ptr = *const c_void;
nothing_to_do! {
    envoy_dynamic_module_on_http_filter_request_body(FilterEnvoyPtr, Ptr, bool) -> u32 = CONTINUE;
    envoy_dynamic_module_on_http_filter_request_trailers(FilterEnvoyPtr, Ptr) -> u32 = CONTINUE;
    envoy_dynamic_module_on_http_filter_response_body(FilterEnvoyPtr, Ptr, bool) -> u32 = CONTINUE;
    envoy_dynamic_module_on_http_filter_response_trailers(FilterEnvoyPtr, Ptr) -> u32 = CONTINUE;
    envoy_dynamic_module_on_http_filter_stream_complete(FilterEnvoyPtr, Ptr) -> () = ();
    envoy_dynamic_module_on_http_filter_http_callout_done(
        FilterEnvoyPtr, Ptr, u64, u32, Ptr, usize, Ptr, usize) -> () = ();
    envoy_dynamic_module_on_http_filter_http_stream_headers(
        FilterEnvoyPtr, Ptr, u64, Ptr, usize, bool) -> () = ();
    envoy_dynamic_module_on_http_filter_http_stream_data(
        FilterEnvoyPtr, Ptr, u64, Ptr, usize, bool) -> () = ();
    envoy_dynamic_module_on_http_filter_http_stream_trailers(FilterEnvoyPtr, Ptr, u64, Ptr, usize) -> () = ();
    envoy_dynamic_module_on_http_filter_http_stream_complete(FilterEnvoyPtr, Ptr, u64) -> () = ();
    envoy_dynamic_module_on_http_filter_http_stream_reset(FilterEnvoyPtr, Ptr, u64, u32) -> () = ();
    envoy_dynamic_module_on_http_filter_scheduled(FilterEnvoyPtr, Ptr, u64) -> () = ();
    envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
        FilterEnvoyPtr, Ptr) -> () = ();
    envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
        FilterEnvoyPtr, Ptr) -> () = ();
}
