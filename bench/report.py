"""The printed table and the saved JSON. The last printed line is the summary other tools read:
`ratio_vs_floor=A.AAA ratio_vs_lua=B.BBB ratio_vs_noop=C.CCC ratio_vs_native=D.DDD`, just after
`ratio_module_vs_native=E.EEE` and `ratio_module_filter_vs_lua=F.FFF`, each on its own line."""

import dataclasses
import json
import os
import statistics

from . import measure, memory

MIB = 1024 * 1024
# Every ratio: name -> (numerator listener, denominator listener), throughput within a round. A ratio is
# reported only when the run had both listeners (shift-cmp needs BENCH_COMPARE_MODULE).
RATIOS = {
    "ratio_vs_floor": ("shift", "floor"),
    "ratio_vs_lua": ("shift", "lua"),
    "ratio_vs_noop": ("shift", "noop"),
    "ratio_vs_native": ("shift", "native"),
    "ratio_1000_vs_1": ("shift-1000", "shift-1"),
    "ratio_cmp_vs_shift": ("shift-cmp", "shift"),
    "ratio_rollout_vs_shift": ("shift-rollout", "shift"),
    "ratio_gateway_vs_shift": ("shift-gateway", "shift"),
    # The native build (dynamic module): its cluster specifier (the faster way) and its HTTP filter.
    "ratio_module_vs_native": ("module", "native"),
    "ratio_module_filter_vs_native": ("module-filter", "native"),
    "ratio_module_rollout_vs_module_filter": ("module-rollout", "module-filter"),
    # The native build's HTTP filter against what a user would write instead: it must be the faster one.
    "ratio_module_filter_vs_lua": ("module-filter", "lua"),
    # BENCH_COMPARE_NATIVE: another build of the native module against this one.
    "ratio_module_cmp_vs_module": ("module-cmp", "module"),
    "ratio_module_filter_cmp_vs_module_filter": ("module-filter-cmp", "module-filter"),
}
# BENCH_COST_MODEL: what one step costs, as the difference in Envoy CPU per request of two listeners.
COST_STEPS = (
    ("the filter with nothing to read, over the floor", "cost-0", "floor"),
    ("reading 1 absent header", "cost-absent", "cost-0"),
    ("reading 1 header value (:path)", "cost-present", "cost-0"),
    ("1 present header failing its value, its later values read too", "cost-later-values", "cost-0"),
    ("hosts (reads :authority)", "cost-hosts", "cost-0"),
    ("destinations without a port (reads :authority, fills the name)", "cost-port", "cost-0"),
    ("filling the name's port where hosts read :authority already", "cost-hosts-port", "cost-hosts"),
    ("two values (:path and :authority) through the whole header map", "cost-two-values", "cost-0"),
    ("a sticky key (user-agent) over the random choice", "cost-sticky", "cost-0"),
    ("a cohort over plain sticky (same key)", "cost-cohort", "cost-sticky"),
)
# The last line, in this order.
SUMMARY = ("ratio_vs_floor", "ratio_vs_lua", "ratio_vs_noop", "ratio_vs_native")
# Ratios printed as `name=X.XXX`, each on its own line just before the summary (say another runtime's).
OWN_LINES = ("ratio_module_vs_native", "ratio_module_filter_vs_lua")


def _latency_cells(latencies: list) -> tuple:
    if not latencies:
        return ("-", "-")
    return (
        "%.3f" % statistics.median(one.p50_ms for one in latencies),
        "%.3f" % statistics.median(one.p99_ms for one in latencies),
    )


def ratios(runs) -> dict:
    """Each ratio of RATIOS whose listeners both ran (median over rounds), and their quartiles."""
    ran = {r.variant for r in runs}
    present = {name: pair for name, pair in RATIOS.items() if set(pair) <= ran}
    result = {name: measure.round_ratio(runs, a, b) for name, (a, b) in present.items()}
    result["ratio_quartiles"] = {
        name: measure.quartiles(measure.round_ratios(runs, a, b)) for name, (a, b) in present.items()
    }
    return result


def cost_steps(runs) -> list:
    """[(what, us of Envoy CPU per request)] for the COST_STEPS whose listeners ran."""
    ran = {r.variant for r in runs}
    return [(what, measure.round_cpu_difference(runs, a, b)) for what, a, b in COST_STEPS if {a, b} <= ran]


def summary(runs, latencies, memories, variants, modules, rate, context) -> dict:
    rps = measure.medians(runs, "rps")
    cpu_us = measure.medians(runs, "cpu_us_per_request")
    return {
        "context": context,
        "rate_for_latency": rate,
        "variants": [
            {
                "name": v.name,
                "what": v.what,
                "rps": rps[v.name],
                "spread": measure.spread(runs, v.name),
                "cpu_us_per_request": cpu_us[v.name],
                "latency": [dataclasses.asdict(one) for one in latencies.get(v.name, [])],
            }
            for v in variants
        ],
        "runs": [dataclasses.asdict(r) for r in runs],
        **memory_figures(memories),
        "modules": modules,
        **ratios(runs),
        "cost_steps": cost_steps(runs),
        # Runs other work disturbed say nothing about the generator side, so they are left out here.
        "others_busy": statistics.median(
            [r.others_busy for r in runs if r.foreign_cores <= measure.FOREIGN_LIMIT] or [r.others_busy for r in runs]
        ),
        "disturbed_runs": sum(r.foreign_cores > measure.FOREIGN_LIMIT for r in runs)
        + sum(one.foreign_cores > measure.FOREIGN_LIMIT for runs in latencies.values() for one in runs),
        "median_foreign_cores": statistics.median([r.foreign_cores for r in runs]),
    }


def memory_figures(memories: list) -> dict:
    """The memory rows (bytes) and what one more worker costs (memory.per_worker), as the JSON holds them."""
    rows = [dataclasses.asdict(m) for m in memories]
    return {"memory": rows, "memory_per_worker": memory.per_worker(rows)}


def _mib_over(row: dict, base, field: str) -> str:
    return "-" if base is None else "%+.1f" % ((row[field] - base[field]) / MIB)


def memory_table(result: dict) -> list:
    """Lines of the memory tables: every Envoy measured (against native with as many workers), then what one
    more worker costs; none when native was not measured."""
    rows = {(m["variant"], m["workers"]): m for m in result["memory"]}
    if ("native", 1) not in rows:
        return []
    lines = [
        "",
        "| Envoy after load | workers | RSS MiB | vs native | tcmalloc allocated MiB | vs native |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for (name, workers), m in rows.items():
        base = rows.get(("native", workers))
        lines.append(
            "| %s | %d | %.1f | %s | %.1f | %s |"
            % (
                name,
                workers,
                m["rss"] / MIB,
                _mib_over(m, base, "rss"),
                m["allocated"] / MIB,
                _mib_over(m, base, "allocated"),
            )
        )
    per_worker = result.get("memory_per_worker")
    if per_worker:
        lines += ["", "| one more worker | RSS MiB | above noop | tcmalloc allocated MiB |", "|---|---:|---:|---:|"]
        for name, figures in per_worker.items():
            above = figures.get("rss_above_noop")
            lines.append(
                "| %s | %+.1f | %s | %+.1f |"
                % (
                    name,
                    figures["rss"] / MIB,
                    "-" if above is None else "%+.1f" % (above / MIB),
                    figures["allocated"] / MIB,
                )
            )
    return lines


def table(result: dict, latencies: dict) -> str:
    by_name = {v["name"]: v for v in result["variants"]}
    native_cpu = by_name["native"]["cpu_us_per_request"]
    lines = [
        "| listener | what runs before the router | req/s (median) | IQR | Envoy CPU us/req | "
        "+us/req vs native | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for v in result["variants"]:
        p50, p99 = _latency_cells(latencies.get(v["name"], []))
        extra = "-" if v["name"] == "native" else "%+.1f" % (v["cpu_us_per_request"] - native_cpu)
        lines.append(
            "| %s | %s | %.0f | %.1f%% | %.1f | %s | %s | %s |"
            % (v["name"], v["what"], v["rps"], 100 * v["spread"], v["cpu_us_per_request"], extra, p50, p99)
        )
    lines.append("")
    lines.append(
        "latency: h2load at a fixed %d req/s (HTTP/1.1), median of the rounds' p50/p99" % result["rate_for_latency"]
    )
    lines += memory_table(result)
    lines.append("")
    for name, (q1, q3) in result["ratio_quartiles"].items():
        lines.append(
            "%s = %.3f (median of %d round(s); quartiles %.3f-%.3f)"
            % (name, result[name], result["context"]["settings"]["rounds"], q1, q3)
        )
    for name, size in result["modules"].items():
        lines.append("module %s: %d bytes (%.0f KiB)" % (name, size, size / 1024))
    ones, thousands = by_name["shift-1"], by_name["shift-1000"]
    lines.append(
        "1 -> 1,000 authority entries (request hits the last): throughput ratio %.3f, %+.1f us CPU/req"
        % (result["ratio_1000_vs_1"], thousands["cpu_us_per_request"] - ones["cpu_us_per_request"])
    )
    if "ratio_rollout_vs_shift" in result:
        lines.append(
            "the split made by a guarded rollout instead of plain weights: throughput ratio %.3f, "
            "%+.1f us CPU/req"
            % (
                result["ratio_rollout_vs_shift"],
                by_name["shift-rollout"]["cpu_us_per_request"] - by_name["shift"]["cpu_us_per_request"],
            )
        )
    if "ratio_cmp_vs_shift" in result:
        lines.append(
            "BENCH_COMPARE_MODULE vs traffic_shift.wasm (same config): throughput ratio %.3f, "
            "%+.1f us CPU/req"
            % (
                result["ratio_cmp_vs_shift"],
                by_name["shift-cmp"]["cpu_us_per_request"] - by_name["shift"]["cpu_us_per_request"],
            )
        )
    for what, micros in result["cost_steps"]:
        lines.append("cost model: %s: %+.2f us Envoy CPU/req (median of per-round differences)" % (what, micros))
    context = result["context"]
    lines.append(
        "machine: %d cores, %s; %s" % (context["machine"]["nproc"], context["machine"]["cpu"], context["placement"])
    )
    lines.append(
        "other work on the machine: %.0f%% busy before the run, median %.2f cores during runs; "
        "generator-side core(s) %.0f%% busy (median)"
        % (100 * context["background_busy"], result["median_foreign_cores"], 100 * result["others_busy"])
    )
    if result["disturbed_runs"]:
        lines.append(
            "WARNING: %d run(s) stayed disturbed by other work after %d retries; these numbers are noisy"
            % (result["disturbed_runs"], measure.RETRIES)
        )
    if result["others_busy"] > 0.95:
        lines.append(
            "WARNING: the generator-side core was saturated: the load side, not Envoy, may have limited throughput"
        )
    return "\n".join(lines)


def final_lines(result: dict) -> list:
    """The OWN_LINES ratios the run has, one a line, then the summary line."""
    own = ["%s=%.3f" % (name, result[name]) for name in OWN_LINES if name in result]
    return own + [" ".join("%s=%.3f" % (name, result[name]) for name in SUMMARY)]


def save(result: dict, path: str):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
