//! The shell: the only code that talks to the proxy-wasm host.
//!
//! `Root` compiles the configuration in `on_configure` (refusing a bad one with one log line)
//! and hands it, with the VM's random source, to each request's [`http::ShiftRequest`].

mod host;
mod http;
mod rollout;

use crate::config;
use crate::random::SplitMix64;
use crate::rollout::engine::MetricKind;
use crate::rollout::Engine;
use crate::router::Router;
use crate::shell::{self, Counters, Kernel};
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::traits::{Context, HttpContext, RootContext};
use ::proxy_wasm::types::{ContextType, LogLevel};
use rollout::SharedData;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

::proxy_wasm::main! {{
    ::proxy_wasm::set_log_level(LogLevel::Info);
    // No plugin yet, so Envoy's prefix names none ("wasm log: "): this line names the filter itself.
    log::info!("traffic-shift {}", shell::loaded_line(""));
    ::proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::new()) });
}}

/// What every request of one plugin configuration shares.
pub struct Shared {
    pub router: Router,
    /// Take the whole request header map in one call (`Attributes::reads_several_values`), decided
    /// once per configuration.
    pub whole_header_map: bool,
    pub kernel: Rc<Kernel<SharedData>>,
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
                kernel: Rc::new(Kernel {
                    counters: Counters::default(),
                    rollouts: Arc::default(),
                }),
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
            log::warn!("no timer from the host; rollouts stay where they are");
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
                let counters =
                    Counters::define(&router, |name| rollout::define(MetricKind::Counter, name));
                // The weights in force now, before any request; the timer keeps them current.
                let rollouts =
                    Arc::new(Engine::new(&router, &bytes, || SharedData, rollout::define));
                let now = rollout::now_ms();
                rollouts.advance(now, &rollout::Host);
                rollouts.apply(&mut router);
                self.set_tick(rollouts.tick_ms(now));
                let whole_header_map = router.attributes.reads_several_values();
                log::info!(
                    "configured {}, setting header {}, reading request headers {}",
                    router.describe_entries(),
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
                    kernel: Rc::new(Kernel { counters, rollouts }),
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
        let rollouts = &self.shared.kernel.rollouts;
        let changed = rollouts.advance(now, &rollout::Host);
        self.set_tick(rollouts.tick_ms(now));
        if !changed {
            return;
        }
        let shared = &self.shared;
        let mut router = shared.router.clone();
        shared.kernel.rollouts.apply(&mut router);
        self.shared = Rc::new(Shared {
            router,
            whole_header_map: shared.whole_header_map,
            kernel: Rc::clone(&shared.kernel),
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
