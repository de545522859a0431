//! Envoy counters for the split, named by [`crate::stat_name`] so that Envoy's tag regexes turn
//! them into `traffic_shift_requests_total{entry, destination, host, subset}` and
//! `traffic_shift_unmatched_requests_total` (Envoy puts Wasm stats under `wasmcustom.`).

use crate::router::{Decision, Router};
use crate::stat_name;
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::types::MetricType;

#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// `per_destination[entry][destination]`; `None` when the host refused to define it.
    per_destination: Vec<Vec<Option<u32>>>,
    unmatched: Option<u32>,
}

fn counter(name: &str) -> Option<u32> {
    let id = hostcalls::define_metric(MetricType::Counter, name).ok();
    if id.is_none() {
        log::warn!("traffic-shift: could not define counter {name}");
    }
    id
}

fn increment(id: Option<u32>) {
    if let Some(id) = id {
        // A lost count must not fail the request.
        let _ = hostcalls::increment_metric(id, 1);
    }
}

impl Counters {
    /// Defined once per configuration, so requests only increment.
    pub fn define(router: &Router) -> Self {
        let (per_destination, unmatched) = stat_name::define_counters(router, counter);
        Counters {
            per_destination,
            unmatched,
        }
    }

    pub fn count(&self, decision: Option<Decision>) {
        match decision {
            Some(d) => increment(
                self.per_destination
                    .get(d.entry)
                    .and_then(|dests| dests.get(d.destination))
                    .copied()
                    .flatten(),
            ),
            None => increment(self.unmatched),
        }
    }
}
