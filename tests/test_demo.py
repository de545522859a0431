"""`make demo`, `make run` and `make apply`, run as a user runs them (python -m tools.demo ...), shortened.

The demo writes a JSON summary (--summary-json); shares are checked per stage with envoylab's 5-sigma
bound, 100% stages exactly, and so are the stars Bookinfo's product page showed. Envoy must keep one pid
throughout: every stage is applied live over ECDS.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from tools import REPO, envoylab
from tools.envoylab.ports import free_port

PLUGIN = os.path.join(REPO, "filter-config", "plugin")
ALL_V1, HALF_V3, ALL_V3 = (
    os.path.join(PLUGIN, n) for n in ("reviews-all-v1.json", "reviews-50-v3.json", "reviews-v3.json")
)
RATE = 1000  # requests per second asked of the demo's client
PAGE_RATE = 20  # product pages per second
SETTLE = 0.25  # tools/demo/runner.py leaves this much of each stage out of the share check
# Long enough for the 50/50 stage's 5-sigma sample (tol 5%) at RATE, plus the settle time and a margin.
STAGE_SECONDS = round(envoylab.sample_size(0.5) / RATE + SETTLE + 0.75, 1)


def demo(*args, timeout=120, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tools.demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def lines_of(done) -> list:
    return done.stdout.strip().splitlines()


def run_demo(tmp_path, *stages, seconds=STAGE_SECONDS):
    summary_path = tmp_path / "summary.json"
    stage_args = [a for path in stages for a in ("--stage", path)]
    done = demo(
        "demo",
        "--stage-seconds",
        str(seconds),
        "--rate",
        str(RATE),
        "--page-rate",
        str(PAGE_RATE),
        "--productpage-port",
        str(free_port()),
        "--summary-json",
        str(summary_path),
        *stage_args,
    )
    assert summary_path.exists(), "no summary written\nstdout:\n%s\nstderr:\n%s" % (done.stdout, done.stderr)
    return done, json.loads(summary_path.read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is not a running Envoy.
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(") ")[-1][0] != "Z"


def assert_stage(stage: dict, weights: dict):
    assert stage["counted"] >= 1000, "too few answers to judge %s: %s" % (stage["name"], stage)
    envoylab.assert_shares(stage["counts"], weights)
    # What the demo read from the filter's own traffic_shift_requests_total over the same settled window.
    assert sum(stage["filter_counts"].values()) >= 1000, stage
    envoylab.assert_shares(stage["filter_counts"], weights)


STAGE_LINE = re.compile(
    r"^stage \d/\d \S+: .*; (\d+) requests, (\d+) failed; split of the (\d+) answered: "
    r"v1 [\d.]+% \((\d+)\), v2 [\d.]+% \((\d+)\), v3 [\d.]+% \((\d+)\); "
    r"the product page showed (\d+) pages: (\d+) no stars, (\d+) black, (\d+) red; "
    r"the filter counted .* \(traffic_shift_requests_total\) since the stage settled$"
)
STARS = {"v1": "no stars", "v2": "black", "v3": "red"}  # what Bookinfo's product page shows for each version


def assert_stage_lines_add_up(stdout: str, summary: dict):
    """Each stage line accounts for every request of its stage: answered by version, plus failed."""
    found = [STAGE_LINE.match(line) for line in stdout.splitlines() if line.startswith("stage ")]
    assert len(found) == len(summary["stages"]) and all(found), stdout
    for match, stage in zip(found, summary["stages"]):
        requests, failed, answered, v1, v2, v3, pages, *stars = map(int, match.groups())
        assert requests == stage["requests"] == answered + failed and answered == v1 + v2 + v3, match.group(0)
        assert pages == sum(stars) == sum(stage["pages"].values()), match.group(0)


def assert_pages_showed(stage: dict, weights: dict):
    """The product page's stars, once the stage settled: 5 sigma of each version's weight, exactly for 100%."""
    settled = stage["pages_settled"]
    assert sum(settled.values()) >= 10, stage
    envoylab.assert_shares({v: settled.get(STARS[v], 0) for v in STARS}, weights)
    assert set(settled) <= set(STARS.values()), "a page failed or showed mixed stars: %s" % settled


def assert_one_envoy(summary: dict):
    """Every stage was served by the Envoy that started: no restart, no replacement."""
    pids = [summary["envoy_pid"]["start"]] + [s["envoy_pid"] for s in summary["stages"]]
    pids.append(summary["envoy_pid"]["end"])
    assert pids[0] is not None and set(pids) == {pids[0]}, "Envoy pid changed: %s" % pids


def test_demo_migrates_reviews_from_v1_to_v3_live_without_failures(module, tmp_path):
    done, summary = run_demo(tmp_path)
    report = "stdout:\n%s\nstderr:\n%s" % (done.stdout, done.stderr)
    assert done.returncode == 0, report
    assert [s["name"] for s in summary["stages"]] == ["reviews-all-v1", "reviews-50-v3", "reviews-v3"]
    assert all(s["verdict"] == "accepted" for s in summary["stages"]), report
    first, half, last = summary["stages"]
    assert_stage(first, {"v1": 100})
    assert_stage(half, {"v1": 50, "v3": 50})
    assert_stage(last, {"v3": 100})
    for stage, weights in ((first, {"v1": 100}), (half, {"v1": 50, "v3": 50}), (last, {"v3": 100})):
        assert_pages_showed(stage, weights)
    assert summary["failed"] == 0 and summary["pages"] > 0, report
    assert lines_of(done)[0].startswith("Bookinfo and its Envoy ready: open http://127.0.0.1:"), report
    assert_one_envoy(summary)
    assert not alive(summary["envoy_pid"]["start"]), "the demo left Envoy running"
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "reviews migrated v1 -> v3: %d requests, 0 failed" % summary["requests"]
    stage_lines = [line for line in lines if line.startswith("stage ")]
    assert len(stage_lines) == 3, "one line per stage without a terminal"
    assert all("(traffic_shift_requests_total)" in line for line in stage_lines), report
    assert_stage_lines_add_up(done.stdout, summary)


def test_demo_keeps_serving_the_previous_stage_when_envoy_refuses_a_config(module, tmp_path):
    negative = tmp_path / "negative-weight.json"
    negative.write_text(open(HALF_V3).read().replace('"weight": 50', '"weight": -5', 1))
    broken = tmp_path / "broken-json.json"
    broken.write_text('{"http": [')
    done, summary = run_demo(tmp_path, ALL_V1, str(negative), str(broken), ALL_V3, seconds=3)
    report = "stdout:\n%s\nstderr:\n%s" % (done.stdout, done.stderr)
    assert done.returncode == 1, "a refused stage must fail the demo\n" + report
    verdicts = {s["name"]: s for s in summary["stages"]}
    assert [verdicts[n]["verdict"] for n in ("reviews-all-v1", "negative-weight", "broken-json", "reviews-v3")] == [
        "accepted",
        "rejected",
        "rejected",
        "accepted",
    ], report
    assert summary["refused"] == ["negative-weight", "broken-json"]
    for refused in ("negative-weight", "broken-json"):
        assert verdicts[refused]["serving"] == "reviews-all-v1"
        assert_stage(verdicts[refused], {"v1": 100})  # the previous configuration, exactly
    assert_stage(verdicts["reviews-v3"], {"v3": 100})
    assert "invalid configuration at http[0].route[0].weight" in verdicts["negative-weight"]["reason"]
    assert "not valid JSON" in verdicts["broken-json"]["reason"] or "JSON" in verdicts["broken-json"]["reason"]
    assert summary["failed"] == 0, report
    assert_one_envoy(summary)
    assert "negative-weight REFUSED by Envoy" in done.stdout, report
    assert done.stdout.strip().splitlines()[-1].endswith("refused by Envoy: negative-weight, broken-json")


@pytest.mark.parametrize("shell", ["wasm", "native"])
def test_rollout_demo_ramps_by_itself_then_the_guard_rolls_a_failing_v3_back(module, tmp_path, shell):
    summary_path = tmp_path / "rollout.json"
    done = demo(
        "rollout", "--ramp-seconds", "4", "--rate", "300", "--summary-json", str(summary_path), "--shell", shell
    )
    assert summary_path.exists(), "no summary written\nstdout:\n%s\nstderr:\n%s" % (done.stdout, done.stderr)
    summary = json.loads(summary_path.read_text())
    ramp, guard = summary["ramp"], summary["guard"]
    assert done.returncode == 0 and summary["ok"], done.stdout + done.stderr
    assert ramp["failed"] == 0 and set(ramp["counts"]) == {"v1", "v3"} and set(ramp["last_second"]) == {"v3"}
    for progress in (10, 25, 50, 75, 100):
        assert "progress %d%% in force" % progress in done.stdout, done.stdout
    assert guard["tripped"] and len(guard["trip_log"]) == 1, guard
    assert guard["after_trip"]["requests"] > 0 and guard["after_trip"]["failed"] == guard["after_trip"]["v3"] == 0
    assert done.stdout.strip().splitlines()[-1] == summary["last_line"]
    assert summary["last_line"].startswith("reviews rolled out v1 -> v3 by itself: ")


def test_demo_stops_envoy_when_interrupted(module, tmp_path):
    summary_path = tmp_path / "summary.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.demo", "demo", "--stage-seconds", "60", "--summary-json", str(summary_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert "ready" in first, first + proc.stdout.read()
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, first + out
    summary = json.loads(summary_path.read_text())
    assert summary["interrupted"] and not alive(summary["envoy_pid"]["start"]), out


def test_run_then_apply_swaps_the_config_live_and_reports_refusals(demo_run):
    proc, env, state = demo_run.process, demo_run.env, demo_run.state
    port, pid = state["port"], state["pid"]
    n = envoylab.sample_size(0.5)
    envoylab.assert_shares(envoylab.send_requests(port, 1000), {"v1": 100})

    accepted = demo("apply", "--config", HALF_V3, env=env)
    assert accepted.returncode == 0 and "accepted" in accepted.stdout, accepted.stdout + accepted.stderr
    envoylab.assert_shares(envoylab.send_requests(port, n), {"v1": 50, "v3": 50})

    broken = demo("apply", "--config", os.path.join(REPO, "tests", "test_demo.py"), env=env)  # not JSON at all
    assert broken.returncode == 1 and "REFUSED by Envoy" in broken.stdout, broken.stdout + broken.stderr
    assert "still serving %s" % HALF_V3 in broken.stdout
    envoylab.assert_shares(envoylab.send_requests(port, n), {"v1": 50, "v3": 50})

    assert alive(pid) and json.loads(open(os.path.join(env["DEMO_RUN_DIR"], "state.json")).read())["pid"] == pid
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0
    assert not alive(pid), "make run left Envoy running"
    assert not os.path.exists(os.path.join(env["DEMO_RUN_DIR"], "state.json"))


def test_run_serves_the_product_page_and_falls_back_to_free_ports_when_taken(module, tmp_path):
    env = {**os.environ, "DEMO_RUN_DIR": str(tmp_path / "run")}
    with socket.socket() as one, socket.socket() as other:
        for sock in (one, other):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        taken = [sock.getsockname()[1] for sock in (one, other)]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.demo",
                "run",
                "--config",
                ALL_V3,
                "--port",
                str(taken[0]),
                "--admin-port",
                str(free_port()),
                "--productpage-port",
                str(taken[1]),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            said = [proc.stdout.readline() for _ in range(3)]
            assert said[-1].startswith("open http://127.0.0.1:"), "".join(said) + proc.stdout.read()
            state = json.loads((tmp_path / "run" / "state.json").read_text())
            page = envoylab.request(state["bookinfo_ports"]["productpage"], path="/productpage", host="bookinfo")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(15)
    for port, role in zip(taken, ("envoy listener", "productpage")):
        assert "run: port %d (%s) on 127.0.0.1 is taken: using " % (port, role) in "".join(said), said
    assert state["port"] not in taken and state["productpage_url"] == said[-1].split()[1].strip()
    assert page.status == 200 and b'class="stars" style="color: red"' in page.body, page
    assert b"reviews v3 answered (red stars)" in page.body


def test_apply_without_a_running_envoy_says_so(tmp_path):
    done = demo("apply", "--config", ALL_V1, env={"DEMO_RUN_DIR": str(tmp_path / "run")}, timeout=30)
    assert done.returncode == 2 and "no Envoy from `make run` is running" in done.stderr, done.stderr
