//! The guard's state shared by every worker of one Envoy (proxy-wasm shared data, compare-and-swap):
//! the window of the growing destinations' counts, and the stage last announced, whose top value
//! means "tripped". Keys hold a hash of the configuration bytes: the same configuration pushed
//! again finds its trip; any change starts over.

use super::host;
use crate::rollout::{Stage, Totals, Window};
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::types::Status;

/// Attempts of a compare-and-swap before giving up until the next tick.
const CAS_ATTEMPTS: usize = 8;
/// Below every [`Stage::order`].
const NOTHING_ANNOUNCED: u64 = 0;

fn decode_code(bytes: Option<Vec<u8>>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(NOTHING_ANNOUNCED, u64::from_le_bytes)
}

pub struct SharedKeys {
    stage: String,
    window: String,
}

impl SharedKeys {
    /// The keys of one entry; creates them when absent, so every later write can compare-and-swap.
    pub fn new(config_hash: u64, entry: &str) -> Self {
        let prefix = format!("traffic-shift/rollout/{config_hash:016x}/{entry}");
        let keys = SharedKeys {
            stage: format!("{prefix}/stage"),
            window: format!("{prefix}/window"),
        };
        // Envoy cannot create-if-absent; two workers creating at once write the same empty value.
        create(&keys.stage, &NOTHING_ANNOUNCED.to_le_bytes());
        create(&keys.window, &Window::default().encode());
        keys
    }

    pub fn tripped(&self) -> bool {
        let (bytes, _) = hostcalls::get_shared_data(&self.stage).unwrap_or((None, None));
        decode_code(bytes) == Stage::Tripped.order()
    }

    /// Moves the shared stage forward to `stage`; true for the one worker that did (it logs).
    pub fn announce(&self, stage: Stage) -> bool {
        let wanted = stage.order();
        for _ in 0..CAS_ATTEMPTS {
            let Ok((bytes, cas)) = hostcalls::get_shared_data(&self.stage) else {
                return false;
            };
            if cas.is_none() || decode_code(bytes) >= wanted {
                return false;
            }
            match hostcalls::set_shared_data(&self.stage, Some(&wanted.to_le_bytes()), cas) {
                Ok(()) => return true,
                Err(Status::CasMismatch) => continue,
                Err(_) => return false,
            }
        }
        false
    }

    /// Adds this worker's counts to the shared window; the window's totals at `now_ms` after.
    pub fn publish(&self, now_ms: i64, bucket_ms: u64, counts: Totals) -> Option<Totals> {
        for _ in 0..CAS_ATTEMPTS {
            let (bytes, cas) = hostcalls::get_shared_data(&self.window).ok()?;
            cas?;
            let mut window = Window::decode(bytes.as_deref().unwrap_or_default());
            window.add(now_ms, bucket_ms, counts);
            match hostcalls::set_shared_data(&self.window, Some(&window.encode()), cas) {
                Ok(()) => return Some(window.totals(now_ms, bucket_ms)),
                Err(Status::CasMismatch) => continue,
                Err(_) => return None,
            }
        }
        None
    }
}

fn create(key: &str, value: &[u8]) {
    if let Ok((None, _)) = hostcalls::get_shared_data(key) {
        let _ = hostcalls::set_shared_data(key, Some(value), None);
    }
}

/// A response counts as failed when Envoy or the upstream answered 5xx.
pub fn response_failed() -> bool {
    host::response_header(":status").is_some_and(|status| status.len() == 3 && status[0] == b'5')
}
