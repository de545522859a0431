//! The cluster specifier plugin `traffic-shift`: the route names the plugin, and the plugin names the
//! route's cluster directly (no header written, no route matched again). Unmatched requests keep the
//! route without a cluster (503). It has no response hook, so `responseHeader` is refused, and no
//! header to write, so `clusterHeader` is refused too: nothing configured is silently ignored.

use super::abi::{self, ConfigEnvoyPtr, EnvoyBuffer, SelectionEnvoyPtr};
use super::host::Selection;
use super::{configure, guarded, with_random, MetricCallbacks, Shared};
use crate::config::ConfigError;
use crate::router::{Router, DEFAULT_CLUSTER_HEADER};
use std::ffi::c_void;

/// A specifier configuration: the shared compiled config, and Envoy's handle for counting.
struct Specifier {
    shared: Shared,
    config_envoy_ptr: ConfigEnvoyPtr,
}

/// A configuration the core accepts but the cluster specifier cannot run, refused in the core's
/// one-line form.
fn refusal(path: String, reason: String) -> String {
    ConfigError { path, reason }.to_string()
}

fn only_what_a_specifier_does(router: &Router) -> Result<(), String> {
    let refuse = |field: &str| {
        Err(refusal(
            field.to_string(),
            format!(
                "the cluster specifier sets no headers; use the traffic-shift HTTP filter for {field}"
            ),
        ))
    };
    if router.response_header.is_some() {
        return refuse("responseHeader");
    }
    if router.cluster_header != DEFAULT_CLUSTER_HEADER {
        return refuse("clusterHeader");
    }
    // It picks a cluster before the request goes upstream and never sees the answer.
    let guarded = router
        .entries
        .iter()
        .filter_map(|entry| entry.rollout.as_ref())
        .find(|rollout| rollout.guard.is_some());
    if let Some(rollout) = guarded {
        return Err(refusal(
            format!("{}.guard", rollout.path),
            "the cluster specifier never sees the answer, so it cannot guard a rollout; use the \
             traffic-shift HTTP filter for a guarded rollout (a rollout without guard runs here)"
                .to_string(),
        ));
    }
    Ok(())
}

/// # Safety
/// Called by Envoy: `name` and `config` point at bytes valid for the call.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_cluster_specifier_config_new(
    config_envoy_ptr: ConfigEnvoyPtr,
    name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    guarded(std::ptr::null(), || {
        let configured = unsafe {
            configure(
                config_envoy_ptr,
                name,
                config,
                only_what_a_specifier_does,
                |c| MetricCallbacks {
                    define_counter: c.specifier_define_counter,
                    define_gauge: c.specifier_define_gauge,
                    set_gauge: c.specifier_set_gauge,
                },
            )
        };
        let Some(shared) = configured else {
            return std::ptr::null();
        };
        Box::into_raw(Box::new(Specifier {
            shared,
            config_envoy_ptr,
        }))
        .cast::<c_void>()
    })
}

/// # Safety
/// `config` is a pointer returned by `..._cluster_specifier_config_new`, destroyed once, after every
/// selection that used it.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_cluster_specifier_config_destroy(
    config: *const c_void,
) {
    guarded((), || {
        if !config.is_null() {
            let specifier = unsafe { Box::from_raw(config.cast_mut().cast::<Specifier>()) };
            specifier.shared.stop();
        }
    })
}

/// Picks the cluster for one request; false leaves the route without one.
///
/// # Safety
/// `config` is a live configuration and `selection` the route selection Envoy is making.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_cluster_specifier_select(
    config: *const c_void,
    selection: SelectionEnvoyPtr,
) -> bool {
    guarded(false, || {
        let (Some(callbacks), Some(specifier)) = (abi::callbacks(), unsafe {
            config.cast::<Specifier>().as_ref()
        }) else {
            return false;
        };
        let request = Selection {
            selection,
            callbacks,
        };
        let shared = &specifier.shared;
        with_random(|random| {
            shared.with_router(|router| {
                let (cluster, counter) = shared.kernel.pick(router, &request, random);
                if let Some(counter) = counter.and_then(|c| usize::try_from(c).ok()) {
                    // SAFETY: the configuration is live; no labels are passed. A lost count is not
                    // an error.
                    unsafe {
                        (callbacks.specifier_increment_counter)(
                            specifier.config_envoy_ptr,
                            counter,
                            std::ptr::null_mut(),
                            0,
                            1,
                        )
                    };
                }
                match cluster {
                    Some(cluster) => {
                        request.set_cluster(&cluster);
                        true
                    }
                    None => false,
                }
            })
        })
    })
}
