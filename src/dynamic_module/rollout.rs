//! Rollouts in the native module. Workers are threads of one process, so one [`Engine`] serves
//! every worker of a configuration: its records live in process memory ([`STORE`], the same
//! compare-and-swap rules as proxy-wasm shared data), the router in force is swapped behind a lock,
//! and a thread of the module is the timer. Envoy 1.40's ABI gives an HTTP filter configuration a
//! scheduler that runs an event on the main thread but no timer, and gives a cluster specifier
//! neither; the thread sleeps until the engine's next instant and does the tick itself, calling
//! only Envoy's log and its configuration's gauges, which Envoy implements thread-safe (spdlog,
//! atomic gauges). The thread ends when nothing can change any more, or when the configuration is
//! destroyed (it is joined before Envoy frees the configuration it sets gauges on).

use super::abi::{self, ConfigEnvoyPtr, ConfigMetric};
use super::host;
use crate::rollout::engine::{Level, RolloutHost};
use crate::rollout::shared::ProcessStore;
use crate::rollout::Engine;
use crate::router::Router;
use std::sync::{Arc, Condvar, LazyLock, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The guard's records of every configuration of this process, by entry name.
pub static STORE: LazyLock<ProcessStore> = LazyLock::new(ProcessStore::default);

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_millis()).ok())
        .unwrap_or(0)
}

/// Envoy's handle of the configuration, for its gauges; used by the timer thread.
#[derive(Clone, Copy)]
pub struct ConfigHost {
    config: ConfigEnvoyPtr,
    set_gauge: ConfigMetric,
}

// SAFETY: Envoy's configuration outlives the timer thread (joined in `Live::stop`, called from the
// configuration's destroy hook), and its gauge callback is thread-safe.
unsafe impl Send for ConfigHost {}
unsafe impl Sync for ConfigHost {}

impl ConfigHost {
    pub fn new(config: ConfigEnvoyPtr, set_gauge: ConfigMetric) -> Self {
        ConfigHost { config, set_gauge }
    }
}

impl RolloutHost for ConfigHost {
    fn log(&self, level: Level, line: &str) {
        let level = match level {
            Level::Info => abi::LOG_INFO,
            Level::Warn => abi::LOG_WARN,
        };
        host::log(level, line);
    }

    fn set_gauge(&self, id: u64, value: u64) {
        if let Ok(id) = usize::try_from(id) {
            // SAFETY: the configuration is live (see above); no labels are passed.
            unsafe { (self.set_gauge)(self.config, id, std::ptr::null_mut(), 0, value) };
        }
    }
}

/// A configuration with rollouts: the router in force and the engine that moves it on.
pub struct Live {
    /// The configuration as compiled; each change of weights is applied to a copy of it.
    base: Router,
    current: RwLock<Arc<Router>>,
    engine: Arc<Engine<&'static ProcessStore>>,
    host: ConfigHost,
    stopped: Mutex<bool>,
    wake: Condvar,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl Live {
    /// Compiles the weights in force now and starts the timer if anything can still change.
    pub fn start(
        base: Router,
        engine: Arc<Engine<&'static ProcessStore>>,
        host: ConfigHost,
    ) -> Arc<Live> {
        let now = now_ms();
        engine.advance(now, &host);
        let mut router = base.clone();
        engine.apply(&mut router);
        let live = Arc::new(Live {
            base,
            current: RwLock::new(Arc::new(router)),
            engine,
            host,
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            timer: Mutex::new(None),
        });
        let first = live.engine.tick_ms(now);
        if first > 0 {
            let ticking = Arc::clone(&live);
            let spawned = std::thread::Builder::new()
                .name("traffic-shift-rollout".to_string())
                .spawn(move || ticking.run(first));
            match spawned {
                Ok(handle) => {
                    *live.timer.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
                }
                Err(_) => host::log(
                    abi::LOG_WARN,
                    "no timer thread; rollouts stay where they are",
                ),
            }
        }
        live
    }

    /// The router in force.
    pub fn router(&self) -> Arc<Router> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The timer: sleeps until the next instant, ticks, until nothing can change or it is stopped.
    fn run(&self, mut wait_ms: u64) {
        loop {
            let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            let (stopped, _) = self
                .wake
                .wait_timeout_while(stopped, Duration::from_millis(wait_ms), |s| !*s)
                .unwrap_or_else(PoisonError::into_inner);
            if *stopped {
                return;
            }
            drop(stopped);
            let now = now_ms();
            if self.engine.advance(now, &self.host) {
                let mut router = self.base.clone();
                self.engine.apply(&mut router);
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(router);
            }
            wait_ms = self.engine.tick_ms(now);
            if wait_ms == 0 {
                return;
            }
        }
    }

    /// Stops the timer and waits for it: called when Envoy destroys the configuration.
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
        let handle = self
            .timer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}
