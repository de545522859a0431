"""Plugin configurations with a `rollout` (weights the filter ramps by itself, guarded), and what an Envoy's
gauges say of one: for the rollout demo, its end-to-end tests and the soak."""

import math
import time

from . import metrics
from .configs import split

TICK = 0.1  # the filter's timer (src/proxy_wasm/rollout.rs): steps and trips reach every worker within it


def rfc3339(epoch: float) -> str:
    """UTC RFC 3339 with milliseconds, e.g. 2026-12-01T10:00:00.250Z."""
    millis = int(round(epoch * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + ".%03dZ" % (millis % 1000)


def next_second(lead: float) -> float:
    """A whole second at least `lead` seconds from now: a start every process can reproduce."""
    return float(math.ceil(time.time() + lead))


def rollout_entry(
    start: float,
    steps,
    *,
    target: dict,
    start_weights: dict,
    guard: dict = None,
    sticky: dict = None,
    name: str = "reviews",
    duration: str = None,
) -> dict:
    """An http entry ramping from `start_weights` to `target` (same subsets, same order).
    steps: [(seconds after start, progress)], or a number of equal steps with `duration`."""
    rollout = {"from": [start_weights[subset] for subset in target], "start": rfc3339(start)}
    if duration is None:
        rollout["steps"] = [{"at": "%dms" % round(1000 * at), "progress": progress} for at, progress in steps]
    else:
        rollout.update(steps=steps, duration=duration)
    if guard:
        rollout["guard"] = guard
    entry = {"name": name, "route": split(target), "rollout": rollout}
    if sticky:
        entry["sticky"] = sticky
    return entry


def shares_at(progress: int, start_weights: dict, target: dict) -> dict:
    """The shares in force at `progress` (what the filter computes, before its rounding to ppm)."""
    f_total, t_total = sum(start_weights.values()), sum(target.values())
    return {
        s: start_weights[s] / f_total + (target[s] / t_total - start_weights[s] / f_total) * progress / 100
        for s in target
    }


def rollout_state(envoy, entry: str = "reviews") -> dict:
    """What an Envoy's /stats/prometheus says of a rollout entry: progress (0-100), tripped (0/1), and per
    destination (cluster name) the share in force (ppm) and the guard's failure count."""

    def of(name: str, by=("entry", "destination")) -> dict:
        return {
            key[1:] if len(key) > 1 else (): n for key, n in metrics.summed(envoy, name, by).items() if key[0] == entry
        }

    def one(name: str) -> int:
        return of(name, ("entry",)).get((), 0)

    return {
        "progress": one("traffic_shift_rollout_progress_percent"),
        "tripped": one("traffic_shift_rollout_tripped"),
        "share": {key[0]: n for key, n in of("traffic_shift_rollout_share_ppm").items()},
        "errors": {key[0]: n for key, n in of("traffic_shift_rollout_errors_total").items()},
    }
