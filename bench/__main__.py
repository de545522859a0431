"""python -m bench: measure, print the table, end with the summary line (report.SUMMARY).
python -m bench --instructions: instructions per request under callgrind instead (instructions.py).
python -m bench --memory: only the memory tables (memory.py), a minute or two."""

import os
import sys
import time

from tools import envoylab

from . import envoys, instructions, listeners, machine, measure, memory, report, sanity
from . import settings as bench_settings
from .cpu import Meter, Placement
from .load import LoadError, require

RESULTS = os.path.join(listeners.REPO, "target", "bench", "results.json")
MEMORY_RESULTS = os.path.join(listeners.REPO, "target", "bench", "memory.json")
LATENCY_VARIANTS = ("native", "floor", "lua", "shift", "module")


def progress(message: str):
    print("  " + message, file=sys.stderr, flush=True)


def latency_rate(runs, settings) -> int:
    """Half the slowest of native/noop/shift medians, in hundreds: well below every listener's knee."""
    if settings.rate:
        return settings.rate
    rps = measure.medians(runs, "rps")
    return max(100, int(0.5 * min(rps[name] for name in LATENCY_VARIANTS) // 100 * 100))


def modules(module: str) -> dict:
    paths = [module] + [m.path for m in listeners.BENCH_MODULES] + [listeners.NATIVE_MODULE]
    return {os.path.basename(path): os.path.getsize(path) for path in paths}


def _require_builds(module: str):
    needed = [(module, "make build")] + [
        (m.path, "make bench (builds bench/%s)" % m.crate) for m in listeners.BENCH_MODULES
    ]
    needed.append((listeners.NATIVE_MODULE, "make build-native"))
    for path, how in needed:
        if not os.path.isfile(path):
            raise measure.BenchError("missing %s: run `%s`" % (path, how))


def run(settings) -> dict:
    module = envoylab.module_path()
    _require_builds(module)
    require("wrk")
    require("h2load")
    placement = Placement()
    placement.pin_self()  # the driver and everything it starts, except the measured Envoy
    context = {
        "machine": machine.describe(envoylab.envoy_binary()),
        "placement": placement.describe(),
        "background_busy": machine.background_busy(),
        "settings": settings.__dict__,
    }
    if settings.compare_module and not os.path.isfile(settings.compare_module):
        raise measure.BenchError("BENCH_COMPARE_MODULE: no file %s" % settings.compare_module)
    if settings.compare_native:
        listeners.install_compare_native(settings.compare_native)
    variants = listeners.variants(module, settings.compare_module, settings.cost_model, settings.compare_native)
    by_name = {v.name: v for v in variants}
    started = time.monotonic()
    upstream = envoys.start(listeners.upstream_bootstrap)
    try:
        ports = listeners.upstream_ports(upstream)
        measured = envoys.start(lambda: listeners.measured_bootstrap(variants, ports))
        try:
            placement.pin_process(measured.pid)
            meter, retries = Meter([measured.pid, upstream.pid]), measure.Retries(settings.retry_seconds)
            sanity.check(measured, variants)
            progress(
                "closed loop: %d round(s) x %d listeners x %.0f s, wrk -c%d"
                % (settings.rounds, len(variants), settings.seconds, settings.connections)
            )
            runs = measure.throughput_rounds(measured, placement, meter, retries, variants, settings, progress)
            rate = latency_rate(runs, settings)
            progress(
                "fixed rate: %d req/s, %d round(s) x %.0f s" % (rate, settings.latency_rounds, settings.latency_seconds)
            )
            latencies = measure.latency_rounds(
                measured, meter, retries, [by_name[n] for n in LATENCY_VARIANTS], rate, settings, progress
            )
        finally:
            measured.close()
        progress("memory: one Envoy per listener, 1 and %d workers" % memory.WORKERS)
        memories = memory.measure_all(by_name, ports, placement, settings)
    finally:
        upstream.close()
    context["seconds"] = round(time.monotonic() - started)
    result = report.summary(runs, latencies, memories, variants, modules(module), rate, context)
    result["table"] = report.table(result, latencies)
    return result


def run_memory(settings) -> dict:
    """The memory part of run() alone: the same listeners, Envoys and load; no throughput or latency."""
    module = envoylab.module_path()
    _require_builds(module)
    require("wrk")
    if settings.compare_module and not os.path.isfile(settings.compare_module):
        raise measure.BenchError("BENCH_COMPARE_MODULE: no file %s" % settings.compare_module)
    placement = Placement()
    placement.pin_self()
    by_name = {v.name: v for v in listeners.variants(module, settings.compare_module)}
    upstream = envoys.start(listeners.upstream_bootstrap)
    try:
        progress("memory: one Envoy per listener, 1 and %d workers" % memory.WORKERS)
        memories = memory.measure_all(by_name, listeners.upstream_ports(upstream), placement, settings)
    finally:
        upstream.close()
    return {
        "context": {"placement": placement.describe(), "settings": settings.__dict__},
        "modules": modules(module),
        **report.memory_figures(memories),
    }


def main_memory(settings) -> int:
    try:
        result = run_memory(settings)
    except (measure.BenchError, LoadError, envoylab.EnvoyError) as failure:
        print("bench --memory failed: %s" % failure, file=sys.stderr)
        return 1
    report.save(result, MEMORY_RESULTS)
    print("\n".join(report.memory_table(result)[1:]))
    print("(all numbers: %s)" % os.path.relpath(MEMORY_RESULTS))
    return 0


def main() -> int:
    settings = bench_settings.from_environment()
    if sys.argv[1:] == ["--instructions"]:  # `make bench-instructions` (instructions.py)
        return instructions.main(settings, progress)
    if sys.argv[1:] == ["--memory"]:
        return main_memory(settings)
    if sys.argv[1:]:
        print("usage: python -m bench [--instructions | --memory]", file=sys.stderr)
        return 2
    try:
        result = run(settings)
    except (measure.BenchError, LoadError, envoylab.EnvoyError) as failure:
        print("bench failed: %s" % failure, file=sys.stderr)
        return 1
    report.save(result, RESULTS)
    print(result["table"])
    print("(all numbers: %s)" % os.path.relpath(RESULTS))
    for line in report.final_lines(result):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
