//! Envoy counters for the split: `traffic_shift.<entry>.<cluster>.requests` per destination and
//! `traffic_shift.unmatched_requests`. Envoy lists them under `wasmcustom.` in its admin `/stats`.

use crate::router::{Decision, Router};
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::types::MetricType;

#[derive(Debug, Default)]
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
        Counters {
            per_destination: router
                .entries
                .iter()
                .map(|entry| {
                    entry
                        .clusters
                        .iter()
                        .map(|cluster| {
                            counter(&format!("traffic_shift.{}.{cluster}.requests", entry.name))
                        })
                        .collect()
                })
                .collect(),
            unmatched: counter("traffic_shift.unmatched_requests"),
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
