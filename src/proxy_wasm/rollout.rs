//! Rollouts in the proxy-wasm shell. The root context's tick feeds the wall clock to the core
//! schedule; when a stage changes, the root swaps in a router compiled with the new weights, so a
//! request never asks the host for the time and a rollout entry costs what a plain one does.
//! Requests routed to a growing destination of a guarded entry are counted ([`Watch`]), and the
//! tick publishes the counts to the guard's window shared by all workers.

use super::guard::SharedKeys;
use crate::rollout::guard::percent;
use crate::rollout::schedule::SHARE_SCALE;
use crate::rollout::{Rollout, Stage, Totals};
use crate::router::{Decision, Router};
use crate::stat_name::{self, stat_name};
use crate::sticky::fnv1a;
use crate::weighted::WeightedChoice;
use ::proxy_wasm::hostcalls;
use ::proxy_wasm::types::MetricType;
use std::cell::Cell;
use std::time::{Duration, UNIX_EPOCH};

/// How often each worker looks at the clock and the shared guard state: trips reach every worker
/// within this long. Ticks are shortened to land on a step's instant, so all workers (and proxies)
/// switch within a few milliseconds of it.
pub const TICK: Duration = Duration::from_millis(100);

fn define(kind: MetricType, name: &str) -> Option<u32> {
    let id = hostcalls::define_metric(kind, name).ok();
    if id.is_none() {
        log::warn!("traffic-shift: could not define metric {name}");
    }
    id
}

fn record(id: Option<u32>, value: u64) {
    if let Some(id) = id {
        let _ = hostcalls::record_metric(id, value);
    }
}

pub fn now_ms() -> i64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|now| now.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_millis() as i64)
}

/// One rollout entry of the configuration, on this worker.
struct Tracked {
    entry: usize,
    name: String,
    rollout: Rollout,
    /// `None` until the first tick.
    stage: Cell<Option<Stage>>,
    /// Per destination: counted by the guard (it grows and the entry is guarded).
    watched: Vec<bool>,
    /// Watched answers since the last tick, on this worker.
    counts: Cell<Totals>,
    keys: SharedKeys,
    share_gauges: Vec<Option<u32>>,
    error_counters: Vec<Option<u32>>,
    progress_gauge: Option<u32>,
    tripped_gauge: Option<u32>,
}

/// A request the guard counts: routed to a growing destination of a guarded entry while ramping.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    slot: usize,
    destination: usize,
}

#[derive(Default)]
pub struct Rollouts {
    tracked: Vec<Tracked>,
    /// `by_entry[entry]`: the entry's slot in `tracked`.
    by_entry: Vec<Option<usize>>,
}

impl Rollouts {
    /// Metrics and shared keys for the configuration's rollout entries; `config` is its bytes.
    pub fn new(router: &Router, config: &[u8]) -> Self {
        let config_hash = fnv1a(config);
        let mut rollouts = Rollouts::default();
        for (index, entry) in router.entries.iter().enumerate() {
            let Some(rollout) = &entry.rollout else {
                continue;
            };
            let guarded = rollout.guard.is_some();
            let watched: Vec<bool> = rollout
                .schedule
                .growing()
                .into_iter()
                .map(|grows| grows && guarded)
                .collect();
            // Named by the crate's one naming scheme (labelled, as the request counters).
            let per_destination = |metric, kind, wanted: &dyn Fn(usize) -> bool| {
                (0..entry.clusters.len())
                    .map(|i| {
                        let tags = stat_name::destination_tags(entry, i).filter(|_| wanted(i))?;
                        define(kind, &stat_name(metric, &tags))
                    })
                    .collect()
            };
            let entry_gauge = |metric| {
                define(
                    MetricType::Gauge,
                    &stat_name(metric, &[(stat_name::ENTRY, &entry.name)]),
                )
            };
            rollouts.by_entry.resize(index + 1, None);
            rollouts.by_entry[index] = Some(rollouts.tracked.len());
            rollouts.tracked.push(Tracked {
                entry: index,
                name: entry.name.clone(),
                rollout: rollout.clone(),
                stage: Cell::new(None),
                share_gauges: per_destination(stat_name::ROLLOUT_SHARE, MetricType::Gauge, &|_| {
                    true
                }),
                error_counters: per_destination(
                    stat_name::ROLLOUT_ERRORS,
                    MetricType::Counter,
                    &|i| watched.get(i) == Some(&true),
                ),
                watched,
                counts: Cell::new(Totals::default()),
                keys: SharedKeys::new(config_hash, &entry.name),
                progress_gauge: entry_gauge(stat_name::ROLLOUT_PROGRESS),
                tripped_gauge: entry_gauge(stat_name::ROLLOUT_TRIPPED),
            });
        }
        rollouts
    }

    /// Whether the guard counts this request's answer.
    pub fn watch(&self, decision: Option<Decision>) -> Option<Watch> {
        if self.tracked.is_empty() {
            return None;
        }
        let decision = decision?;
        let slot = (*self.by_entry.get(decision.entry)?)?;
        let tracked = self.tracked.get(slot)?;
        let guarding = tracked
            .stage
            .get()
            .is_some_and(|stage| tracked.rollout.guarding(stage));
        (guarding && tracked.watched.get(decision.destination) == Some(&true)).then_some(Watch {
            slot,
            destination: decision.destination,
        })
    }

    /// A watched request ended: answered (5xx or not), or reset before any answer (`failed`).
    pub fn answered(&self, watch: Watch, failed: bool) {
        let Some(tracked) = self.tracked.get(watch.slot) else {
            return;
        };
        let mut counts = tracked.counts.get();
        counts.requests += 1;
        if failed {
            counts.errors += 1;
            if let Some(Some(id)) = tracked.error_counters.get(watch.destination) {
                let _ = hostcalls::increment_metric(*id, 1);
            }
        }
        tracked.counts.set(counts);
    }

    /// One tick: publish this worker's counts, trip if the shared window says so, and move each
    /// entry to the stage in force. True when some entry's weights changed.
    pub fn advance(&self, now_ms: i64) -> bool {
        let mut changed = false;
        for tracked in &self.tracked {
            tracked.guard(now_ms);
            let tripped = tracked.rollout.guard.is_some() && tracked.keys.tripped();
            let stage = tracked.rollout.stage_at(now_ms, tripped);
            if tracked.stage.get() != Some(stage) {
                tracked.stage.set(Some(stage));
                tracked.took_effect(stage);
                changed = true;
            }
        }
        changed
    }

    /// The period until the next tick: TICK, or less when a step falls due sooner; zero (no timer)
    /// once nothing can change any more (every ramp done or tripped, no guard watching).
    pub fn tick_period(&self, now_ms: i64) -> Duration {
        let next = self
            .tracked
            .iter()
            .filter_map(|t| t.rollout.next_change_ms(now_ms, t.stage.get()?))
            .min();
        let watching = self
            .tracked
            .iter()
            .any(|t| t.stage.get().is_some_and(|stage| t.rollout.guarding(stage)));
        match next {
            None if !watching => Duration::ZERO,
            None => TICK,
            Some(at) => {
                let wait = u64::try_from(at - now_ms).unwrap_or(1).max(1);
                TICK.min(Duration::from_millis(wait))
            }
        }
    }

    /// Compiles the weights of every entry's stage into `router`.
    pub fn apply(&self, router: &mut Router) {
        for tracked in &self.tracked {
            let (Some(stage), Some(entry)) =
                (tracked.stage.get(), router.entries.get_mut(tracked.entry))
            else {
                continue;
            };
            let weights = tracked.rollout.weights(stage);
            if let Some(choice) = WeightedChoice::new(&weights) {
                entry.weights = weights;
                entry.choice = choice;
            }
        }
    }
}

impl Tracked {
    fn guard(&self, now_ms: i64) {
        let Some(guard) = &self.rollout.guard else {
            return;
        };
        let counts = self.counts.take();
        if counts.requests == 0 {
            return;
        }
        let Some(totals) = self.keys.publish(now_ms, guard.bucket_ms(), counts) else {
            return;
        };
        if guard.trips(totals) && self.keys.announce(Stage::Tripped) {
            log::warn!(
                "traffic-shift: rollout {} tripped: {} of {} requests to the new version failed ({}, more than {}) in the last {} ms; its from weights are in force until the configuration changes",
                self.name,
                totals.errors,
                totals.requests,
                percent(totals.error_permille()),
                percent((guard.max_error_rate * 1_000.0).round() as u64),
                guard.window_ms
            );
        }
    }

    /// Gauges on every worker; the log line from the one worker that announces the stage.
    fn took_effect(&self, stage: Stage) {
        let weights = self.rollout.weights(stage);
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        for (gauge, weight) in self.share_gauges.iter().zip(&weights) {
            record(*gauge, u64::from(*weight) * SHARE_SCALE / total.max(1));
        }
        record(self.progress_gauge, u64::from(self.rollout.progress(stage)));
        record(self.tripped_gauge, u64::from(stage == Stage::Tripped));
        if stage == Stage::Tripped || !self.keys.announce(stage) {
            return;
        }
        let steps = self.rollout.schedule.steps.len();
        match stage {
            Stage::Step(index) => log::info!(
                "traffic-shift: rollout {}: step {} of {steps} in force, progress {}%",
                self.name,
                index + 1,
                self.rollout.progress(stage)
            ),
            _ => log::info!(
                "traffic-shift: rollout {}: waiting for its start, from weights in force",
                self.name
            ),
        }
    }
}
