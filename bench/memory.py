"""Memory with and without the filter: one short-lived Envoy per variant and worker count (only that listener),
pinned like the measured one, loaded briefly so every per-worker structure exists, then RSS and tcmalloc's
count read.

Every worker holds its own Wasm VM (and the main thread one more), so the Envoy with WORKERS workers less the
one with 1 is what one more worker costs (per_worker); a mesh sidecar runs WORKERS, Istio's default."""

import dataclasses

from tools import envoylab

from . import envoys, listeners, load

WORKERS = 2  # Istio's default sidecar concurrency
# Measured with 1 worker; the PER_WORKER ones with WORKERS too. Those of them the run has (shift-cmp needs
# BENCH_COMPARE_MODULE).
VARIANTS = ("native", "noop", "shift", "module", "shift-1000", "shift-cmp")
PER_WORKER = ("native", "noop", "shift", "module", "shift-cmp")


@dataclasses.dataclass
class Memory:
    variant: str
    rss: int
    allocated: int
    workers: int = 1


def measure(variants, upstream_ports: dict, placement, settings, workers: int = 1) -> list:
    results = []
    for variant in variants:
        envoy = envoys.start(
            lambda variant=variant: listeners.measured_bootstrap([variant], upstream_ports), concurrency=workers
        )
        try:
            placement.pin_process(envoy.pid)
            load.closed_loop(envoy.ports[variant.name], variant.host, settings.memory_seconds, settings.connections)
            results.append(Memory(variant.name, envoylab.rss_bytes(envoy.pid), envoys.allocated_bytes(envoy), workers))
        finally:
            envoy.close()
    return results


def measure_all(by_name: dict, upstream_ports: dict, placement, settings) -> list:
    """VARIANTS with 1 worker, then PER_WORKER with WORKERS; only the listeners by_name has."""
    ones = [by_name[n] for n in VARIANTS if n in by_name]
    more = [by_name[n] for n in PER_WORKER if n in by_name]
    return measure(ones, upstream_ports, placement, settings) + measure(
        more, upstream_ports, placement, settings, WORKERS
    )


def per_worker(memories: list) -> dict:
    """{variant: bytes one more worker costs}, RSS and tcmalloc's, and RSS above noop's (when noop has it),
    for every variant measured with 1 worker and with more."""
    by_key = {(m["variant"], m["workers"]): m for m in memories}
    result = {}
    for (name, workers), more in by_key.items():
        one = by_key.get((name, 1))
        if workers > 1 and one:
            result[name] = {field: (more[field] - one[field]) / (workers - 1) for field in ("rss", "allocated")}
    if "noop" in result:
        for figures in result.values():
            figures["rss_above_noop"] = figures["rss"] - result["noop"]["rss"]
    return result
