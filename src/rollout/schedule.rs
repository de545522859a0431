//! The weights in force: a pure function of the configuration and the wall clock.
//!
//! Before `start` the `from` weights are in force; from each step's `at` on, every destination's
//! share is `from + (target − from) × progress / 100`, shares taken relative to each side's total;
//! after the last step (progress 100), the target. Between 0 and 100 the weights are shares in
//! parts per million, rounded down with integer arithmetic only, so every worker and every proxy
//! computes the very same weights (no floating point, no platform difference).

/// Weights strictly inside a ramp are shares in parts per million of the entry's traffic.
pub const SHARE_SCALE: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Milliseconds after `start`.
    pub at_ms: u64,
    /// 0–100: how far from `from` to the target.
    pub progress: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Unix milliseconds.
    pub start_ms: i64,
    /// `at` strictly increasing, `progress` non-decreasing, the last one 100 (checked by the config).
    pub steps: Vec<Step>,
    pub from: Vec<u32>,
    pub target: Vec<u32>,
}

/// `steps` equal steps over `duration_ms`: step k (1..=steps) at k·duration/steps with progress
/// k·100/steps (both rounded down, computed in u128 so that no duration wraps), so the target is
/// reached exactly at `start + duration`. `None` for no steps or more than 100.
pub fn equal_steps(duration_ms: u64, steps: u64) -> Option<Vec<Step>> {
    if steps == 0 || steps > 100 {
        return None;
    }
    (1..=steps)
        .map(|k| {
            let at_ms = u128::from(duration_ms) * u128::from(k) / u128::from(steps);
            let progress = u128::from(k) * 100 / u128::from(steps);
            Some(Step {
                at_ms: u64::try_from(at_ms).ok()?,
                progress: u8::try_from(progress).ok()?,
            })
        })
        .collect()
}

fn total(weights: &[u32]) -> u128 {
    weights.iter().map(|w| u128::from(*w)).sum()
}

impl Schedule {
    /// The index of the step in force at `now_ms` (Unix milliseconds); `None` before the first.
    pub fn step_at(&self, now_ms: i64) -> Option<usize> {
        let elapsed = now_ms.checked_sub(self.start_ms)?;
        let elapsed = u64::try_from(elapsed).ok()?;
        self.steps
            .partition_point(|step| step.at_ms <= elapsed)
            .checked_sub(1)
    }

    /// The Unix milliseconds of the first step after `now_ms`; `None` when no step is left.
    pub fn next_step_ms(&self, now_ms: i64) -> Option<i64> {
        self.steps
            .iter()
            .map(|step| self.start_ms.saturating_add_unsigned(step.at_ms))
            .find(|at| *at > now_ms)
    }

    /// Progress of a step index as [`Schedule::step_at`] returns it.
    pub fn progress(&self, step: Option<usize>) -> u8 {
        step.and_then(|i| self.steps.get(i))
            .map_or(0, |step| step.progress)
    }

    /// The weights at `progress` (0–100): `from` at 0, the target at 100, shares in between.
    pub fn weights(&self, progress: u8) -> Vec<u32> {
        match progress {
            0 => self.from.clone(),
            100.. => self.target.clone(),
            p => {
                let (from_total, target_total) = (total(&self.from), total(&self.target));
                let (done, left) = (u128::from(p), u128::from(100 - p));
                let whole = from_total * target_total * 100;
                self.from
                    .iter()
                    .zip(&self.target)
                    .map(|(f, t)| {
                        let mixed = u128::from(*f) * target_total * left
                            + u128::from(*t) * from_total * done;
                        // Below SHARE_SCALE, so it fits a u32.
                        (mixed * u128::from(SHARE_SCALE) / whole) as u32
                    })
                    .collect()
            }
        }
    }

    /// The destinations whose share grows from `from` to the target: the new versions.
    pub fn growing(&self) -> Vec<bool> {
        let (from_total, target_total) = (total(&self.from), total(&self.target));
        self.from
            .iter()
            .zip(&self.target)
            .map(|(f, t)| u128::from(*t) * from_total > u128::from(*f) * target_total)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sticky::{choose_among as choose, fnv1a};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const START: i64 = 1_796_119_200_000; // 2026-12-01T10:00:00Z
    const MINUTE: u64 = 60_000;

    /// A one-hour canary rollout: 5% at start, 25% at 10m, 50% at 30m, 100% at 1h.
    fn one_hour_canary() -> Schedule {
        let step = |minutes: u64, progress| Step {
            at_ms: minutes * MINUTE,
            progress,
        };
        Schedule {
            start_ms: START,
            steps: vec![step(0, 5), step(10, 25), step(30, 50), step(60, 100)],
            from: vec![100, 0],
            target: vec![0, 100],
        }
    }

    fn at(schedule: &Schedule, offset_ms: i64) -> Vec<u32> {
        let step = schedule.step_at(START + offset_ms);
        schedule.weights(schedule.progress(step))
    }

    #[test]
    fn weights_before_on_between_and_after_the_steps() {
        let s = one_hour_canary();
        let m = MINUTE as i64;
        assert_eq!(at(&s, -1), [100, 0], "before start: from");
        assert_eq!(s.step_at(START - 1), None);
        assert_eq!(at(&s, 0), [950_000, 50_000], "on the first boundary");
        assert_eq!(at(&s, 10 * m - 1), [950_000, 50_000], "just before a step");
        assert_eq!(at(&s, 10 * m), [750_000, 250_000], "on a step boundary");
        assert_eq!(at(&s, 20 * m), [750_000, 250_000], "between steps");
        assert_eq!(at(&s, 30 * m), [500_000, 500_000]);
        assert_eq!(
            at(&s, 60 * m),
            [0, 100],
            "the last step: the target, exactly"
        );
        assert_eq!(at(&s, 1_000 * m), [0, 100], "after the end");
        assert_eq!(s.step_at(START + 1_000 * m), Some(3));
        assert_eq!(s.step_at(i64::MIN), None);
        assert_eq!(s.next_step_ms(START - 1), Some(START));
        assert_eq!(s.next_step_ms(START), Some(START + 10 * m));
        assert_eq!(s.next_step_ms(START + 60 * m), None);
    }

    #[test]
    fn shares_are_relative_and_rounded_down() {
        // from 1:1 (50/50), target 1:3 (25/75): halfway is 37.5/62.5.
        let s = Schedule {
            start_ms: 0,
            steps: vec![],
            from: vec![1, 1],
            target: vec![10, 30],
        };
        assert_eq!(s.weights(50), [375_000, 625_000]);
        // Thirds do not divide a million: each share is rounded down, the sum falls short by < n.
        let thirds = Schedule {
            from: vec![1, 0, 0],
            target: vec![1, 1, 1],
            ..s.clone()
        };
        assert_eq!(thirds.weights(50), [666_666, 166_666, 166_666]);
        assert_eq!(thirds.weights(1), [993_333, 3_333, 3_333]);
        // Weights next to u32::MAX do not overflow.
        let huge = Schedule {
            from: vec![u32::MAX, 1],
            target: vec![1, u32::MAX],
            ..s
        };
        assert_eq!(huge.weights(50), [500_000, 500_000]);
    }

    #[test]
    fn growing_destinations_are_those_whose_share_rises() {
        let s = one_hour_canary();
        assert_eq!(s.growing(), [false, true]);
        let same_share = Schedule {
            from: vec![1, 1, 0],
            target: vec![20, 20, 0],
            ..s.clone()
        };
        assert_eq!(same_share.growing(), [false, false, false]);
        let two_new = Schedule {
            from: vec![100, 0, 0],
            target: vec![0, 1, 3],
            ..s
        };
        assert_eq!(two_new.growing(), [false, true, true]);
    }

    #[test]
    fn the_shorthand_makes_equal_steps_ending_on_the_target() {
        let ten = equal_steps(60 * MINUTE, 10).unwrap();
        assert_eq!(ten.len(), 10);
        assert_eq!(
            ten[0],
            Step {
                at_ms: 6 * MINUTE,
                progress: 10
            }
        );
        assert_eq!(
            ten[9],
            Step {
                at_ms: 60 * MINUTE,
                progress: 100
            }
        );
        let three = equal_steps(10_000, 3).unwrap();
        let progress: Vec<u8> = three.iter().map(|s| s.progress).collect();
        let at: Vec<u64> = three.iter().map(|s| s.at_ms).collect();
        assert_eq!(
            (progress, at),
            (vec![33, 66, 100], vec![3_333, 6_666, 10_000])
        );
        // duration × k would wrap a u64: computed in u128, the steps stay in order.
        let huge = equal_steps(u64::MAX, 100).unwrap();
        assert!(huge.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        assert_eq!(huge[99].at_ms, u64::MAX);
        assert_eq!(huge[49].at_ms, u64::MAX / 2);
        assert_eq!(equal_steps(1_000, 0), None);
        assert_eq!(equal_steps(1_000, 101), None);
    }

    #[test]
    fn sticky_users_never_move_back_through_the_ramp() {
        let s = one_hour_canary();
        let destinations = [fnv1a(b"v1"), fnv1a(b"v3")];
        let stages: Vec<Vec<u32>> = [0, 5, 25, 50, 100].iter().map(|p| s.weights(*p)).collect();
        for user in 0..5_000 {
            let key = format!("user-{user}");
            let path: Vec<usize> = stages
                .iter()
                .map(|w| choose(key.as_bytes(), &destinations, w).unwrap())
                .collect();
            assert!(path.windows(2).all(|w| w[0] <= w[1]), "{key}: {path:?}");
        }
        // Three destinations, one new version: users leave only for the new one.
        let three = Schedule {
            from: vec![50, 50, 0],
            target: vec![10, 10, 80],
            ..s
        };
        let destinations = [fnv1a(b"a"), fnv1a(b"b"), fnv1a(b"c")];
        for user in 0..5_000 {
            let key = format!("user-{user}");
            let mut previous = None;
            for progress in [0, 10, 40, 70, 100] {
                let now = choose(key.as_bytes(), &destinations, &three.weights(progress));
                assert!(
                    previous.is_none() || now == previous || now == Some(2),
                    "{key}"
                );
                previous = now;
            }
        }
    }
}
