//! Scheduled rollouts: the weights in force as a pure function of the configuration and an
//! injected wall-clock time, and the canary guard's window arithmetic. No host here: a shell
//! feeds the time, the counts and the shared state (the proxy-wasm shell from `on_tick`).

pub mod duration;
pub mod guard;
pub mod schedule;
pub mod time;

pub use guard::{Guard, Totals, Window};
pub use schedule::{Schedule, Step};

/// An entry's `rollout`: the ramp, and the guard that can stop it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub schedule: Schedule,
    pub guard: Option<Guard>,
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

    /// When the weights change next by the clock (a trip is final).
    pub fn next_change_ms(&self, now_ms: i64, stage: Stage) -> Option<i64> {
        match stage {
            Stage::Tripped => None,
            _ => self.schedule.next_step_ms(now_ms),
        }
    }

    /// Whether the guard watches requests in this stage: while ramping, not before it nor after a trip.
    pub fn guarding(&self, stage: Stage) -> bool {
        self.guard.is_some() && matches!(stage, Stage::Step(_))
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
                steps: schedule::equal_steps(10_000, 2),
                from: vec![100, 0],
                target: vec![0, 100],
            },
            guard: None,
        };
        assert_eq!(rollout.stage_at(999, false), Stage::Before);
        assert_eq!(rollout.stage_at(6_000, false), Stage::Step(0));
        assert_eq!(rollout.weights(Stage::Step(0)), [500_000, 500_000]);
        assert_eq!(rollout.stage_at(6_000, true), Stage::Tripped);
        assert_eq!(rollout.weights(Stage::Tripped), [100, 0]);
        assert_eq!(rollout.progress(Stage::Step(1)), 100);
        assert!(!rollout.guarding(Stage::Step(0)), "no guard configured");
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
    }
}
