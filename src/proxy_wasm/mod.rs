//! The shell: the only code that talks to the proxy-wasm host.
//!
//! `Root` compiles the configuration in `on_configure` (refusing a bad one with one log line)
//! and hands it, with the VM's random source, to each request's [`http::ShiftRequest`].

mod host;
mod http;
mod metrics;
mod rollout;

use crate::config;
use crate::random::SplitMix64;
use crate::router::Router;
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::traits::{Context, HttpContext, RootContext};
use ::proxy_wasm::types::{ContextType, LogLevel};
use metrics::Counters;
use rollout::Rollouts;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const GIT_COMMIT: &str = match option_env!("TRAFFIC_SHIFT_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

::proxy_wasm::main! {{
    ::proxy_wasm::set_log_level(LogLevel::Info);
    log::info!("traffic-shift {VERSION} (commit {GIT_COMMIT}) loaded");
    ::proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::new()) });
}}

/// What every request of one plugin configuration shares.
pub struct Shared {
    pub router: Router,
    /// Take the whole request header map in one call (`Attributes::reads_several_values`), decided
    /// once per configuration.
    pub whole_header_map: bool,
    pub counters: Counters,
    pub rollouts: Rc<Rollouts>,
}

struct Root {
    shared: Rc<Shared>,
    /// One generator per VM (a VM runs on one worker thread), seeded once.
    random: Rc<RefCell<SplitMix64>>,
    /// The host timer's period in milliseconds; zero when off.
    tick: u64,
}

impl Root {
    fn new() -> Self {
        Root {
            shared: Rc::new(Shared {
                router: Router::default(),
                whole_header_map: false,
                counters: Counters::default(),
                rollouts: Rc::default(),
            }),
            random: Rc::new(RefCell::new(SplitMix64::new(host::entropy_seed()))),
            tick: 0,
        }
    }

    /// Re-arms the host timer only when its period changes.
    fn set_tick(&mut self, period_ms: u64) {
        if period_ms == self.tick {
            return;
        }
        if hostcalls::set_tick_period(Duration::from_millis(period_ms)).is_err() {
            log::warn!("traffic-shift: no timer from the host; rollouts stay where they are");
        }
        self.tick = period_ms;
    }
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = host::plugin_configuration();
        match config::parse(&bytes) {
            Ok(mut router) => {
                let counters = Counters::define(&router);
                // The weights in force now, before any request; the timer keeps them current.
                let rollouts = Rc::new(Rollouts::new(
                    &router,
                    &bytes,
                    || rollout::SharedData,
                    rollout::define,
                ));
                let now = rollout::now_ms();
                rollouts.advance(now, &rollout::Host);
                rollouts.apply(&mut router);
                self.set_tick(rollouts.tick_ms(now));
                let whole_header_map = router.attributes.reads_several_values();
                log::info!(
                    "traffic-shift: configured {} http entries, setting header {}, reading request headers {}",
                    router.entries.len(),
                    router.cluster_header,
                    if whole_header_map {
                        "in one call"
                    } else {
                        "one at a time"
                    }
                );
                self.shared = Rc::new(Shared {
                    router,
                    whole_header_map,
                    counters,
                    rollouts,
                });
                true
            }
            Err(error) => {
                log::error!("{error}");
                false
            }
        }
    }

    /// Rollouts move on here, not in requests: a new router only when some weights change.
    fn on_tick(&mut self) {
        let now = rollout::now_ms();
        let changed = self.shared.rollouts.advance(now, &rollout::Host);
        self.set_tick(self.shared.rollouts.tick_ms(now));
        if !changed {
            return;
        }
        let shared = &self.shared;
        let mut router = shared.router.clone();
        shared.rollouts.apply(&mut router);
        self.shared = Rc::new(Shared {
            router,
            whole_header_map: shared.whole_header_map,
            counters: shared.counters.clone(),
            rollouts: Rc::clone(&shared.rollouts),
        });
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(http::ShiftRequest::new(
            Rc::clone(&self.shared),
            Rc::clone(&self.random),
        )))
    }
}
