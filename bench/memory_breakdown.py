"""Where an Envoy's memory goes with each filter, per process and per worker (BENCHMARKS.md "Memory").

python -m bench.memory_breakdown: for each variant (native, noop, shift, shift-1, shift-1000, and shift-cmp /
shift-1000-cmp with BENCH_COMPARE_MODULE), one Envoy with only that listener at --concurrency 1 and again at
MORE_WORKERS, loaded briefly so every worker's structures exist, then read from outside:
- RSS (/proc/<pid>/status);
- tcmalloc (admin /memory): `allocated` is what Envoy and V8 hold; `heap_size - allocated` is memory freed
  but kept by the allocator (its page heap and caches), which counts in RSS;
- V8's compiled code: the anonymous executable mappings' resident size (/proc/<pid>/smaps);
- each Wasm VM's linear memory (size and resident; tools/soak/memory.py finds them by V8's guard region);
- the module's largest function body (bytes): V8 compiles every function with its optimizing compiler when the
  module loads, and the memory that takes grows with the function's size.
A worker's cost is the difference between the two Envoys over the workers added (several, so that the few
MiB RSS wanders between runs is divided too), also without the memory tcmalloc keeps free, which wanders most;
the rest is paid once per Envoy.
"""

import json
import os
import sys

from tools import envoylab
from tools.envoylab.memory import rss_bytes, wasm_memories
from tools.wasm_binary import function_sizes

from . import envoys, listeners, load
from . import settings as bench_settings

MIB = 1 << 20
VARIANTS = ("native", "noop", "shift", "shift-1", "shift-1000")
MORE_WORKERS = 4


def compiled_code_bytes(pid: int) -> int:
    """Resident bytes of anonymous executable mappings: the code V8 compiled (Envoy's own is file-backed)."""
    resident, executable = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 5 and "-" in fields[0] and len(fields[1]) == 4:
                executable = fields[1][2] == "x" and len(fields) == 5  # no path: anonymous
            elif fields and fields[0] == "Rss:" and executable:
                resident += int(fields[1]) * 1024
    return resident


def read(envoy) -> dict:
    tcmalloc = json.loads(envoy.admin("/memory"))
    memories = sorted(wasm_memories(envoy.pid), reverse=True)
    return {
        "rss": rss_bytes(envoy.pid),
        "allocated": int(tcmalloc["allocated"]),
        "held_free": int(tcmalloc["heap_size"]) - int(tcmalloc["allocated"]),
        "code": compiled_code_bytes(envoy.pid),
        "wasm": memories,
    }


def measure(variant, upstream_ports: dict, concurrency: int, settings) -> dict:
    envoy = envoys.start(lambda: listeners.measured_bootstrap([variant], upstream_ports), concurrency=concurrency)
    try:
        load.closed_loop(envoy.ports[variant.name], variant.host, settings.memory_seconds, settings.connections)
        return read(envoy)
    finally:
        envoy.close()


def variants(module: str, compare_module: str) -> list:
    by_name = {v.name: v for v in listeners.variants(module, compare_module)}
    chosen = [by_name[name] for name in VARIANTS]
    if compare_module:
        chosen.append(by_name["shift-cmp"])
        chosen.append(
            listeners.Variant(
                "shift-1000-cmp",
                "BENCH_COMPARE_MODULE, 1,000 entries, last hit",
                envoylab.configs.authority(999),
                (envoylab.wasm_filter(envoylab.configs.authority_entries(1000), module=compare_module),),
                by_name["shift-1000"].route,
            )
        )
    return chosen


def module_of(variant, module: str, compare_module: str) -> str:
    if variant.name == "noop":
        return listeners.NOOP.path
    if variant.name.startswith("shift"):
        return compare_module if variant.name.endswith("-cmp") else module
    return ""


def table(rows: list) -> str:
    lines = [
        "| Envoy | RSS MiB, 1 worker | per worker more | the same less memory tcmalloc keeps free | "
        "tcmalloc allocated | freed, kept by tcmalloc | V8 code | Wasm VMs: linear memory MiB (resident) | "
        "largest function |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        one, more = row["by_concurrency"][1], row["by_concurrency"][MORE_WORKERS]
        added = MORE_WORKERS - 1
        vms = ", ".join("%.2f (%.2f)" % (size / MIB, resident / MIB) for size, resident in one["wasm"]) or "-"
        largest = ("%d B" % row["largest_function"]) if row["largest_function"] else "-"
        lines.append(
            "| %s | %.1f | %+.2f | %+.2f | %.1f | %.1f | %.1f | %s | %s |"
            % (
                row["variant"],
                one["rss"] / MIB,
                (more["rss"] - one["rss"]) / added / MIB,
                (more["rss"] - more["held_free"] - one["rss"] + one["held_free"]) / added / MIB,
                one["allocated"] / MIB,
                one["held_free"] / MIB,
                one["code"] / MIB,
                vms,
                largest,
            )
        )
    return "\n".join(lines)


def per_entry(rows: list, small: str, large: str, entries: int) -> str:
    """Linear memory per entry of the largest VM, between the 1-entry and 1,000-entry configurations."""
    by_name = {row["variant"]: row["by_concurrency"][1] for row in rows}
    if small not in by_name or large not in by_name:
        return ""
    grow = by_name[large]["wasm"][0][0] - by_name[small]["wasm"][0][0]
    resident = by_name[large]["wasm"][0][1] - by_name[small]["wasm"][0][1]
    return "%s: linear memory per VM %.2f KiB per entry (resident %.2f KiB) over %s" % (
        large,
        grow / (entries - 1) / 1024,
        resident / (entries - 1) / 1024,
        small,
    )


def main() -> int:
    settings = bench_settings.from_environment()
    module = envoylab.module_path()
    load.require("wrk", "make bench-modules")
    upstream = envoys.start(listeners.upstream_bootstrap)
    rows = []
    try:
        ports = listeners.upstream_ports(upstream)
        for variant in variants(module, settings.compare_module):
            path = module_of(variant, module, settings.compare_module)
            largest = max(function_sizes(open(path, "rb").read())) if path else 0
            measured = {c: measure(variant, ports, c, settings) for c in (1, MORE_WORKERS)}
            rows.append({"variant": variant.name, "largest_function": largest, "by_concurrency": measured})
            print("  %s done" % variant.name, file=sys.stderr, flush=True)
    finally:
        upstream.close()
    print(table(rows))
    for small, large in (("shift-1", "shift-1000"), ("shift-1", "shift-1000-cmp")):
        line = per_entry(rows, small, large, 1000)
        if line:
            print(line)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(rows, f, indent=1)
    return 0


RESULTS = os.path.join(listeners.REPO, "target", "bench", "memory_breakdown.json")

if __name__ == "__main__":
    sys.exit(main())
