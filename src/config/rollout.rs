//! `http[].rollout`: a scheduled ramp from `from` to the entry's `route` weights, and its guard.

use super::error::{ConfigError, ConfigResult};
use super::json::{Map, Value};
use super::path::JsonPath;
use super::read::{self, Schema};
use crate::rollout::duration::parse_duration;
use crate::rollout::schedule::equal_steps;
use crate::rollout::time::parse_rfc3339;
use crate::rollout::{Guard, Rollout, Schedule, Step};

const ROLLOUT: Schema = Schema {
    known: &["from", "start", "steps", "duration", "guard"],
    not_implemented: &[],
};

const STEP: Schema = Schema {
    known: &["at", "progress"],
    not_implemented: &[],
};

const GUARD: Schema = Schema {
    known: &["maxErrorRate", "minRequests", "window", "bakeTime"],
    not_implemented: &[],
};

/// The shorthand's most steps: progress is a whole percentage.
const MAX_EQUAL_STEPS: u64 = 100;
/// The guard's shortest window: ten buckets of at least 100 ms.
const MIN_WINDOW_MS: u64 = 1_000;

fn required<'v>(map: &'v Map<'v>, key: &str, path: &JsonPath<'_>) -> ConfigResult<&'v Value<'v>> {
    map.get(key)
        .ok_or_else(|| ConfigError::at(&path.key(key), "missing"))
}

fn duration(value: &Value, path: &JsonPath<'_>) -> ConfigResult<u64> {
    parse_duration(read::string(value, path)?).map_err(|reason| ConfigError::at(path, reason))
}

fn from_weights(value: &Value, path: &JsonPath<'_>, destinations: usize) -> ConfigResult<Vec<u32>> {
    let items = read::array(value, path)?;
    if items.len() != destinations {
        return Err(ConfigError::at(
            path,
            format!(
                "gives {} weights for {destinations} destinations; give one per route destination, in the same order",
                items.len()
            ),
        ));
    }
    let weights = items
        .iter()
        .enumerate()
        .map(|(i, w)| Ok(read::unsigned(w, &path.index(i), super::entry::MAX_WEIGHT)? as u32))
        .collect::<ConfigResult<Vec<u32>>>()?;
    if weights.iter().all(|w| *w == 0) {
        return Err(ConfigError::at(
            path,
            "every weight is 0; give at least one destination a positive weight",
        ));
    }
    Ok(weights)
}

fn listed_steps(items: &[Value], path: &JsonPath<'_>) -> ConfigResult<Vec<Step>> {
    if items.is_empty() {
        return Err(ConfigError::at(path, "needs at least one step"));
    }
    let mut steps: Vec<Step> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at_path = path.index(index);
        let map = read::object(item, &at_path)?;
        STEP.check(map, &at_path)?;
        let at_ms = duration(required(map, "at", &at_path)?, &at_path.key("at"))?;
        let progress_path = at_path.key("progress");
        let progress =
            read::unsigned(required(map, "progress", &at_path)?, &progress_path, 100)? as u8;
        if let Some(previous) = steps.last() {
            if at_ms <= previous.at_ms {
                return Err(ConfigError::at(
                    &at_path.key("at"),
                    format!(
                        "steps must be in time order: this one is not after step {}",
                        index - 1
                    ),
                ));
            }
            if progress < previous.progress {
                return Err(ConfigError::at(
                    &progress_path,
                    format!(
                        "progress must not go down: step {} had {}",
                        index - 1,
                        previous.progress
                    ),
                ));
            }
        }
        steps.push(Step { at_ms, progress });
    }
    match steps.last() {
        Some(last) if last.progress == 100 => Ok(steps),
        _ => Err(ConfigError::at(
            &path.index(items.len() - 1).key("progress"),
            "the last step must reach progress 100 (the route weights)",
        )),
    }
}

fn steps(map: &Map, path: &JsonPath<'_>) -> ConfigResult<Vec<Step>> {
    let steps_path = path.key("steps");
    let duration_path = path.key("duration");
    match (required(map, "steps", path)?, map.get("duration")) {
        (Value::Array(items), None) => listed_steps(items, &steps_path),
        (Value::Array(_), Some(_)) => Err(ConfigError::at(
            &duration_path,
            "goes with a number of steps (\"steps\": 10); listed steps give their own \"at\"",
        )),
        (count, duration_value) => {
            let count = read::unsigned(count, &steps_path, MAX_EQUAL_STEPS).map_err(|_| {
                ConfigError::at(
                    &steps_path,
                    format!("expected a list of steps or a number of equal steps (1 to {MAX_EQUAL_STEPS}), got {}", read::describe(count)),
                )
            })?;
            if count == 0 {
                return Err(ConfigError::at(&steps_path, "needs at least one step"));
            }
            let Some(duration_value) = duration_value else {
                return Err(ConfigError::at(
                    &duration_path,
                    "missing; a number of steps needs the ramp's duration (e.g. \"1h\")",
                ));
            };
            let total = duration(duration_value, &duration_path)?;
            if total < count {
                return Err(ConfigError::at(
                    &duration_path,
                    format!("is too short for {count} steps (at least 1 ms each)"),
                ));
            }
            equal_steps(total, count).ok_or_else(|| {
                ConfigError::at(
                    &duration_path,
                    "is too long a duration to divide into steps",
                )
            })
        }
    }
}

fn guard(value: &Value, path: &JsonPath<'_>) -> ConfigResult<Guard> {
    let map = read::object(value, path)?;
    GUARD.check(map, path)?;
    let rate_path = path.key("maxErrorRate");
    let rate = required(map, "maxErrorRate", path)?;
    let max_error_rate = rate
        .as_f64()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| {
            ConfigError::at(
                &rate_path,
                format!(
                    "expected a rate from 0 to 1 (0.05 is 5%), got {}",
                    read::describe(rate)
                ),
            )
        })?;
    let min_path = path.key("minRequests");
    let min_requests = read::unsigned(
        required(map, "minRequests", path)?,
        &min_path,
        u64::from(u32::MAX),
    )?;
    let window_path = path.key("window");
    let window_ms = duration(required(map, "window", path)?, &window_path)?;
    if window_ms < MIN_WINDOW_MS {
        return Err(ConfigError::at(&window_path, "must be at least 1s"));
    }
    let bake_ms = match map.get("bakeTime") {
        Some(value) => duration(value, &path.key("bakeTime"))?,
        None => 0,
    };
    Ok(Guard {
        max_error_rate,
        min_requests,
        window_ms,
        bake_ms,
    })
}

/// The entry's rollout towards `target` (its `route` weights, already validated).
pub fn rollout(value: &Value, path: &JsonPath<'_>, target: &[u32]) -> ConfigResult<Rollout> {
    let map = read::object(value, path)?;
    ROLLOUT.check(map, path)?;
    if target.len() < 2 {
        return Err(ConfigError::at(
            path,
            "needs an entry with at least two destinations to shift between",
        ));
    }
    let from = from_weights(
        required(map, "from", path)?,
        &path.key("from"),
        target.len(),
    )?;
    let start_path = path.key("start");
    let start = read::string(required(map, "start", path)?, &start_path)?;
    let start_ms = parse_rfc3339(start).map_err(|reason| ConfigError::at(&start_path, reason))?;
    let schedule = Schedule {
        start_ms,
        steps: steps(map, path)?,
        from,
        target: target.to_vec(),
    };
    if !schedule.growing().contains(&true) {
        return Err(ConfigError::at(
            &path.key("from"),
            "gives the same shares as the route weights; there is nothing to roll out",
        ));
    }
    let guard = match map.get("guard") {
        Some(value) => Some(guard(value, &path.key("guard"))?),
        None => None,
    };
    // Every instant the shells compute must be a Unix millisecond: start + last step + the guard's
    // window and bake time, checked here rather than saturated later.
    let last_ms = schedule.steps.last().map_or(0, |step| step.at_ms);
    let watch_ms = guard
        .as_ref()
        .map_or(Some(0), |g| g.window_ms.checked_add(g.bake_ms));
    let fits = watch_ms
        .and_then(|watch| last_ms.checked_add(watch))
        .and_then(|span| i64::try_from(span).ok())
        .and_then(|span| start_ms.checked_add(span))
        .is_some();
    if !fits {
        return Err(ConfigError::at(
            path,
            "start plus the steps and the guard's window and bakeTime is past the year 292 million; shorten them",
        ));
    }
    Ok(Rollout {
        schedule,
        guard,
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::rollout::Step;
    use serde_json::{json, Value};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn destination(subset: &str, weight: u32) -> Value {
        json!({"destination": {"host": "reviews", "subset": subset}, "weight": weight})
    }

    /// A one-hour canary rollout of v3 (5%, then 25% at 10m, 50% at 30m, 100% at 1h) guarded at a
    /// 5% error rate, with `rollout` keys replaced (null removes one).
    fn config(changes: Value) -> String {
        let mut rollout = json!({
            "from": [100, 0],
            "start": "2026-12-01T10:00:00Z",
            "steps": [{"at": "0s", "progress": 5}, {"at": "10m", "progress": 25},
                      {"at": "30m", "progress": 50}, {"at": "1h", "progress": 100}],
            "guard": {"maxErrorRate": 0.05, "minRequests": 50, "window": "30s"}
        });
        for (key, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => rollout.as_object_mut().unwrap().remove(key),
                _ => rollout
                    .as_object_mut()
                    .unwrap()
                    .insert(key.clone(), value.clone()),
            };
        }
        json!({"http": [{"name": "reviews", "route": [destination("v1", 0), destination("v3", 100)],
                          "rollout": rollout}]})
        .to_string()
    }

    #[test]
    fn a_guarded_one_hour_canary_rollout_compiles() {
        let router = parse(config(json!({})).as_bytes()).unwrap();
        let entry = &router.entries[0];
        let rollout = entry.rollout.as_ref().unwrap();
        assert_eq!(rollout.schedule.start_ms, 1_796_119_200_000);
        assert_eq!(rollout.schedule.from, [100, 0]);
        assert_eq!(rollout.schedule.target, [0, 100]);
        assert_eq!(
            rollout.schedule.steps[1],
            Step {
                at_ms: 600_000,
                progress: 25
            }
        );
        let guard = rollout.guard.as_ref().unwrap();
        assert_eq!(
            (
                guard.max_error_rate,
                guard.min_requests,
                guard.window_ms,
                guard.bake_ms
            ),
            (0.05, 50, 30_000, 0)
        );
        assert_eq!(
            entry.weights(),
            [0, 100],
            "compiled with the target; the shell applies the weights in force"
        );
    }

    #[test]
    fn the_shorthand_compiles_to_equal_steps() {
        let router =
            parse(config(json!({"duration": "1h", "steps": 10, "guard": null})).as_bytes())
                .unwrap();
        let rollout = router.entries[0].rollout.as_ref().unwrap();
        assert_eq!(rollout.schedule.steps.len(), 10);
        assert_eq!(
            rollout.schedule.steps[9],
            Step {
                at_ms: 3_600_000,
                progress: 100
            }
        );
        assert_eq!(rollout.guard, None);
    }

    #[test]
    fn bake_time_is_read_as_a_duration() {
        let guard =
            json!({"maxErrorRate": 0.05, "minRequests": 50, "window": "30s", "bakeTime": "10m"});
        let router = parse(config(json!({"guard": guard})).as_bytes()).unwrap();
        let rollout = router.entries[0].rollout.as_ref().unwrap();
        assert_eq!(rollout.guard.as_ref().unwrap().bake_ms, 600_000);
        // The last step (1h) plus 30 s of window plus 10 min of bake.
        assert_eq!(
            rollout.guard_end_ms(),
            Some(1_796_119_200_000 + 3_600_000 + 30_000 + 600_000)
        );
    }

    #[test]
    fn every_bad_rollout_is_refused_with_its_path() {
        let step = |at: &str, progress: u32| json!({"at": at, "progress": progress});
        let cases = [
            (json!({"from": [100]}), "at http[0].rollout.from: gives 1 weights for 2 destinations"),
            (json!({"from": [0, 0]}), "at http[0].rollout.from: every weight is 0"),
            (json!({"from": [100, -1]}), "at http[0].rollout.from[1]: expected a non-negative integer, got -1"),
            (json!({"from": [100, 2_147_483_648u64]}), "at http[0].rollout.from[1]: expected an integer no larger than 2147483647, got 2147483648"),
            (json!({"from": [0, 7]}), "at http[0].rollout.from: gives the same shares as the route weights"),
            (json!({"from": null}), "at http[0].rollout.from: missing"),
            (json!({"start": "tomorrow"}), "at http[0].rollout.start: \"tomorrow\" is not an RFC 3339 time"),
            (json!({"start": "2026-02-30T10:00:00Z"}), "at http[0].rollout.start: \"2026-02-30T10:00:00Z\" names a day that does not exist"),
            (json!({"start": 5}), "at http[0].rollout.start: expected a string, got 5"),
            (json!({"start": null}), "at http[0].rollout.start: missing"),
            (json!({"steps": []}), "at http[0].rollout.steps: needs at least one step"),
            (json!({"steps": [step("0s", 5), step("10m", 25), step("10m", 50)]}),
             "at http[0].rollout.steps[2].at: steps must be in time order: this one is not after step 1"),
            (json!({"steps": [step("0s", 50), step("1m", 25), step("2m", 100)]}),
             "at http[0].rollout.steps[1].progress: progress must not go down: step 0 had 50"),
            (json!({"steps": [step("0s", 5), step("1m", 90)]}),
             "at http[0].rollout.steps[1].progress: the last step must reach progress 100"),
            (json!({"steps": [step("0s", 101)]}),
             "at http[0].rollout.steps[0].progress: expected an integer no larger than 100, got 101"),
            (json!({"steps": [step("ten minutes", 100)]}),
             "at http[0].rollout.steps[0].at: \"ten minutes\" is not a duration"),
            (json!({"steps": [{"at": "1m"}]}), "at http[0].rollout.steps[0].progress: missing"),
            (json!({"steps": [{"at": "1m", "progress": 100, "weight": 3}]}),
             "at http[0].rollout.steps[0].weight: unknown field \"weight\""),
            (json!({"steps": 10}), "at http[0].rollout.duration: missing; a number of steps needs the ramp's duration"),
            (json!({"steps": 0, "duration": "1h"}), "at http[0].rollout.steps: needs at least one step"),
            (json!({"steps": 101, "duration": "1h"}), "at http[0].rollout.steps: expected a list of steps or a number of equal steps (1 to 100), got 101"),
            (json!({"steps": 10, "duration": "5ms"}), "at http[0].rollout.duration: is too short for 10 steps"),
            (json!({"steps": 10, "duration": "1.5h"}), "at http[0].rollout.duration: \"1.5h\": write whole numbers"),
            (json!({"duration": "1h"}), "at http[0].rollout.duration: goes with a number of steps"),
            (json!({"guard": {"maxErrorRate": 1.5, "minRequests": 50, "window": "30s"}}),
             "at http[0].rollout.guard.maxErrorRate: expected a rate from 0 to 1 (0.05 is 5%), got 1.5"),
            (json!({"guard": {"maxErrorRate": -0.1, "minRequests": 50, "window": "30s"}}),
             "at http[0].rollout.guard.maxErrorRate: expected a rate from 0 to 1"),
            (json!({"guard": {"maxErrorRate": "5%", "minRequests": 50, "window": "30s"}}),
             "at http[0].rollout.guard.maxErrorRate: expected a rate from 0 to 1 (0.05 is 5%), got the string \"5%\""),
            (json!({"guard": {"maxErrorRate": 0.05, "minRequests": 50, "window": "500ms"}}),
             "at http[0].rollout.guard.window: must be at least 1s"),
            (json!({"guard": {"maxErrorRate": 0.05, "window": "30s"}}), "at http[0].rollout.guard.minRequests: missing"),
            (json!({"guard": {"maxErrorRate": 0.05, "minRequests": 50, "window": "30s", "interval": "1m"}}),
             "at http[0].rollout.guard.interval: unknown field \"interval\""),
            (json!({"stepWeight": 10}), "at http[0].rollout.stepWeight: unknown field \"stepWeight\""),
            (json!({"guard": {"maxErrorRate": 0.05, "minRequests": 50, "window": "30s", "bakeTime": "soon"}}),
             "at http[0].rollout.guard.bakeTime: \"soon\" is not a duration"),
            // The shorthand's step instants are duration × k / steps: a huge duration must not wrap.
            (json!({"steps": 100, "duration": "5124095576030h", "guard": null}),
             "at http[0].rollout: start plus the steps and the guard's window and bakeTime is past"),
            (json!({"steps": [step("0s", 5), step("2562047788015h", 100)],
                    "guard": {"maxErrorRate": 0.05, "minRequests": 50, "window": "30s", "bakeTime": "2562047788015h"}}),
             "at http[0].rollout: start plus the steps and the guard's window and bakeTime is past"),
        ];
        for (changes, expected) in cases {
            let message = parse(config(changes.clone()).as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                message.contains(expected),
                "{changes}\n  gave: {message}\n  want: {expected}"
            );
        }
        let refused_at = |config: serde_json::Value, expected: &str| {
            let message = parse(config.to_string().as_bytes())
                .unwrap_err()
                .to_string();
            assert!(message.contains(expected), "{message}\n  want: {expected}");
        };
        refused_at(
            json!({"http": [{"route": [destination("v1", 1)],
                "rollout": {"from": [1], "start": "2026-12-01T10:00:00Z", "steps": 1, "duration": "1m"}}]}),
            "at http[0].rollout: needs an entry with at least two destinations",
        );
        refused_at(
            json!({"rules": [{"backendRefs": [{"name": "reviews-v1", "port": 9080, "weight": 0},
                                              {"name": "reviews-v3", "port": 9080, "weight": 1}],
                "rollout": {"from": [1, 0, 0], "start": "2026-12-01T10:00:00Z", "steps": 1, "duration": "1m"}}]}),
            "at rules[0].rollout.from: gives 3 weights for 2 destinations",
        );
        refused_at(
            json!({"http": [{"route": [destination("v1", 1), destination("v3", 1)], "rollout": []}]}),
            "at http[0].rollout: expected an object, got an array",
        );
    }
}
