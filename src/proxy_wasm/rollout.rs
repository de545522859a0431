//! Rollouts in the proxy-wasm shell: the core engine's records in the VM's shared data, its metrics
//! and log lines through the host, the clock the root context's timer reads.

use crate::rollout::engine::{Level, MetricKind, RolloutHost};
use crate::rollout::shared::{CasStore, ReadError, Versioned, WriteError};
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::types::{MetricType, Status};
use std::time::UNIX_EPOCH;

/// proxy-wasm shared data: one store for every VM of the same `vm_id` in this Envoy.
pub struct SharedData;

impl CasStore for SharedData {
    fn get(&self, key: &str) -> Result<Option<Versioned>, ReadError> {
        match hostcalls::get_shared_data(key) {
            Ok((Some(value), Some(version))) => Ok(Some(Versioned { value, version })),
            Ok(_) => Ok(None),
            Err(_) => Err(ReadError),
        }
    }

    fn set(&self, key: &str, value: &[u8], version: u32) -> Result<(), WriteError> {
        match hostcalls::set_shared_data(key, Some(value), Some(version)) {
            Ok(()) => Ok(()),
            Err(Status::CasMismatch) => Err(WriteError::Mismatch),
            Err(_) => Err(WriteError::Failed),
        }
    }
}

/// Log lines and metric values through the host.
pub struct Host;

impl RolloutHost for Host {
    fn log(&self, level: Level, line: &str) {
        match level {
            Level::Info => log::info!("{line}"),
            Level::Warn => log::warn!("{line}"),
        }
    }

    fn set_gauge(&self, id: u64, value: u64) {
        if let Ok(id) = u32::try_from(id) {
            let _ = hostcalls::record_metric(id, value);
        }
    }
}

/// Defines a metric the engine asks for; `None` (logged) when the host refuses.
pub fn define(kind: MetricKind, name: &str) -> Option<u64> {
    let kind = match kind {
        MetricKind::Counter => MetricType::Counter,
        MetricKind::Gauge => MetricType::Gauge,
    };
    let id = hostcalls::define_metric(kind, name).ok();
    if id.is_none() {
        log::warn!("could not define metric {name}");
    }
    id.map(u64::from)
}

pub fn now_ms() -> i64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|now| now.duration_since(UNIX_EPOCH).ok())
        .and_then(|since| i64::try_from(since.as_millis()).ok())
        .unwrap_or(0)
}
