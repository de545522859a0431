"""The bench's own logic, without Envoy or load (`.venv/bin/pytest bench`): parsing the generators' output,
the round statistics, the listener table and the summary line. No timing is asserted anywhere."""

import os
import subprocess

import pytest

from bench import instructions, listeners, load, measure, memory, plugin_configs, report, settings
from tools import envoylab

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:40001/reviews/0
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.51ms  300.00us   9.00ms   90.00%
    Req/Sec    12.80k   500.00    13.50k    70.00%
  64000 requests in 5.00s, 30.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  12800.00
Transfer/sec:      6.00MB
"""


def test_wrk_output():
    result = load.parse_wrk(WRK_OUTPUT)
    assert (result.requests, result.seconds, result.bad, result.socket_errors) == (64000, 5.0, 7, 3)
    assert result.rps == pytest.approx(12800.0)
    clean = load.parse_wrk(
        WRK_OUTPUT.replace("  Non-2xx or 3xx responses: 7\n", "").replace(
            "  Socket errors: connect 0, read 2, write 0, timeout 1\n", ""
        )
    )
    assert (clean.bad, clean.socket_errors) == (0, 0)
    with pytest.raises(load.LoadError):
        load.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_h2load_log_percentiles():
    # 1000 requests taking 1..1000 us; one answered 503.
    lines = ["1700000000%06d\t%d\t%d" % (i, 503 if i == 5 else 200, i) for i in range(1, 1001)]
    latency = load.parse_h2load_log("\n".join(lines) + "\n", target_rps=500, seconds=2)
    assert (latency.requests, latency.bad, latency.achieved_rps) == (1000, 1, 500.0)
    assert (latency.p50_ms, latency.p99_ms, latency.p999_ms) == (0.5, 0.99, 0.999)
    with pytest.raises(load.LoadError):
        load.parse_h2load_log("", 1, 1)


def run(variant, round_no, rps):
    return measure.Run(variant, round_no, rps, cpu_us_per_request=1.0, others_busy=0.5, foreign_cores=0.0)


def test_ratios_pair_runs_of_the_same_round():
    # Round 1 ran on a slower machine: per-round ratios stay 0.8, a ratio of medians would not be.
    runs = [
        run("shift", 0, 80),
        run("noop", 0, 100),
        run("shift", 1, 40),
        run("noop", 1, 50),
        run("shift", 2, 88),
        run("noop", 2, 110),
    ]
    assert measure.round_ratio(runs, "shift", "noop") == pytest.approx(0.8)
    assert measure.medians(runs, "rps") == {"shift": 80, "noop": 100}
    assert measure.spread(runs, "noop") == pytest.approx((105 - 75) / 100)  # interquartile range / median
    assert measure.quartiles(measure.round_ratios(runs, "shift", "noop")) == pytest.approx((0.8, 0.8))


def test_rotation_visits_every_order_position():
    assert [measure.rotated(["a", "b", "c"], r) for r in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_listeners_include_the_floor_and_lua_on_cluster_header_routes():
    by_name = {v.name: v for v in listeners.variants("/m/traffic_shift.wasm")}
    assert list(by_name) == [
        "native",
        "noop",
        "floor",
        "lua",
        "shift",
        "shift-rollout",
        "shift-gateway",
        "module",
        "module-filter",
        "module-rollout",
        "shift-1",
        "shift-1000",
    ]
    for name in ("floor", "lua", "shift", "shift-rollout"):
        assert by_name[name].route == {"cluster_header": envoylab.CLUSTER_HEADER}
    floor_config = by_name["floor"].filters[0]["typed_config"]["config"]
    assert floor_config["configuration"]["value"].split() == [
        envoylab.CLUSTER_HEADER,
        plugin_configs.V1,
        plugin_configs.V3,
    ]
    assert floor_config["vm_config"]["code"]["local"]["filename"].endswith(
        "bench-floor/wasm32-wasip1/release/floor_filter.wasm"
    )
    lua = by_name["lua"].filters[0]["typed_config"]["default_source_code"]["inline_string"]
    # The script names the same clusters and header as the realistic config it mirrors.
    for needle in (
        plugin_configs.V1,
        plugin_configs.V2,
        plugin_configs.V3,
        '"%s"' % envoylab.CLUSTER_HEADER,
        '"end-user"',
        '"x-canary"',
        '"x-canary-group"',
        '"/admin"',
        '"/reviews/debug"',
    ):
        assert needle in lua
    compared = listeners.variants("/m/a.wasm", "/m/b.wasm")[-1]
    assert compared.name == "shift-cmp"


def test_summary_line_and_own_lines(monkeypatch):
    names = ["native", "noop", "floor", "lua", "shift", "shift-1", "shift-1000"]
    rps = dict(zip(names, [100, 95, 90, 80, 88, 90, 87]))
    runs = [run(name, r, rps[name] * (1 + r / 10)) for r in range(3) for name in names]
    result = report.ratios(runs)
    assert "ratio_cmp_vs_shift" not in result  # no shift-cmp listener ran
    lines = report.final_lines(result)
    assert lines == ["ratio_vs_floor=0.978 ratio_vs_lua=1.100 ratio_vs_noop=0.926 ratio_vs_native=0.880"]
    # The native module's cluster specifier has its ratio on its own line, just before the summary.
    runs += [run("module", r, 99 * (1 + r / 10)) for r in range(3)]
    assert report.final_lines(report.ratios(runs)) == ["ratio_module_vs_native=0.990"] + lines
    # The native HTTP filter against Lua, on its own line too; the summary line stays as it was.
    runs += [run("module-filter", r, 96 * (1 + r / 10)) for r in range(3)]
    result = report.ratios(runs)
    assert result["ratio_quartiles"]["ratio_module_filter_vs_lua"] == pytest.approx((1.2, 1.2))
    assert report.final_lines(result) == ["ratio_module_vs_native=0.990", "ratio_module_filter_vs_lua=1.200"] + lines


MIB = 1024 * 1024


def test_memory_rows_and_what_one_more_worker_costs():
    measured = [
        memory.Memory(name, rss * MIB, allocated * MIB, workers)
        for name, rss, allocated, workers in (
            ("native", 64, 7, 1),
            ("noop", 88, 10, 1),
            ("shift", 108, 12, 1),
            ("shift-1000", 120, 14, 1),
            ("native", 65, 7.5, 2),
            ("noop", 90, 11, 2),
            ("shift", 113, 14, 2),
        )
    ]
    result = report.memory_figures(measured)
    assert result["memory"][-1] == {"variant": "shift", "rss": 113 * MIB, "allocated": 14 * MIB, "workers": 2}
    # 2 workers less 1: one more worker; above noop: less what one more worker costs with a no-op Wasm filter
    assert result["memory_per_worker"] == {
        "native": {"rss": 1 * MIB, "allocated": 0.5 * MIB, "rss_above_noop": -1 * MIB},
        "noop": {"rss": 2 * MIB, "allocated": 1 * MIB, "rss_above_noop": 0},
        "shift": {"rss": 5 * MIB, "allocated": 2 * MIB, "rss_above_noop": 3 * MIB},
    }
    assert report.memory_table(result) == [
        "",
        "| Envoy after load | workers | RSS MiB | vs native | tcmalloc allocated MiB | vs native |",
        "|---|---:|---:|---:|---:|---:|",
        "| native | 1 | 64.0 | +0.0 | 7.0 | +0.0 |",
        "| noop | 1 | 88.0 | +24.0 | 10.0 | +3.0 |",
        "| shift | 1 | 108.0 | +44.0 | 12.0 | +5.0 |",
        "| shift-1000 | 1 | 120.0 | +56.0 | 14.0 | +7.0 |",
        "| native | 2 | 65.0 | +0.0 | 7.5 | +0.0 |",  # each against native with as many workers
        "| noop | 2 | 90.0 | +25.0 | 11.0 | +3.5 |",
        "| shift | 2 | 113.0 | +48.0 | 14.0 | +6.5 |",
        "",
        "| one more worker | RSS MiB | above noop | tcmalloc allocated MiB |",
        "|---|---:|---:|---:|",
        "| native | +1.0 | -1.0 | +0.5 |",
        "| noop | +2.0 | +0.0 | +1.0 |",
        "| shift | +5.0 | +3.0 | +2.0 |",
    ]
    assert report.memory_table(report.memory_figures(measured[1:4])) == []  # nothing without native


def test_memory_measures_istio_sidecar_workers_for_the_main_variants():
    assert memory.WORKERS == 2  # Istio's default sidecar concurrency
    assert {"native", "noop", "shift", "module"} <= set(memory.PER_WORKER) <= set(memory.VARIANTS)
    by_name = {v.name: v for v in listeners.variants("/m/traffic_shift.wasm")}
    assert set(memory.VARIANTS) - set(by_name) == {"shift-cmp"}  # only with BENCH_COMPARE_MODULE


def test_the_native_module_listeners():
    by_name = {v.name: v for v in listeners.variants("/m/traffic_shift.wasm")}
    specifier, filter_ = by_name["module"], by_name["module-filter"]
    # The cluster specifier needs no filter: the route names it and it names the cluster.
    assert specifier.filters == () and specifier.route == envoylab.cluster_specifier_action(plugin_configs.REALISTIC)
    assert [f["typed_config"]["@type"].rsplit(".", 1)[-1] for f in filter_.filters] == ["DynamicModuleFilter"]
    assert filter_.route == {"cluster_header": envoylab.CLUSTER_HEADER}


def test_cost_model_steps_are_per_round_cpu_differences():
    runs = [
        measure.Run(name, r, 100.0, cpu_us_per_request=cpu + r, others_busy=0.5, foreign_cores=0.0)
        for r in range(3)
        for name, cpu in (("floor", 50.0), ("cost-0", 52.0), ("cost-present", 53.5))
    ]
    assert report.cost_steps(runs) == [
        ("the filter with nothing to read, over the floor", pytest.approx(2.0)),
        ("reading 1 header value (:path)", pytest.approx(1.5)),
    ]
    names = [v.name for v in listeners.variants("/m/t.wasm", cost_model=True)]
    assert names[-len(plugin_configs.COST_MODEL) :] == list(plugin_configs.COST_MODEL)


# The head and the tail of a callgrind dump (callgrind_control -d), cost lines elided.
CALLGRIND_DUMP = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  /venv/envoy -c bootstrap.json --concurrency 1
part: 3

desc: Timerange: Basic block 912345 - 2912345
desc: Trigger: Client Request: Dump

positions: line
events: %s
summary: %s

ob=(1) /venv/envoy
fn=(1) main
0 4

totals: %s
"""


def test_callgrind_dump_totals():
    assert instructions.parse_dump(CALLGRIND_DUMP % ("Ir", "400000000", "400000000")) == 400_000_000
    # With more events (say --cache-sim=yes), the Ir column; without a totals line, the summary's.
    several = CALLGRIND_DUMP % ("Dr Ir Dw", "7 123456 9", "7 123456 9")
    assert instructions.parse_dump(several) == 123456
    assert instructions.parse_dump(several.replace("totals: 7 123456 9\n", "")) == 123456
    with pytest.raises(measure.BenchError):
        instructions.parse_dump("# callgrind format\nevents: Ir\n")


def test_callgrind_dump_sums_the_new_files_and_removes_them(monkeypatch):
    monkeypatch.setattr(load, "require", lambda tool, target="": "/usr/bin/" + tool)
    callgrind = instructions.Callgrind("/opt/envoy")
    try:
        with open(callgrind.wrapper) as f:
            wrapper = f.read()
        assert os.access(callgrind.wrapper, os.X_OK) and wrapper.startswith("#!/bin/sh\nexec /usr/bin/valgrind ")
        assert "--tool=callgrind --smc-check=all-non-file " in wrapper and wrapper.endswith(' /opt/envoy "$@"\n')

        def dump_per_thread(pid, option):  # what valgrind writes with --separate-threads=yes: a file per thread
            for thread, count in ((1, "1000"), (2, "500")):
                with open(os.path.join(callgrind.workdir, "callgrind.out.%d.1-%02d" % (pid, thread)), "w") as f:
                    f.write(CALLGRIND_DUMP % ("Ir", count, count))

        monkeypatch.setattr(callgrind, "_command", dump_per_thread)
        assert callgrind.dump(7) == 1500
        assert not [n for n in os.listdir(callgrind.workdir) if n.startswith("callgrind.out.")]
        monkeypatch.setattr(callgrind, "_command", lambda pid, option: None)
        with pytest.raises(measure.BenchError):
            callgrind.dump(7)
    finally:
        callgrind.close()
    assert not os.path.exists(callgrind.workdir)


def test_h2load_summary():
    text = (
        "finished in 2.50s, 800.00 req/s, 300.00KB/s\n"
        "requests: 2000 total, 2000 started, 2000 done, 1998 succeeded, 2 failed, 0 errored, 0 timeout\n"
        "status codes: 1997 2xx, 0 3xx, 1 4xx, 2 5xx\n"
    )
    assert load.parse_h2load_summary(text) == (2000, 1997)
    with pytest.raises(load.LoadError):
        load.parse_h2load_summary("connect: Connection refused")


def test_instructions_listener_selection(monkeypatch):
    every = listeners.variants("/m/a.wasm", "/m/b.wasm", cost_model=True)
    assert instructions.select(every, "") == every  # the same listeners as `make bench`, shift-cmp and cost-*
    assert [v.name for v in instructions.select(every, "shift, floor,shift-cmp")] == ["floor", "shift", "shift-cmp"]
    with pytest.raises(measure.BenchError, match="no listener nope"):
        instructions.select(every, "floor,nope")
    monkeypatch.delenv("BENCH_INSTRUCTIONS_REQUESTS", raising=False)
    monkeypatch.delenv("BENCH_INSTRUCTIONS_LISTENERS", raising=False)
    defaults = settings.from_environment()
    assert (defaults.instructions_requests, defaults.instructions_listeners) == (2000, "")
    monkeypatch.setenv("BENCH_INSTRUCTIONS_REQUESTS", "500")
    assert settings.from_environment().instructions_requests == 500


def test_extra_headers_are_distinct_and_passed_to_h2load(monkeypatch):
    monkeypatch.delenv("BENCH_EXTRA_HEADERS", raising=False)
    assert settings.from_environment().instructions_extra_headers == 0
    monkeypatch.setenv("BENCH_EXTRA_HEADERS", "20")
    assert settings.from_environment().instructions_extra_headers == 20
    headers = load.extra_headers(20)
    assert len({h.split(":")[0] for h in headers}) == 20 and all(len(h.split(": ")[1]) == 40 for h in headers)
    seen = {}

    def fake_run(command, **options):
        seen["command"] = command
        return subprocess.CompletedProcess(
            command,
            0,
            "status codes: 5 2xx, 0 3xx, 0 4xx, 0 5xx\nrequests: 5 total, 5 started, 5 done, 5 succeeded\n",
            "",
        )

    monkeypatch.setattr(load.subprocess, "run", fake_run)
    monkeypatch.setattr(load, "require", lambda name, *args, **kwargs: name)
    assert load.counted(1234, "reviews:9080", 5, 10.0, headers[:2]) == 5
    assert seen["command"][-5:] == ["-H", headers[0], "-H", headers[1], "http://127.0.0.1:1234/reviews/0"]


def test_instructions_table_and_ratio_lines(monkeypatch):
    monkeypatch.delenv("BENCH_COMPARE_MODULE", raising=False)
    every = {v.name: v for v in listeners.variants("/m/a.wasm", "/m/b.wasm", cost_model=True)}
    per_request = {
        "native": 160_000,
        "noop": 180_000,
        "floor": 200_000,
        "lua": 202_000,
        "shift": 210_000,
        "shift-cmp": 205_800,
        "cost-0": 203_000,
        "cost-present": 204_500,
    }
    result = instructions.summary(per_request, [every[name] for name in per_request], settings.from_environment())
    lines = instructions.table(result).splitlines()
    assert lines[:4] == [
        "| listener | what runs before the router | instructions/req | vs native | vs floor |",
        "|---|---|---:|---:|---:|",
        "| native | weighted_clusters, no Wasm | 160.0k | - | 0.800 |",
        "| noop | no-op Wasm + weighted_clusters | 180.0k | +20.0k | 0.900 |",
    ]
    assert "| shift | traffic-shift, 4 entries + hosts | 210.0k | +50.0k | 1.050 |" in lines
    assert (
        "BENCH_COMPARE_MODULE vs traffic_shift.wasm (same config): instructions ratio 0.980, -4200 instructions/req"
    ) in lines
    assert lines[-2:] == [
        "cost model: the filter with nothing to read, over the floor: +3000 instructions/req",
        "cost model: reading 1 header value (:path): +1500 instructions/req",
    ]
    # Instructions of the first listener over the second's: lower is better; the summary's four come last.
    assert instructions.final_lines(result) == [
        "instructions_cmp_vs_shift=0.980",
        "instructions_vs_floor=1.050 instructions_vs_lua=1.040 instructions_vs_noop=1.167 instructions_vs_native=1.312",
    ]
