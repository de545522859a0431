"""Short: `make soak`'s steady load and push storm (tools/soak/) at a small scale, on one Envoy with
2 workers. The full run (1,000,000 requests, 200 pushes) is `make soak`; its numbers are in BENCHMARKS.md.

The soak judges itself (tools/soak/steady.py and storm.py say what they check and why); this test runs it
with 20,000 requests and 20 pushes (one of them invalid) and asserts every check held, and that the memory
after a 10,000-entry push and after pushing back to 5 entries (tools/soak/resident.py) is reported.
"""

import dataclasses

from tools.soak import report as report_mod
from tools.soak import resident as resident_mod
from tools.soak import settings as soak_settings
from tools.soak import soak, traffic

SHORT = dataclasses.replace(
    soak_settings.from_environment(),
    steady_requests=20_000,
    steady_max_seconds=60,
    round_seconds=3.0,
    pushes=20,
    storm_max_seconds=90,
    sample_seconds=0.25,
)


def test_short_soak_serves_everything_and_holds_memory_flat(module, capsys):
    report = soak.run(SHORT, module=module)
    text = report_mod.text(report)
    with capsys.disabled():
        print("\n" + text)
    assert not soak.problems(report), soak.problems(report)
    steady, storm = report["steady"], report["storm"]
    assert steady["requests"] >= SHORT.steady_requests and steady["failed"] == 0
    assert set(steady["by_protocol"]) == {"http/1.1", "h2c"} and all(
        p["requests"] for p in steady["by_protocol"].values()
    )
    assert (storm["accepted"], storm["refused"]) == (19, 1), storm
    # the new configuration reached both protocols on both workers, on connections open since the start
    assert len(storm["probes"]) == 4 and storm["in_force_ms"]["n"] == 4 * 19, storm
    resident = report["resident"]
    small, large, back = resident["stages"]
    assert (small["entries"], large["entries"], back["entries"]) == (5, 10_000, 5), resident
    for stage in (small, large, back):
        assert min(stage["rss_mib"], stage["allocated_mib"], stage["wasm_mib"], stage["wasm_rss_mib"]) > 0, stage
        assert stage["vms"] > 0, stage
    # linear memory only grows, and 10,000 entries need more of it than anything the storm pushed
    assert small["wasm_mib"] < large["wasm_mib"] <= back["wasm_mib"], resident
    assert set(resident["kept_mib"]) == {"rss_mib", "allocated_mib", "wasm_mib", "wasm_rss_mib"}, resident
    assert "resident after pushing back to 5 entries: RSS " in text and "kept after pushing back" in text


def test_resident_configurations_have_the_entries_they_say():
    for entries in (resident_mod.SMALL, resident_mod.LARGE):
        assert len(resident_mod.configuration("v2", entries)["http"]) == entries


H2LOAD_OUTPUT = """finished in 3.00s, 24000.00 req/s, 10.00MB/s
requests: 72000 total, 72064 started, 72000 done, 71990 succeeded, 10 failed, 4 errored, 1 timeout
status codes: 71990 2xx, 0 3xx, 2 4xx, 4 5xx
"""


def test_h2load_summary_counts_answers_and_every_kind_of_failure():
    result = traffic.parse_h2load(H2LOAD_OUTPUT, 3.0)
    assert (result.protocol, result.requests, result.failed) == ("h2c", 72000, 11)


def test_report_prints_every_resident_stage_and_what_was_kept():
    stage = {"rss_mib": 90.0, "allocated_mib": 12.0, "wasm_mib": 4.5, "wasm_rss_mib": 3.0, "vms": 4}
    stages = [
        dict(stage, entries=5),
        dict(stage, entries=10_000, rss_mib=180.0, wasm_mib=60.0),
        dict(stage, entries=5, rss_mib=150.0, wasm_mib=60.0),
    ]
    kept = {"rss_mib": 60.0, "allocated_mib": 0.0, "wasm_mib": 55.5, "wasm_rss_mib": 0.0}
    lines = report_mod.text({"resident": {"stages": stages, "kept_mib": kept, "problems": []}}).splitlines()
    assert lines == [
        "resident with 5 entries: RSS 90.0 MiB, tcmalloc 12.0 MiB, Wasm linear memory 4.50 MiB (3.00 resident, 4 VMs)",
        "resident after pushing 10000 entries: RSS 180.0 MiB, tcmalloc 12.0 MiB, Wasm linear memory 60.00 MiB "
        "(3.00 resident, 4 VMs)",
        "resident after pushing back to 5 entries: RSS 150.0 MiB, tcmalloc 12.0 MiB, Wasm linear memory 60.00 MiB "
        "(3.00 resident, 4 VMs)",
        "resident, kept after pushing back: RSS +60.0 MiB, tcmalloc +0.0 MiB, Wasm linear memory +55.50 MiB "
        "(+0.00 resident)",
    ]
