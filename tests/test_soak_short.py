"""Issue 15, short: `make soak`'s steady load and push storm (tools/soak/) at a small scale, on one Envoy with
2 workers. The full run (1,000,000 requests, 200 pushes) is `make soak`; its numbers are in BENCHMARKS.md.

The soak judges itself (tools/soak/steady.py and storm.py say what they check and why); this test runs it
with 20,000 requests and 20 pushes (one of them invalid) and asserts every check held.
"""
import dataclasses

from tools.soak import report as report_mod, settings as soak_settings, soak, traffic

SHORT = dataclasses.replace(soak_settings.from_environment(), steady_requests=20_000, steady_max_seconds=60,
                            round_seconds=3.0, pushes=20, storm_max_seconds=90, sample_seconds=0.25)


def test_short_soak_serves_everything_and_holds_memory_flat(module, capsys):
    report = soak.run(SHORT, module=module)
    with capsys.disabled():
        print("\n" + report_mod.text(report))
    assert not soak.problems(report), soak.problems(report)
    steady, storm = report["steady"], report["storm"]
    assert steady["requests"] >= SHORT.steady_requests and steady["failed"] == 0
    assert set(steady["by_protocol"]) == {"http/1.1", "h2c"} and all(
        p["requests"] for p in steady["by_protocol"].values())
    assert (storm["accepted"], storm["refused"]) == (19, 1), storm
    # the new configuration reached both protocols on both workers, on connections open since the start
    assert len(storm["probes"]) == 4 and storm["in_force_ms"]["n"] == 4 * 19, storm


H2LOAD_OUTPUT = """finished in 3.00s, 24000.00 req/s, 10.00MB/s
requests: 72000 total, 72064 started, 72000 done, 71990 succeeded, 10 failed, 4 errored, 1 timeout
status codes: 71990 2xx, 0 3xx, 2 4xx, 4 5xx
"""


def test_h2load_summary_counts_answers_and_every_kind_of_failure():
    result = traffic.parse_h2load(H2LOAD_OUTPUT, 3.0)
    assert (result.protocol, result.requests, result.failed) == ("h2c", 72000, 11)
