//! Envoy counters for the split, named by [`crate::stat_name`] exactly as the Wasm shell names them,
//! so the same tag regexes give `traffic_shift_requests_total{entry, destination, host, subset}` and
//! `traffic_shift_unmatched_requests_total`. Envoy lists them under the module's metrics namespace
//! (`dynamicmodulescustom.`, where Wasm has `wasmcustom.`) in admin `/stats`.

use super::abi::{self, ConfigEnvoyPtr, DefineCounter, ModuleBuffer};
use super::host;
use crate::router::{Decision, Router};
use crate::stat_name;

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
        host::log(
            abi::LOG_WARN,
            &format!("traffic-shift: could not define metric {name}"),
        );
    }
    id
}

/// Counter ids, as Envoy gave them out when the configuration was created.
#[derive(Debug, Default)]
pub struct Counters {
    /// `per_destination[entry][destination]`; `None` when Envoy refused to define it.
    per_destination: Vec<Vec<Option<usize>>>,
    unmatched: Option<usize>,
}

impl Counters {
    /// Defined once per configuration (Envoy allows it only then), so requests only increment.
    /// `define` is the HTTP filter's or the cluster specifier's callback, for `config`.
    pub fn define(router: &Router, define: DefineCounter, config: ConfigEnvoyPtr) -> Self {
        let (per_destination, unmatched) =
            stat_name::define_counters(router, |name| define_metric(define, config, name));
        Counters {
            per_destination,
            unmatched,
        }
    }

    /// The counter a decision adds to.
    pub fn id(&self, decision: Option<Decision>) -> Option<usize> {
        match decision {
            Some(d) => self
                .per_destination
                .get(d.entry)
                .and_then(|dests| dests.get(d.destination))
                .copied()
                .flatten(),
            None => self.unmatched,
        }
    }
}
