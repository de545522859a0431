//! The rollout engine, host-free: given a compiled configuration, the wall clock a shell feeds it,
//! and the entries' records shared by workers ([`SharedRecord`]), it says which weights are in force,
//! when to wake next, which requests the guard watches, when an entry trips, and which log lines and
//! gauge values to emit. A shell calls [`Engine::advance`] from its timer and swaps in a router with
//! [`Engine::apply`]'s weights when it returns true; requests never ask for the time.
//!
//! Per-worker state is atomics so that one engine serves one worker (proxy-wasm: a VM per worker,
//! the record in shared data) or every worker of a process (the native module: one engine, its
//! record in process memory) alike.

use super::guard::{percent, Outcome, Totals};
use super::schedule::SHARE_SCALE;
use super::shared::{CasStore, Claimed, Published, SharedRecord};
use super::{Rollout, Stage};
use crate::router::{Decision, Router};
use crate::stat_name::{self, stat_name};
use crate::sticky::fnv1a;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// How often a shell's timer looks at the clock and the shared record while something can change:
/// trips reach every worker within this long. Shortened to land on a step's instant, so that all
/// workers (and proxies) switch within a few milliseconds of it.
pub const TICK_MS: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

/// What the engine asks of a shell's timer: log lines and gauge values (ids the shell's `define`
/// gave).
pub trait RolloutHost {
    fn log(&self, level: Level, line: &str);
    fn set_gauge(&self, id: u64, value: u64);
}

/// A request the guard counts: routed to a growing destination of a guarded entry while it watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    slot: usize,
    destination: usize,
}

/// One rollout entry of the configuration.
struct Tracked<S> {
    entry: usize,
    name: String,
    rollout: Rollout,
    /// [`Stage::order`] of the stage in force here; 0 before the first advance.
    stage: AtomicU64,
    /// Whether the guard watches requests now (set by advance).
    watching: AtomicBool,
    /// Per destination: counted by the guard (it grows and the entry is guarded).
    watched: Vec<bool>,
    /// Whether the claim of the shared record is still to be logged (by the first advance).
    claim_unlogged: AtomicBool,
    /// Watched answers not yet published.
    requests: AtomicU64,
    errors: AtomicU64,
    shared: SharedRecord<S>,
    share_gauges: Vec<Option<u64>>,
    error_counters: Vec<Option<u64>>,
    progress_gauge: Option<u64>,
    tripped_gauge: Option<u64>,
}

pub struct Engine<S> {
    tracked: Vec<Tracked<S>>,
    /// `by_entry[entry]`: the entry's slot in `tracked`.
    by_entry: Vec<Option<usize>>,
}

impl<S> Default for Engine<S> {
    fn default() -> Self {
        Engine {
            tracked: Vec::new(),
            by_entry: Vec::new(),
        }
    }
}

impl<S: CasStore> Engine<S> {
    /// The configuration's rollout entries (`config` is its bytes: the same bytes pushed again find
    /// their shared record), their records in `store()`, their metrics defined through `define`.
    pub fn new(
        router: &Router,
        config: &[u8],
        mut store: impl FnMut() -> S,
        mut define: impl FnMut(MetricKind, &str) -> Option<u64>,
    ) -> Self {
        let config_hash = fnv1a(config);
        let mut engine = Engine::default();
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
            let mut per_destination = |metric, kind, wanted: &dyn Fn(usize) -> bool| {
                (0..entry.targets.len())
                    .map(|i| {
                        let tags = stat_name::destination_tags(entry, i).filter(|_| wanted(i))?;
                        define(kind, &stat_name(metric, &tags))
                    })
                    .collect::<Vec<_>>()
            };
            let share_gauges =
                per_destination(stat_name::ROLLOUT_SHARE, MetricKind::Gauge, &|_| true);
            let error_counters =
                per_destination(stat_name::ROLLOUT_ERRORS, MetricKind::Counter, &|i| {
                    watched.get(i) == Some(&true)
                });
            let mut entry_gauge = |metric| {
                define(
                    MetricKind::Gauge,
                    &stat_name(metric, &[(stat_name::ENTRY, &entry.name)]),
                )
            };
            let progress_gauge = entry_gauge(stat_name::ROLLOUT_PROGRESS);
            let tripped_gauge = entry_gauge(stat_name::ROLLOUT_TRIPPED);
            engine.by_entry.resize(index + 1, None);
            engine.by_entry[index] = Some(engine.tracked.len());
            engine.tracked.push(Tracked {
                entry: index,
                name: entry.name.clone(),
                rollout: rollout.clone(),
                stage: AtomicU64::new(0),
                watching: AtomicBool::new(false),
                watched,
                claim_unlogged: AtomicBool::new(true),
                requests: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                shared: SharedRecord::claim(store(), &entry.name, config_hash),
                share_gauges,
                error_counters,
                progress_gauge,
                tripped_gauge,
            });
        }
        engine
    }

    pub fn is_empty(&self) -> bool {
        self.tracked.is_empty()
    }

    /// Whether the guard counts this request's answer.
    pub fn watch(&self, decision: Option<Decision>) -> Option<Watch> {
        if self.tracked.is_empty() {
            return None;
        }
        let decision = decision?;
        let slot = (*self.by_entry.get(decision.entry)?)?;
        let tracked = self.tracked.get(slot)?;
        (tracked.watching.load(Relaxed) && tracked.watched.get(decision.destination) == Some(&true))
            .then_some(Watch {
                slot,
                destination: decision.destination,
            })
    }

    /// A watched stream's answer had this outcome; one the upstream is not answerable for is
    /// dropped. Returns the failure counter the shell increments, for a failure.
    pub fn answered(&self, watch: Watch, outcome: Outcome) -> Option<u64> {
        let tracked = self.tracked.get(watch.slot)?;
        let counter = match outcome {
            Outcome::NotCounted => return None,
            Outcome::Success => None,
            Outcome::Failure => {
                tracked.errors.fetch_add(1, Relaxed);
                tracked
                    .error_counters
                    .get(watch.destination)
                    .copied()
                    .flatten()
            }
        };
        tracked.requests.fetch_add(1, Relaxed);
        counter
    }

    /// One tick: publish the counts, trip if the shared window says so, and move each entry to the
    /// stage in force. True when some entry's weights changed (then [`Engine::apply`]).
    pub fn advance(&self, now_ms: i64, host: &impl RolloutHost) -> bool {
        let mut changed = false;
        for tracked in &self.tracked {
            if tracked.claim_unlogged.swap(false, Relaxed) {
                tracked.log_claim(host);
            }
            tracked.publish(now_ms, host);
            let tripped = tracked.rollout.guard.is_some()
                && tracked.shared.announced() == Stage::Tripped.order();
            let stage = tracked.rollout.stage_at(now_ms, tripped);
            tracked
                .watching
                .store(tracked.rollout.guarding(stage, now_ms), Relaxed);
            if tracked.stage.swap(stage.order(), Relaxed) != stage.order() {
                tracked.took_effect(stage, host);
                changed = true;
            }
        }
        changed
    }

    /// Milliseconds until the next tick: [`TICK_MS`], or less when a change falls due sooner; 0 (no
    /// timer) once nothing can change any more (every ramp done or tripped, no guard watching).
    pub fn tick_ms(&self, now_ms: i64) -> u64 {
        let mut next: Option<i64> = None;
        let mut watching = false;
        for tracked in &self.tracked {
            let Some(stage) = tracked.stage() else {
                continue;
            };
            if let Some(at) = tracked.rollout.next_change_ms(now_ms, stage) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
            watching |= tracked.watching.load(Relaxed);
        }
        match next {
            None if !watching => 0,
            None => TICK_MS,
            Some(at) => {
                let wait = u64::try_from(at.saturating_sub(now_ms)).unwrap_or(1);
                TICK_MS.min(wait.max(1))
            }
        }
    }

    /// Compiles the weights of every entry's stage into `router`.
    pub fn apply(&self, router: &mut Router) {
        for tracked in &self.tracked {
            let (Some(stage), Some(entry)) =
                (tracked.stage(), router.entries.get_mut(tracked.entry))
            else {
                continue;
            };
            entry.set_weights(&tracked.rollout.weights(stage));
        }
    }
}

impl<S: CasStore> Tracked<S> {
    fn stage(&self) -> Option<Stage> {
        Stage::from_order(self.stage.load(Relaxed))
    }

    /// The one worker that created the entry's shared key, or took it over from the configuration
    /// in force before, says so: the key is named by the entry, so pushes reuse it.
    fn log_claim(&self, host: &impl RolloutHost) {
        let how = match self.shared.claimed() {
            Claimed::Kept => return,
            Claimed::Created => "created",
            Claimed::TakenOver => "taken over from the previous configuration",
        };
        host.log(
            Level::Info,
            &format!(
                "rollout {}: guard state in shared key {} ({how})",
                self.name,
                self.shared.key()
            ),
        );
    }

    /// Publishes the counts watched since the last tick; trips when the window says so.
    fn publish(&self, now_ms: i64, host: &impl RolloutHost) {
        let Some(guard) = &self.rollout.guard else {
            return;
        };
        let counts = Totals {
            requests: self.requests.swap(0, Relaxed),
            errors: self.errors.swap(0, Relaxed),
        };
        if counts.requests == 0 {
            return;
        }
        // Counts that reach a tick after the guard's end (or after a trip) judge nothing.
        let still_watching = self
            .stage()
            .is_some_and(|stage| self.rollout.guarding(stage, now_ms));
        if !still_watching {
            return;
        }
        let totals = match self.shared.publish(now_ms, guard.bucket_ms(), counts) {
            Published::Totals(totals) => totals,
            Published::Kept(counts) => {
                self.requests.fetch_add(counts.requests, Relaxed);
                self.errors.fetch_add(counts.errors, Relaxed);
                return;
            }
            Published::Superseded => return,
        };
        if guard.trips(totals) && self.shared.announce(Stage::Tripped.order()) {
            host.log(
                Level::Warn,
                &format!(
                    "rollout {} tripped: {} of {} requests to the new version failed ({}, more than {}) in the last {} ms; its from weights are in force until the configuration changes",
                    self.name,
                    totals.errors,
                    totals.requests,
                    percent(totals.error_permille()),
                    percent((guard.max_error_rate * 1_000.0).round() as u64),
                    guard.window_ms
                ),
            );
        }
    }

    /// Gauges on every call; the log line from the one caller that announces the stage.
    fn took_effect(&self, stage: Stage, host: &impl RolloutHost) {
        let weights = self.rollout.weights(stage);
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let set = |gauge: Option<u64>, value: u64| {
            if let Some(id) = gauge {
                host.set_gauge(id, value);
            }
        };
        for (gauge, weight) in self.share_gauges.iter().zip(&weights) {
            set(*gauge, u64::from(*weight) * SHARE_SCALE / total.max(1));
        }
        set(self.progress_gauge, u64::from(self.rollout.progress(stage)));
        set(self.tripped_gauge, u64::from(stage == Stage::Tripped));
        if stage == Stage::Tripped || !self.shared.announce(stage.order()) {
            return;
        }
        let steps = self.rollout.schedule.steps.len();
        let line = match stage {
            Stage::Step(index) => format!(
                "rollout {}: step {} of {steps} in force, progress {}%",
                self.name,
                index + 1,
                self.rollout.progress(stage)
            ),
            _ => format!(
                "rollout {}: waiting for its start, from weights in force",
                self.name
            ),
        };
        host.log(Level::Info, &line);
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
