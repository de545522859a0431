"""The plugin configuration is swapped over ECDS while a steady load runs on two workers.

One Envoy (`--concurrency 2`) takes its traffic-shift configuration from a watched directory, as Istio delivers
a WasmPlugin (tools/envoylab/ecds.py). Keep-alive clients, two on each worker thread, send a paced load while
the configuration goes all-v1 -> all-v2 -> 50/50 v1/v3 -> all-v3 -> invalid (weight -5) -> all-v1. Each stage's
destinations are disjoint from the previous one's or a subset taking everything, so the moment a configuration
is in force is exactly observable: the first request after the last answer from a destination it no longer
uses. Requests sent more than SETTLE after the rename must all follow the new configuration (the 50/50 one
within 5 sigma); the refused configuration must change nothing. No request may fail; Envoy keeps its pid.

The propagation times (rename -> in force) are printed, also without -s, and written with every stage's
numbers to propagation.json in the test's tmp dir. There is no timing assertion beyond SETTLE.
"""

import collections
import json
import statistics
import time

from tools import envoylab as lab

from load_shift import clients_on_every_worker, destinations, judge_stage, settled_answers, timeline
from shift_configs import config, entry, split

WORKERS = 2
PER_WORKER = 2  # keep-alive client connections on each worker
RATE = 250  # requests per second per connection
SETTLE = 0.5  # after a rename, answers from the old configuration are allowed this long; after it, none
HOLD = 1.0  # seconds of traffic after SETTLE in each stage (the 50/50 stage waits for its sample too)
MAX_SECONDS = 45.0  # bound of every client, and (less 5 s) of the whole scenario
HALF = {"v1": 50, "v3": 50}
INVALID_REASON = "invalid configuration at http[0].route[1].weight: expected a non-negative integer, got -5"


def plugin(weights: dict) -> str:
    return json.dumps(config(entry("reviews", split(weights))))


# (name, plugin configuration text, weights it serves; None: Envoy must refuse it and keep the previous one)
INITIAL = ("all-v1", plugin({"v1": 100}), {"v1": 100})
SWAPS = [
    ("all-v2", plugin({"v2": 100}), {"v2": 100}),
    ("50/50 v1/v3", plugin(HALF), HALF),
    ("all-v3", plugin({"v3": 100}), {"v3": 100}),
    ("invalid weight -5", plugin({"v3": 100, "v1": -5}), None),
    ("all-v1 again", plugin({"v1": 100}), {"v1": 100}),
]


def wanted_sample(weights) -> int:
    """Answers needed after SETTLE: a 5-sigma sample (tol 5%) for a split, at least 100 for a 100% stage."""
    return lab.sample_size(weights) if weights and len(destinations(weights)) > 1 else 100


def run_scenario(module: str, watched_dir: str) -> dict:
    """Start Envoy and the clients, apply every swap under load; returns what happened, for judging after."""
    envoy = lab.ecds.launch(watched_dir, INITIAL[1], module, concurrency=WORKERS)
    running = []
    try:
        pid = envoy.pid
        assert lab.ecds.counters(envoy).get("update_success") == 1, "initial config not accepted"
        by_worker, extra = clients_on_every_worker(envoy, PER_WORKER, RATE, MAX_SECONDS)
        running = [c for clients in by_worker.values() for c in clients]
        connections = lab.connections_per_worker(envoy)
        give_up = time.monotonic() + MAX_SECONDS - 5
        time.sleep(HOLD)  # a baseline on the initial configuration
        swaps = []
        for _, text, weights in SWAPS:
            done = lab.ecds.push(envoy, watched_dir, text, module)
            swaps.append(done)
            hold_until = done.renamed + SETTLE + HOLD
            while time.monotonic() < give_up and (
                time.monotonic() < hold_until or settled_answers(running, done.renamed, SETTLE) < wanted_sample(weights)
            ):
                time.sleep(0.05)
        ended = time.monotonic()
        connections_at_end = lab.connections_per_worker(envoy)
        pid_at_end = envoy.pid if envoy.running else None
    finally:
        for client in running:
            client.stop()
        counted = lab.metrics.requests(envoy, by=("subset",)) if envoy.running else {}
        log = envoy.log()
        envoy.close()
    return {
        "pid": (pid, pid_at_end),
        "by_worker": by_worker,
        "answers": timeline(running + extra),
        "connections": (connections, connections_at_end),
        "swaps": swaps,
        "ended": ended,
        "log": log,
        "filter_counters": counted,
    }


def assert_verdict(name: str, done, accepted: bool, log: str):
    """Envoy's verdict on a swap, from its ECDS counters, and for a refusal the filter's own log line."""
    verdict = "accepted" if accepted else "rejected"
    assert done.verdict == verdict, "%s: %s (%s), counters moved %r" % (name, done.verdict, done.reason, done.moved)
    assert done.moved == {"update_success": int(accepted), "update_rejected": int(not accepted), "update_failure": 0}, (
        name,
        done.moved,
    )
    if not accepted:
        assert INVALID_REASON in done.reason, "%s: not the filter's reason: %r" % (name, done.reason)
        assert "traffic-shift: " + INVALID_REASON in log


def test_swaps_under_load_on_two_workers_never_fail_and_take_effect_within_settle(module, tmp_path, capsys):
    run = run_scenario(module, str(tmp_path / "ecds"))
    answers, swaps = run["answers"], run["swaps"]

    assert run["pid"][0] == run["pid"][1], "Envoy restarted or died: pid %s -> %s" % run["pid"]
    failures = collections.Counter(a for _, a in answers if a.startswith("failed"))
    assert not failures, "%d of %d requests failed: %r" % (sum(failures.values()), len(answers), failures)
    # PacedClient reopens a connection Envoy closed and retries once; no reopen means no hidden retry.
    assert run["connections"][0] == run["connections"][1], "connections reopened: %r -> %r" % run["connections"]
    assert sorted(run["by_worker"]) == list(range(WORKERS)), "workers: %r" % sorted(run["by_worker"])

    names = [INITIAL[0]] + [name for name, _, _ in SWAPS]
    starts = [answers[0][0]] + [s.renamed for s in swaps]
    ends = starts[1:] + [run["ended"]]
    serving = [INITIAL[2]]
    for _, _, weights in SWAPS:
        serving.append(weights or serving[-1])

    # Both workers served every stage: each of their connections was answered within every stage.
    for worker, clients in run["by_worker"].items():
        for client in clients:
            idle = [n for n, s, e in zip(names, starts, ends) if not client.answers_between(s, e)]
            assert not idle, "a connection on worker %d got no answer during %s" % (worker, idle)

    report = []
    for i, name in enumerate(names):
        if i:
            assert_verdict(name, swaps[i - 1], accepted=SWAPS[i - 1][2] is not None, log=run["log"])
        old = destinations(serving[i - 1] if i else serving[0])
        following = destinations(serving[i + 1]) if i + 1 < len(serving) else set()
        judged = judge_stage(answers, starts[i], ends[i], old, destinations(serving[i]), following, SETTLE)
        assert not judged["wrong"], (
            "%s: answers the configuration does not explain (s after the rename, version): %r" % (name, judged["wrong"])
        )
        settled = judged.pop("settled")
        assert sum(settled.values()) >= wanted_sample(serving[i]), "%s: too few answers: %r" % (name, settled)
        lab.assert_shares(settled, serving[i])
        report.append(
            {
                "stage": name,
                "verdict": swaps[i - 1].verdict if i else "initial",
                "ecds_ms": round(1000 * swaps[i - 1].seconds, 2) if i else None,
                **judged,
                "settled": dict(settled),
            }
        )

    # The filter's own counters kept counting across the swaps, on both workers: one per answer.
    seen = collections.Counter(a for _, a in answers)
    expected = {(version,): n for version, n in seen.items()}
    assert {k: v for k, v in run["filter_counters"].items() if v} == expected, (run["filter_counters"], seen)

    in_force = [r["in_force_ms"] for r in report if r["verdict"] == "accepted"]
    summary = (
        "shift under load: %d requests over %d connections on %d workers, 0 failed; %d swaps (%d refused, "
        "previous config kept); rename -> in force: max %.1f ms, median %.1f ms (%s)"
        % (
            len(answers),
            WORKERS * PER_WORKER,
            WORKERS,
            len(swaps),
            len(swaps) - len(in_force),
            max(in_force),
            statistics.median(in_force),
            ", ".join("%.1f" % ms for ms in in_force),
        )
    )
    (tmp_path / "propagation.json").write_text(json.dumps({"summary": summary, "stages": report}, indent=2))
    with capsys.disabled():
        print("\n" + summary)
