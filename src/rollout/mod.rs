//! Scheduled rollouts: the weights in force as a pure function of the configuration and an
//! injected wall-clock time, and the canary guard's window arithmetic. No host here: a shell
//! feeds the time, the counts and the shared state (the proxy-wasm shell from `on_tick`, the
//! dynamic module from a timer thread of its own).

pub mod duration;
pub mod engine;
pub mod guard;
pub mod schedule;
pub mod shared;
pub mod time;

pub use engine::{Engine, RolloutHost, Watch};
pub use guard::{outcome, Guard, Outcome, Totals, Window};
pub use schedule::{Schedule, Step};

/// An entry's `rollout`: the ramp, and the guard that can stop it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub schedule: Schedule,
    pub guard: Option<Guard>,
    /// Where `rollout` is in the configuration (`http[2].rollout`), for a shell's refusal.
    pub path: String,
}

/// Where a rollout stands; weights change only when this does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before `start`: `from`.
    Before,
    /// The step (index into `steps`) in force.
    Step(usize),
    /// The guard tripped: `from`, until the configuration changes.
    Tripped,
}

impl Stage {
    /// Stages numbered in the order they happen, a trip last (it is final): shells share the stage
    /// last announced as this number and announce a stage only when it is past it, so that one
    /// worker of many logs each step.
    pub fn order(self) -> u64 {
        match self {
            Stage::Before => 1,
            Stage::Step(index) => (index as u64).saturating_add(2).min(u64::MAX - 1),
            Stage::Tripped => u64::MAX,
        }
    }
}

impl Stage {
    /// The stage [`Stage::order`] numbers; `None` for 0 (no stage yet).
    pub fn from_order(order: u64) -> Option<Stage> {
        match order {
            0 => None,
            1 => Some(Stage::Before),
            u64::MAX => Some(Stage::Tripped),
            n => usize::try_from(n - 2).ok().map(Stage::Step),
        }
    }
}

impl Rollout {
    /// The stage at `now_ms` (Unix milliseconds), given whether the guard has tripped.
    pub fn stage_at(&self, now_ms: i64, tripped: bool) -> Stage {
        if tripped {
            return Stage::Tripped;
        }
        self.schedule
            .step_at(now_ms)
            .map_or(Stage::Before, Stage::Step)
    }

    pub fn progress(&self, stage: Stage) -> u8 {
        match stage {
            Stage::Step(index) => self.schedule.progress(Some(index)),
            Stage::Before | Stage::Tripped => 0,
        }
    }

    pub fn weights(&self, stage: Stage) -> Vec<u32> {
        self.schedule.weights(self.progress(stage))
    }

    /// When something changes next by the clock: a step, or the guard's end (a trip is final).
    pub fn next_change_ms(&self, now_ms: i64, stage: Stage) -> Option<i64> {
        if stage == Stage::Tripped {
            return None;
        }
        let step = self.schedule.next_step_ms(now_ms);
        let guard_end = self.guard_end_ms().filter(|end| *end > now_ms);
        match (step, guard_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The instant the guard stops watching: the last step has been in force for its window plus
    /// the bake time. `None` without a guard.
    pub fn guard_end_ms(&self) -> Option<i64> {
        let guard = self.guard.as_ref()?;
        let last = self.schedule.steps.last()?;
        Some(
            self.schedule
                .start_ms
                .saturating_add_unsigned(last.at_ms)
                .saturating_add_unsigned(guard.watch_after_last_step_ms()),
        )
    }

    /// Whether the guard watches requests at `now_ms` in this stage: from the first step until its
    /// end, not before the start nor after a trip.
    pub fn guarding(&self, stage: Stage, now_ms: i64) -> bool {
        matches!(stage, Stage::Step(_)) && self.guard_end_ms().is_some_and(|end| now_ms < end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_trip_puts_from_back_in_force() {
        let rollout = Rollout {
            schedule: Schedule {
                start_ms: 1_000,
                steps: schedule::equal_steps(10_000, 2).unwrap(),
                from: vec![100, 0],
                target: vec![0, 100],
            },
            guard: None,
            path: String::new(),
        };
        assert_eq!(rollout.stage_at(999, false), Stage::Before);
        assert_eq!(rollout.stage_at(6_000, false), Stage::Step(0));
        assert_eq!(rollout.weights(Stage::Step(0)), [500_000, 500_000]);
        assert_eq!(rollout.stage_at(6_000, true), Stage::Tripped);
        assert_eq!(rollout.weights(Stage::Tripped), [100, 0]);
        assert_eq!(rollout.progress(Stage::Step(1)), 100);
        assert!(
            !rollout.guarding(Stage::Step(0), 6_000),
            "no guard configured"
        );
        assert_eq!(rollout.next_change_ms(6_000, Stage::Step(0)), Some(11_000));
        assert_eq!(rollout.next_change_ms(6_000, Stage::Tripped), None);
        let order: Vec<u64> = [
            Stage::Before,
            Stage::Step(0),
            Stage::Step(1),
            Stage::Tripped,
        ]
        .iter()
        .map(|s| s.order())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        for stage in [
            Stage::Before,
            Stage::Step(0),
            Stage::Step(7),
            Stage::Tripped,
        ] {
            assert_eq!(Stage::from_order(stage.order()), Some(stage));
        }
        assert_eq!(Stage::from_order(0), None);
    }

    #[test]
    fn the_guard_watches_until_the_last_step_has_baked() {
        let rollout = Rollout {
            schedule: Schedule {
                start_ms: 1_000,
                steps: schedule::equal_steps(10_000, 2).unwrap(),
                from: vec![100, 0],
                target: vec![0, 100],
            },
            guard: Some(Guard {
                max_error_rate: 0.1,
                min_requests: 10,
                window_ms: 5_000,
                bake_ms: 60_000,
            }),
            path: String::new(),
        };
        // The last step at 11 000, then 5 s of window and 60 s of bake.
        assert_eq!(rollout.guard_end_ms(), Some(76_000));
        assert!(!rollout.guarding(Stage::Before, 0));
        assert!(rollout.guarding(Stage::Step(1), 75_999));
        assert!(!rollout.guarding(Stage::Step(1), 76_000));
        assert!(!rollout.guarding(Stage::Tripped, 20_000));
        // The clock wakes the shell for the guard's end, then nothing is left to change.
        assert_eq!(rollout.next_change_ms(20_000, Stage::Step(1)), Some(76_000));
        assert_eq!(rollout.next_change_ms(76_000, Stage::Step(1)), None);
    }
}
