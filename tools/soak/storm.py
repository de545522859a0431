"""Push storm: ECDS pushes under the steady load, alternating between configurations (configs.STORM_SHAPES:
weights, entries, sticky on and off), every BAD_EVERY-th one invalid and refused. After each accepted push
every probe (HTTP/1.1 and HTTP/2, each worker, connections open since before the load) must answer from the
new configuration within PROPAGATION_TIMEOUT; the time it took is recorded. At the end the final split is
checked (5 sigma) over the same connections, and RSS, tcmalloc and the Wasm VMs are compared with before.
"""

import collections
import statistics
import time

from tools import envoylab
from tools.envoylab import ecds
from tools.envoylab.rollout import TICK

from . import configs, memory, traffic
from . import probes as probes_mod
from .envoy import front_counters, push

BAD_EVERY = 20
PUSH_INTERVAL = 0.25  # seconds between pushes
WARMUP_CYCLES = 4
PROPAGATION_TIMEOUT = 5.0  # a push not in force everywhere by then is a stall
# Memory kept per accepted push: a leaked filter configuration (its router, a VM context) costs at least its
# compiled size, ~50 KiB for the largest shape here; 0.05 MiB per push over 200 pushes would be 10 MiB.
PER_PUSH_BOUND = 0.05 * memory.MIB
# What RSS moves between two idle samples around a short storm without any leak: up to ~5 MiB measured over
# 20 pushes (tcmalloc's page heap and the load's buffers). Growth beyond it plus the per-push bound fails, so a
# short storm cannot see a small leak; the full one (200 pushes) bounds it to 0.05 + 8/200 = 0.09 MiB per push.
RSS_NOISE = 8 * memory.MIB


def _idle_sample(envoy, settle: float = 2.0) -> memory.Sample:
    time.sleep(settle)  # Envoy drops replaced filter configurations once their last stream ends
    return memory.sample(envoy, time.monotonic())


def run(envoy, watched_dir: str, settings, probes: list) -> dict:
    problems = []
    current, generation = configs.VERSIONS[0], 0  # what the first configuration's probe entry answers
    probes_mod.wait_for(probes, current, current, time.monotonic(), PROPAGATION_TIMEOUT)
    # Warm-up under load, each shape pushed WARMUP_CYCLES times, before the baseline: what Envoy keeps for good
    # per connection load (buffers, thread caches) and per distinct configuration (the stats its entries name,
    # the largest configuration's high-water mark in each VM's linear memory) is then in "before", so only
    # per-push growth shows. (Measured: the first ~50 pushes under load add ~7 MiB, the next 48 ~1.6 MiB.)
    warmup = traffic.Load(envoy.port, 1 + WARMUP_CYCLES * len(configs.STORM_SHAPES) * PUSH_INTERVAL)
    try:
        for _, shape in configs.STORM_SHAPES * WARMUP_CYCLES:
            time.sleep(PUSH_INTERVAL)
            upcoming = configs.VERSIONS[(generation + 1) % len(configs.VERSIONS)]
            outcome = push(envoy, watched_dir, configs.text(configs.realistic(upcoming, **shape)))
            if not outcome.accepted:
                raise RuntimeError("warm-up push refused: %s" % outcome.reason)
            probes_mod.wait_for(probes, upcoming, current, outcome.renamed, PROPAGATION_TIMEOUT)
            current, generation = upcoming, generation + 1
        warm_failed = sum(r.failed for r in warmup.wait())
        if warm_failed:
            problems.append("%d failed requests during the warm-up pushes" % warm_failed)
    finally:
        warmup.stop()
    before = _idle_sample(envoy)
    ecds_before, front_before = ecds.counters(envoy), front_counters(envoy)
    vms_before = envoy.stats(r"^wasm\.envoy\.wasm\.runtime\.v8\.active$")
    load = traffic.Load(envoy.port, settings.pushes * PUSH_INTERVAL + 3)
    started = time.monotonic()
    deadline = started + settings.storm_max_seconds
    propagation, ecds_ms, shapes, refused = [], [], collections.Counter(), 0
    try:
        for number in range(1, settings.pushes + 1):
            if time.monotonic() > deadline:
                problems.append("storm cut at push %d: over %.0fs" % (number, settings.storm_max_seconds))
                break
            time.sleep(max(0.0, started + 1 + number * PUSH_INTERVAL - time.monotonic()))
            upcoming = configs.VERSIONS[(generation + 1) % len(configs.VERSIONS)]
            if number % BAD_EVERY == 0:
                outcome = push(envoy, watched_dir, configs.text(configs.invalid(upcoming, number)))
                if outcome.verdict != "rejected" or configs.BAD_REASON not in outcome.reason:
                    problems.append("push %d (invalid): %s %s" % (number, outcome.verdict, outcome.reason))
                refused += 1
                still = {p.name: p.version() for p in probes}
                if set(still.values()) != {current}:
                    problems.append("push %d (invalid) changed what probes see: %r" % (number, still))
                continue
            generation += 1
            label, shape = configs.STORM_SHAPES[generation % len(configs.STORM_SHAPES)]
            outcome = push(envoy, watched_dir, configs.text(configs.realistic(upcoming, **shape)))
            if not outcome.accepted:
                problems.append("push %d (%s): %s %s" % (number, label, outcome.verdict, outcome.reason))
                generation -= 1
                continue
            ecds_ms.append(1000 * outcome.seconds)
            seen = probes_mod.wait_for(probes, upcoming, current, outcome.renamed, PROPAGATION_TIMEOUT)
            propagation.extend(seen.values())
            shapes[label] += 1
            current = upcoming
        results = load.wait()
    except probes_mod.ProbeError as failure:
        load.stop()
        problems.append(str(failure))
        results = []
    final_shape = configs.STORM_SHAPES[generation % len(configs.STORM_SHAPES)][1]
    final_split = final_shape.get("split")
    after = _idle_sample(envoy)
    if final_shape.get("rollout"):
        time.sleep(configs.ROLLOUT_SECONDS + 2 * TICK)  # the ramp has reached `split` by then
    shares = _final_shares(probes, final_split, problems)
    ecds_after, front_after = ecds.counters(envoy), front_counters(envoy)
    vms_after = envoy.stats(r"^wasm\.envoy\.wasm\.runtime\.v8\.active$")
    accepted = len(ecds_ms)
    moved = {k: ecds_after.get(k, 0) - ecds_before.get(k, 0) for k in ecds.OUTCOMES}
    if moved != {"update_success": accepted, "update_rejected": refused, "update_failure": 0}:
        problems.append("ECDS counters moved %r for %d accepted, %d refused pushes" % (moved, accepted, refused))
    failed = sum(r.failed for r in results)
    envoy_errors = sum(front_after.get(k, 0) - front_before.get(k, 0) for k in ("4xx", "5xx"))
    if failed or envoy_errors:
        problems.append("%d failed requests under the storm (Envoy counted %d 4xx/5xx)" % (failed, envoy_errors))
    per_push = (after.rss - before.rss) / max(1, accepted)
    if after.rss - before.rss > RSS_NOISE + PER_PUSH_BOUND * max(1, accepted):
        problems.append(
            "RSS grew %.3f MiB per push (bound %.2f, plus %d MiB noise over the storm)"
            % (per_push / memory.MIB, PER_PUSH_BOUND / memory.MIB, RSS_NOISE // memory.MIB)
        )
    if vms_after != vms_before or after.vms != before.vms:
        problems.append(
            "Wasm VMs before %r (%d memories), after %r (%d)" % (vms_before, before.vms, vms_after, after.vms)
        )
    return {
        "pushes": accepted + refused,
        "accepted": accepted,
        "refused": refused,
        "shapes": dict(shapes),
        "requests": sum(r.requests for r in results),
        "failed": failed,
        "by_protocol": {r.protocol: r.requests for r in results},
        "ecds_ms": _spread(ecds_ms),
        "in_force_ms": _spread([1000 * s for s in propagation]),
        "probes": [p.name for p in probes],
        "final_split": shares,
        "rss_mib": [round(before.rss / memory.MIB, 1), round(after.rss / memory.MIB, 1)],
        "allocated_mib": [round(before.allocated / memory.MIB, 1), round(after.allocated / memory.MIB, 1)],
        "wasm_mib": [round(before.wasm_size / memory.MIB, 2), round(after.wasm_size / memory.MIB, 2)],
        "mib_per_push": round(per_push / memory.MIB, 4),
        "vms": [before.vms, after.vms],
        "problems": problems,
    }


def _spread(values: list) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 1),
        "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
    }


def _final_shares(probes: list, weights: dict, problems: list) -> dict:
    """The final configuration's split, sampled over the already-open probe connections (no probe header)."""
    n = envoylab.sample_size(weights) if len(weights) > 1 else 200
    counts = collections.Counter()
    deadline = time.monotonic() + 60
    for i in range(n):
        if time.monotonic() > deadline:
            problems.append("final split: only %d of %d requests in 60s" % (i, n))
            break
        status, version = probes[i % len(probes)].connection.get({})
        counts[version if status == 200 else "status %d" % status] += 1
    try:
        envoylab.assert_shares(counts, weights)
    except AssertionError as failure:
        problems.append(str(failure))
    return {"weights": weights, "counts": dict(counts)}
