"""Steady load: wrk (HTTP/1.1) and h2load (h2c) together, in rounds, until `steady_requests` are answered;
memory sampled all along. Fails on any failed request, and on memory that grows after warm-up faster than
SLOPE_BOUND (RSS, tcmalloc) or at all (Wasm linear memory beyond one 64 KiB page per VM).

SLOPE_BOUND, 1 MiB per 100,000 requests: the smallest leak that matters, one allocation per request, costs at
least 16 bytes (tcmalloc's smallest size class; Wasm's dlmalloc likewise), i.e. 1.5 MiB per 100,000, so any
per-request leak exceeds the bound, while a flat process measures well under it (tcmalloc's caches and the
load generators' connections settle during warm-up).
"""

import time

from . import memory, traffic
from .envoy import front_counters

SLOPE_BOUND = 1.0 * memory.MIB  # bytes per 100,000 requests
# A slope over the bound fails only once it adds up to more than NOISE over the run: RSS moves a few MiB
# while a short run warms up. So a short run (tests/test_soak_short.py) relies on the Wasm check, which is
# exact, and the full one (1,000,000 requests: 10 MiB at the bound) on both.
NOISE = 4 * memory.MIB
WASM_PAGE = 64 * 1024


def run(envoy, settings) -> dict:
    sampler = memory.Sampler(envoy, settings.sample_seconds, settings.steady_max_seconds + 60)
    before = front_counters(envoy)
    started = time.monotonic()
    deadline = started + settings.steady_max_seconds
    results = []
    sampler.start()
    try:
        while sum(r.requests for r in results) < settings.steady_requests and time.monotonic() < deadline:
            left = min(settings.round_seconds, deadline - time.monotonic())
            results += traffic.Load(envoy.port, max(1.0, left)).wait()
    finally:
        samples = sampler.stop()
    return judge(results, samples, settings, time.monotonic() - started, before, front_counters(envoy), sampler.errors)


def judge(results, samples, settings, seconds, before, after, sampler_errors) -> dict:
    by_protocol = {}
    for r in results:
        entry = by_protocol.setdefault(r.protocol, {"requests": 0, "failed": 0})
        entry["requests"] += r.requests
        entry["failed"] += r.failed
    requests = sum(r.requests for r in results)
    failed = sum(r.failed for r in results)
    envoy_errors = sum(after.get(k, 0) - before.get(k, 0) for k in ("4xx", "5xx"))
    settled = memory.after_warmup(samples, settings.warmup_share)
    slopes = {field: memory.slope_per(settled, field) for field in ("rss", "allocated", "wasm_size", "wasm_rss")}
    wasm_growth = settled[-1].wasm_size - settled[0].wasm_size if settled else 0
    vms = settled[-1].vms if settled else 0
    problems = []
    if requests < settings.steady_requests:
        problems.append("only %d of %d requests within %.0fs" % (requests, settings.steady_requests, seconds))
    if failed or envoy_errors:
        problems.append("%d failed requests (Envoy counted %d 4xx/5xx)" % (failed, envoy_errors))
    span = settled[-1].requests - settled[0].requests if settled else 0
    for field in ("rss", "allocated"):
        if slopes[field] > SLOPE_BOUND and slopes[field] * span / 100_000 > NOISE:
            problems.append(
                "%s grows %.2f MiB per 100k requests after warm-up (bound %.1f)"
                % (field, slopes[field] / memory.MIB, SLOPE_BOUND / memory.MIB)
            )
    if wasm_growth > WASM_PAGE * max(1, vms):
        problems.append("Wasm linear memory grew %d KiB after warm-up" % (wasm_growth // 1024))
    if sampler_errors or len(settled) < 3:
        problems.append("memory not sampled: %s" % (sampler_errors or "%d samples" % len(settled)))
    return {
        "requests": requests,
        "failed": failed,
        "seconds": round(seconds, 1),
        "rps": round(requests / seconds) if seconds else 0,
        "by_protocol": by_protocol,
        "samples": len(samples),
        "slopes_mib_per_100k": {k: round(v / memory.MIB, 4) for k, v in slopes.items()},
        "wasm_growth_kib": wasm_growth // 1024,
        "vms": vms,
        "rss_mib": [round(s.rss / memory.MIB, 1) for s in (samples[0], samples[-1])] if samples else [],
        "wasm_mib": round(settled[-1].wasm_size / memory.MIB, 2) if settled else None,
        "curve": [
            (
                s.requests,
                round(s.rss / memory.MIB, 2),
                round(s.allocated / memory.MIB, 2),
                round(s.wasm_size / memory.MIB, 3),
            )
            for s in samples
        ],
        "problems": problems,
    }
