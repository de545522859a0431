//! The shell for Envoy's dynamic modules: the only code that talks to Envoy through its C ABI.
//!
//! Envoy loads `libtraffic_shift.so` and calls `envoy_dynamic_module_on_program_init` once. The module
//! offers two extension points, both named `traffic-shift` and configured with the plugin JSON:
//! the HTTP filter (`http.rs`, sets the cluster header as the Wasm filter does) and the cluster
//! specifier plugin (`specifier.rs`, names the route's cluster directly). A configuration is compiled
//! once and refused with one log line when invalid. Every exported function catches a panic before
//! it can unwind into Envoy (the `native` profile keeps `panic = "unwind"` for that).

mod abi;
mod host;
mod http;
mod rollout;
mod specifier;

pub use abi::{Callbacks, EnvoyBuffer, ModuleBuffer, ABI_VERSION};
pub use host::LOG_PREFIX;
// The ABI's values a fake Envoy and the tests speak.
pub use abi::{
    ATTRIBUTE_RESPONSE_CODE_DETAILS, CONTINUE, LOG_CRITICAL, LOG_ERROR, LOG_INFO, METRICS_SUCCESS,
    REQUEST_HEADERS, STOP_ITERATION,
};
pub use http::*;
pub use specifier::*;

use crate::config;
use crate::random::SplitMix64;
use crate::rollout::engine::MetricKind;
use crate::rollout::shared::ProcessStore;
use crate::rollout::Engine;
use crate::router::Router;
use crate::shell::{self, Counters, Kernel};
use host::define_metric;
use rollout::{ConfigHost, Live, STORE};
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// The name a configuration must carry (`filter_name` / `specifier_name` in Envoy's config).
pub const FILTER_NAME: &str = "traffic-shift";

thread_local! {
    /// One generator per worker thread, seeded once from the OS: requests never ask for randomness.
    static RANDOM: RefCell<SplitMix64> = RefCell::new(SplitMix64::new(host::entropy_seed()));
}

/// Runs an exported function's body; a panic becomes `fallback` (it was logged by the hook).
fn guarded<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Installs the host's callbacks and the panic logger; also how tests and fuzzing stand in for Envoy.
pub fn initialise(callbacks: Callbacks) {
    abi::install(callbacks);
    // Envoy's log gets the panic too; the previous hook (Rust's: stderr) still runs.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        host::log(abi::LOG_CRITICAL, &format!("panic: {info}"));
        previous(info);
    }));
}

/// What every request of one configuration shares across worker threads.
struct Shared {
    router: Router,
    kernel: Kernel<&'static ProcessStore>,
    /// Present when the configuration has rollouts: the router in force is the rollout's.
    live: Option<Arc<Live>>,
}

impl Shared {
    /// Runs `f` on the router in force.
    fn with_router<T>(&self, f: impl FnOnce(&Router) -> T) -> T {
        match &self.live {
            Some(live) => f(&live.router()),
            None => f(&self.router),
        }
    }

    /// Stops the rollouts' timer: Envoy is destroying the configuration it reports to.
    fn stop(&self) {
        if let Some(live) = &self.live {
            live.stop();
        }
    }
}

/// Runs `f` with this worker's generator (`None` only if it is somehow in use: never a panic).
fn with_random<T>(f: impl FnOnce(Option<&mut SplitMix64>) -> T) -> T {
    RANDOM.with(|random| f(random.try_borrow_mut().ok().as_deref_mut()))
}

/// An extension point's metric callbacks (the HTTP filter's or the cluster specifier's).
struct MetricCallbacks {
    define_counter: abi::DefineCounter,
    define_gauge: abi::DefineCounter,
    set_gauge: abi::ConfigMetric,
}

/// A new configuration for an extension point: compiled, with its counters defined, and its
/// rollouts started.
///
/// # Safety
/// `name` and `config` point at bytes valid for the call; `config_envoy_ptr` is the configuration
/// Envoy is creating.
unsafe fn configure(
    config_envoy_ptr: abi::ConfigEnvoyPtr,
    name: abi::EnvoyBuffer,
    config: abi::EnvoyBuffer,
    check: impl Fn(&Router) -> Result<(), String>,
    metrics: impl Fn(&Callbacks) -> MetricCallbacks,
) -> Option<Shared> {
    let callbacks = abi::callbacks()?;
    let metrics = metrics(callbacks);
    let bytes = config.bytes();
    let router = compile(name.bytes(), bytes, check)?;
    let define = |kind, name: &str| {
        let define = match kind {
            MetricKind::Counter => metrics.define_counter,
            MetricKind::Gauge => metrics.define_gauge,
        };
        define_metric(define, config_envoy_ptr, name).map(|id| id as u64)
    };
    let counters = Counters::define(&router, |name| define(MetricKind::Counter, name));
    let rollouts = Arc::new(Engine::new(&router, bytes, || &*STORE, define));
    let live = (!rollouts.is_empty()).then(|| {
        let host = ConfigHost::new(config_envoy_ptr, metrics.set_gauge);
        Live::start(router.clone(), Arc::clone(&rollouts), host)
    });
    Some(Shared {
        router,
        kernel: Kernel { counters, rollouts },
        live,
    })
}

/// The configuration Envoy passes for `name`, compiled; `None` (logged) when it must be refused.
/// `check` refuses what this extension point cannot do, in the same one-line form.
fn compile(
    name: &[u8],
    config: &[u8],
    check: impl Fn(&Router) -> Result<(), String>,
) -> Option<Router> {
    if name != FILTER_NAME.as_bytes() {
        host::log(
            abi::LOG_ERROR,
            &format!(
                "unknown name {:?}: this module has one filter and one cluster specifier, {FILTER_NAME:?}",
                String::from_utf8_lossy(name)
            ),
        );
        return None;
    }
    let refused = match config::parse(config) {
        Ok(router) => match check(&router) {
            Ok(()) => {
                host::log(
                    abi::LOG_INFO,
                    &format!("configured {}", router.describe_entries()),
                );
                return Some(router);
            }
            Err(line) => line,
        },
        Err(error) => error.to_string(),
    };
    host::log(abi::LOG_ERROR, &refused);
    None
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    guarded(std::ptr::null(), || match abi::resolve() {
        Ok(callbacks) => {
            initialise(callbacks);
            host::log(abi::LOG_INFO, &shell::loaded_line(" as a dynamic module"));
            ABI_VERSION.as_ptr()
        }
        Err(missing) => {
            // Envoy's log callback may be the one missing: stderr is all there is.
            eprintln!("traffic-shift: this Envoy lacks the callback {missing}; build the module for its version");
            std::ptr::null()
        }
    })
}
