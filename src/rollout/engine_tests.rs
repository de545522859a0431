//! The engine driven by a fake clock, a fake host and a store in memory: two workers (two engines
//! on one store, as two proxy-wasm VMs) through a ramp, a trip, a re-push and a config change.

use super::*;
use crate::config::parse;
use crate::random::SplitMix64;
use crate::rollout::shared::ProcessStore;
use crate::test_kit::FakeRequest;
use std::cell::RefCell;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const START: i64 = 1_796_119_200_000;
const AT_START: &str = "2026-12-01T10:00:00Z";
const A_MILLISECOND_LATER: &str = "2026-12-01T10:00:00.001Z";

/// What a shell would have emitted: log lines, gauges by name, counters by name.
#[derive(Default)]
struct FakeHost {
    names: RefCell<Vec<String>>,
    lines: RefCell<Vec<String>>,
    gauges: RefCell<std::collections::BTreeMap<String, u64>>,
    counters: RefCell<std::collections::BTreeMap<String, u64>>,
}

impl FakeHost {
    fn define(&self, _kind: MetricKind, name: &str) -> Option<u64> {
        let mut names = self.names.borrow_mut();
        names.push(name.to_string());
        Some(names.len() as u64 - 1)
    }

    fn name(&self, id: u64) -> String {
        self.names.borrow()[id as usize].clone()
    }

    fn gauge(&self, metric: &str) -> Vec<u64> {
        self.gauges
            .borrow()
            .iter()
            .filter(|(name, _)| name.ends_with(metric))
            .map(|(_, v)| *v)
            .collect()
    }

    fn lines_with(&self, text: &str) -> usize {
        self.lines
            .borrow()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }
}

impl RolloutHost for FakeHost {
    fn log(&self, _level: Level, line: &str) {
        self.lines.borrow_mut().push(line.to_string());
    }
    fn set_gauge(&self, id: u64, value: u64) {
        self.gauges.borrow_mut().insert(self.name(id), value);
    }
}

/// 50% at the start, the target after 10 s; guarded over 5 s, `bake` more after the last step.
fn config(start: &str, bake: &str) -> String {
    format!(
        r#"{{"clusterName": "{{subset}}", "http": [{{"name": "reviews",
            "route": [{{"destination": {{"host": "reviews", "subset": "v1"}}, "weight": 0}},
                      {{"destination": {{"host": "reviews", "subset": "v3"}}, "weight": 100}}],
            "rollout": {{"from": [100, 0], "start": "{start}",
                "steps": [{{"at": "0s", "progress": 50}}, {{"at": "10s", "progress": 100}}],
                "guard": {{"maxErrorRate": 0.1, "minRequests": 20, "window": "5s", "bakeTime": "{bake}"}}}}}}]}}"#
    )
}

/// The ramp starting at `START`, without bake time: what most tests run.
fn ramp() -> String {
    config(AT_START, "0s")
}

/// A request the entry sends to v3, the version the rollout grows.
const TO_V3: Decision = Decision {
    entry: 0,
    destination: 1,
    port: None,
};

struct Worker<'s> {
    router: Router,
    engine: Engine<&'s ProcessStore>,
    host: FakeHost,
    random: SplitMix64,
}

impl<'s> Worker<'s> {
    fn new(store: &'s ProcessStore, config: &str) -> Self {
        let mut router = parse(config.as_bytes()).unwrap();
        let host = FakeHost::default();
        let engine = Engine::new(
            &router,
            config.as_bytes(),
            || store,
            |k, n| host.define(k, n),
        );
        engine.apply(&mut router);
        Worker {
            router,
            engine,
            host,
            random: SplitMix64::new(1),
        }
    }

    fn tick(&mut self, now: i64) -> u64 {
        if self.engine.advance(now, &self.host) {
            self.engine.apply(&mut self.router);
        }
        self.engine.tick_ms(now)
    }

    /// `n` requests answered with `outcome` when routed to v3; how many went to v3.
    fn requests(&mut self, n: usize, outcome: Outcome) -> usize {
        let mut to_v3 = 0;
        for _ in 0..n {
            let decision = self.router.decide(&FakeRequest::new(&[]), &mut self.random);
            let watch = self.engine.watch(decision);
            if decision.is_some_and(|d| d.destination == 1) {
                to_v3 += 1;
                assert!(watch.is_some() || !self.engine.tracked[0].watching.load(Relaxed));
            }
            if let Some(counter) = watch.and_then(|w| self.engine.answered(w, outcome)) {
                let name = self.host.name(counter);
                *self.host.counters.borrow_mut().entry(name).or_default() += 1;
            }
        }
        to_v3
    }
}

/// Two workers of one Envoy: two engines on one store, as two proxy-wasm VMs.
fn two_workers<'s>(store: &'s ProcessStore, config: &str) -> (Worker<'s>, Worker<'s>) {
    (Worker::new(store, config), Worker::new(store, config))
}

/// How many lines containing `text` the workers logged together.
fn lines_with(workers: &[&Worker<'_>], text: &str) -> usize {
    workers.iter().map(|w| w.host.lines_with(text)).sum()
}

#[test]
fn a_ramp_moves_step_by_step_and_logs_each_step_once() {
    let store = ProcessStore::default();
    let text = ramp();
    let (mut a, mut b) = two_workers(&store, &text);
    assert_eq!(
        a.tick(START - 2_000),
        100,
        "before the start: wake every tick"
    );
    assert_eq!(b.tick(START - 2_000), 100);
    assert_eq!(a.router.entries[0].weights(), [100, 0]);
    assert_eq!(a.tick(START - 50), 50, "woken on the step's instant");
    b.tick(START);
    a.tick(START);
    assert_eq!(a.router.entries[0].weights(), [500_000, 500_000]);
    assert!(a.requests(200, Outcome::Success) > 50);
    a.tick(START + 10_000);
    b.tick(START + 10_000);
    assert_eq!(a.router.entries[0].weights(), [0, 100]);
    let both = [&a, &b];
    assert_eq!(lines_with(&both, "waiting for its start"), 1);
    assert_eq!(lines_with(&both, "step 1 of 2 in force, progress 50%"), 1);
    assert_eq!(lines_with(&both, "step 2 of 2 in force, progress 100%"), 1);
    assert_eq!(a.host.gauge("rollout_progress_percent"), [100]);
    assert_eq!(b.host.gauge("rollout_share_ppm"), [0, 1_000_000]);
    // The guard watches the last step for its window, then nothing can change: the timer stops.
    assert_eq!(a.tick(START + 14_000), 100);
    assert_eq!(a.tick(START + 15_000), 0, "past window + bake: no timer");
    assert!(a.engine.watch(Some(TO_V3)).is_none());
}

#[test]
fn failures_trip_every_worker_and_a_repush_stays_tripped() {
    let store = ProcessStore::default();
    let text = ramp();
    let (mut a, mut b) = two_workers(&store, &text);
    a.tick(START + 100);
    b.tick(START + 100);
    // Each worker alone stays under minRequests; together they pass it.
    assert!(a.requests(30, Outcome::Failure) >= 10);
    assert!(b.requests(30, Outcome::Failure) >= 10);
    a.tick(START + 200);
    b.tick(START + 200);
    a.tick(START + 300);
    b.tick(START + 300);
    assert_eq!(
        lines_with(&[&a, &b], "rollout reviews tripped:"),
        1,
        "one trip line per Envoy"
    );
    for worker in [&a, &b] {
        assert_eq!(worker.router.entries[0].weights(), [100, 0]);
        assert_eq!(worker.host.gauge("rollout_tripped"), [1]);
        assert_eq!(worker.engine.tick_ms(START + 300), 0, "a trip is final");
    }
    let errors: u64 = [&a, &b]
        .iter()
        .map(|w| w.host.counters.borrow().values().sum::<u64>())
        .sum();
    assert!(errors >= 20, "{errors}");
    // The same configuration pushed again finds its trip.
    let mut again = Worker::new(&store, &text);
    again.tick(START + 400);
    assert_eq!(again.router.entries[0].weights(), [100, 0]);
    // A changed one starts over, on the same key.
    let mut changed = Worker::new(&store, &config(A_MILLISECOND_LATER, "0s"));
    changed.tick(START + 400);
    assert_eq!(changed.router.entries[0].weights(), [500_000, 500_000]);
    assert_eq!(store.len(), 1);
    let claims = |w: &Worker| {
        w.host
            .lines_with("guard state in shared key traffic-shift/rollout/reviews")
    };
    assert_eq!(claims(&a) + claims(&b), 1, "created once");
    assert_eq!(claims(&again), 0, "kept");
    assert_eq!(
        changed.host.lines_with(
            "traffic-shift/rollout/reviews (taken over from the previous configuration)"
        ),
        1
    );
}

#[test]
fn resets_and_other_filters_answers_never_trip() {
    let store = ProcessStore::default();
    let mut a = Worker::new(&store, &ramp());
    a.tick(START);
    for round in 1..=20 {
        a.requests(100, Outcome::NotCounted);
        a.tick(START + round * 100);
    }
    assert_eq!(a.host.gauge("rollout_tripped"), [0]);
    assert_eq!(a.host.lines_with("tripped"), 0);
    assert!(a.host.counters.borrow().is_empty(), "no failure counted");
    // The same traffic failing trips.
    a.requests(100, Outcome::Failure);
    a.tick(START + 2_200);
    assert_eq!(a.host.gauge("rollout_tripped"), [1]);
}

#[test]
fn a_finished_rollout_past_window_and_bake_no_longer_trips() {
    let store = ProcessStore::default();
    let mut a = Worker::new(&store, &config(AT_START, "1m"));
    // Last step at +10 s, window 5 s, bake 60 s: watched until +75 s.
    assert_eq!(a.tick(START + 74_000), 100);
    assert!(a.engine.watch(Some(TO_V3)).is_some());
    assert_eq!(a.tick(START + 75_000), 0, "the timer turns itself off");
    assert_eq!(a.requests(100, Outcome::Failure), 100);
    a.tick(START + 75_100);
    assert_eq!(a.host.gauge("rollout_tripped"), [0]);
    assert_eq!(a.router.entries[0].weights(), [0, 100]);
    // Counts watched just before the end and published after it judge nothing.
    let mut late = Worker::new(&store, &ramp());
    late.tick(START + 14_900);
    late.requests(100, Outcome::Failure);
    late.tick(START + 15_000);
    assert_eq!(late.host.gauge("rollout_tripped"), [0]);
}

#[test]
fn a_clock_stepping_back_keeps_the_counts() {
    let store = ProcessStore::default();
    let text = ramp();
    let (mut a, mut b) = two_workers(&store, &text);
    a.tick(START + 4_000);
    b.tick(START + 1_000);
    let to_v3 = a.requests(30, Outcome::Failure);
    assert!(
        (10..20).contains(&to_v3),
        "{to_v3}: under minRequests alone"
    );
    a.tick(START + 4_100);
    assert_eq!(a.host.gauge("rollout_tripped"), [0]);
    // B's clock is 3 s behind A's: its failures still land in the window, A's stay.
    b.requests(30, Outcome::Failure);
    b.tick(START + 1_100);
    b.tick(START + 1_200);
    a.tick(START + 4_200);
    assert_eq!(b.host.gauge("rollout_tripped"), [1]);
    assert_eq!(a.host.gauge("rollout_tripped"), [1]);
}
