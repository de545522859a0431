"""What Envoy 1.40 does with this filter's traffic when the filter's Wasm VM is lost,
under each `failure_policy` (docs/failure-policy.md explains and recommends; this file holds the evidence).

The real filter has no known way to trap (fuzzing and test_hostile_e2e.py look for one), so the VM is killed
through a stand-in: tests/fixtures/vm_crash_filter, a tiny filter that sets the cluster header to one cluster
like traffic-shift does and panics (a trap, with panic = "abort") on a request carrying `x-crash-vm: now`.
Envoy runs one worker, so the crashed VM is the one every following request meets.
"""

import os
import subprocess
import time

import pytest
import yaml

from tools import REPO
from tools import envoylab as lab

import wasm_health

CRATE = os.path.join(REPO, "tests", "fixtures", "vm_crash_filter")
TARGET_DIR = os.path.join(REPO, "target", "vm-crash-filter")
CRASH = {"x-crash-vm": "now"}
STANDIN_CLUSTER = lab.istio_cluster("v3")  # where the stand-in sends everything
CLIENT_PICK = {lab.CLUSTER_HEADER: lab.istio_cluster("v2")}  # a client trying to choose its upstream
FAST_RELOAD = {
    "failure_policy": "FAIL_RELOAD",
    "reload_config": {"backoff": {"base_interval": "0.05s", "max_interval": "0.2s"}},
}
DOC = os.path.join(REPO, "docs", "failure-policy.md")


@pytest.fixture(scope="session")
def crash_module() -> str:
    """Builds the stand-in (its own workspace and target dir). A failed build fails the tests, never skips."""
    command = [
        "cargo",
        "build",
        "--quiet",
        "--locked",
        "--release",
        "--target",
        "wasm32-wasip1",
        "--manifest-path",
        os.path.join(CRATE, "Cargo.toml"),
        "--target-dir",
        TARGET_DIR,
    ]
    built = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, "could not build %s:\n%s" % (CRATE, built.stderr)
    return os.path.join(TARGET_DIR, "wasm32-wasip1", "release", "vm_crash_filter.wasm")


def standin(module: str, policy: dict) -> dict:
    """The stand-in as the filter before the router, named like traffic-shift, with `policy` fields set."""
    wasm = lab.wasm_filter(STANDIN_CLUSTER, module=module)
    wasm["typed_config"]["config"].update(policy)
    return wasm


def versions(envoy, n=20, **request_options):
    tally = lab.send_requests(envoy.port, n, **request_options)
    return dict(tally.statuses), dict(tally.versions)


def crash(envoy):
    assert lab.request(envoy.port, headers=CRASH).status == 503  # the request that traps fails, whatever the policy
    time.sleep(0.5)  # longer than any reload backoff used here: what follows is the settled behaviour


def serving_before_the_crash(envoy):
    assert versions(envoy) == ({200: 20}, {"v3": 20})
    assert versions(envoy, headers=CLIENT_PICK) == ({200: 20}, {"v3": 20})  # the filter overrides the client


@pytest.mark.parametrize("policy", [{}, {"failure_policy": "FAIL_CLOSED"}], ids=["default", "FAIL_CLOSED"])
def test_fail_closed_answers_503_for_good(crash_module, policy):
    with lab.launch(None, http_filters=[standin(crash_module, policy)]) as envoy:
        serving_before_the_crash(envoy)
        crash(envoy)
        assert versions(envoy) == ({503: 20}, {None: 20})
        assert versions(envoy, headers=CLIENT_PICK) == ({503: 20}, {None: 20})
        time.sleep(1.5)  # no reload ever comes
        assert versions(envoy) == ({503: 20}, {None: 20})


@pytest.mark.parametrize(
    "policy", [{"failure_policy": "FAIL_OPEN"}, {"fail_open": True}], ids=["FAIL_OPEN", "fail_open"]
)
def test_fail_open_skips_the_filter_and_lets_the_client_pick(crash_module, policy):
    with lab.launch(None, http_filters=[standin(crash_module, policy)]) as envoy:
        serving_before_the_crash(envoy)
        crash(envoy)
        # Nothing sets the cluster header any more: the cluster_header route has no cluster, and worse, it takes
        # the one the client names, since nothing removes the client's header either.
        assert versions(envoy) == ({503: 20}, {None: 20})
        assert versions(envoy, headers=CLIENT_PICK) == ({200: 20}, {"v2": 20})


def test_fail_open_hardened_falls_back_to_one_subset(crash_module):
    """FAIL_OPEN made safe: the route configuration drops the client's cluster header before any filter runs
    (internal_only_headers; callers Envoy deems internal keep it), and a last route sends requests without it
    to the stable subset. Losing the VM then means 'everything to v1', never 'the client decides'."""
    routes = [
        {
            "match": {"prefix": "/", "headers": [{"name": lab.CLUSTER_HEADER, "present_match": True}]},
            "route": {"cluster_header": lab.CLUSTER_HEADER},
        },
        lab.cluster_route(lab.istio_cluster("v1")),
    ]
    bootstrap = lab.render_bootstrap(
        None, http_filters=[standin(crash_module, {"failure_policy": "FAIL_OPEN"})], routes=routes
    )
    front = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert front["stat_prefix"] == "front"
    front["route_config"]["internal_only_headers"] = [lab.CLUSTER_HEADER]
    with lab.Envoy(bootstrap) as envoy:  # started on entry
        serving_before_the_crash(envoy)
        crash(envoy)
        assert versions(envoy) == ({200: 20}, {"v1": 20})
        assert versions(envoy, headers=CLIENT_PICK) == ({200: 20}, {"v1": 20})


def test_fail_reload_serves_again_after_each_lost_vm(crash_module):
    crashes = 3
    with lab.launch(None, http_filters=[standin(crash_module, FAST_RELOAD)]) as envoy:
        baseline = wasm_health.snapshot(envoy)
        serving_before_the_crash(envoy)
        for _ in range(crashes):
            crash(envoy)
            serving_before_the_crash(envoy)  # a new VM, configured like the old one
        now = wasm_health.snapshot(envoy)
        prefix = wasm_health.PLUGIN_STATS
        assert now[prefix + "vm_reload_success"] == crashes
        assert now[prefix + "vm_reload_failure"] == 0
        assert now[wasm_health.VMS_CREATED] - baseline[wasm_health.VMS_CREATED] == crashes


def test_fail_reload_refuses_only_during_the_backoff(crash_module):
    """With Envoy's default backoff (1 s base) the lost worker answers 503 for about a second, then routes."""
    with lab.launch(None, http_filters=[standin(crash_module, {"failure_policy": "FAIL_RELOAD"})]) as envoy:
        serving_before_the_crash(envoy)
        assert lab.request(envoy.port, headers=CRASH).status == 503
        start = time.monotonic()
        while lab.request(envoy.port).status != 200:
            assert time.monotonic() - start < 10, "no reload within 10 s"
            time.sleep(0.02)
        assert 0.5 < time.monotonic() - start < 5
        serving_before_the_crash(envoy)


def test_fail_open_and_failure_policy_together_are_refused(crash_module):
    both = standin(crash_module, {"fail_open": True, "failure_policy": "FAIL_RELOAD"})
    log = lab.expect_startup_failure(lab.render_bootstrap(None, http_filters=[both]))
    assert "only one of fail_open or failure_policy can be set" in log


def recommended_settings() -> dict:
    """The plugin-config fields the doc recommends: its one ```yaml block that sets failure_policy."""
    with open(DOC) as f:
        blocks = f.read().split("```yaml\n")[1:]
    snippets = [yaml.safe_load(block.split("```")[0]) for block in blocks]
    chosen = [s for s in snippets if isinstance(s, dict) and "failure_policy" in s]
    assert len(chosen) == 1, "docs/failure-policy.md must hold one yaml block setting failure_policy"
    return chosen[0]


def test_recommended_settings_serve_with_the_real_filter(module):
    settings = recommended_settings()
    assert settings["failure_policy"] == "FAIL_RELOAD"
    weights = {"v1": 50, "v3": 50}
    plugin = {
        "http": [
            {
                "name": "reviews",
                "route": [
                    {
                        "destination": {
                            "host": "reviews.default.svc.cluster.local",
                            "subset": v,
                            "port": {"number": 9080},
                        },
                        "weight": w,
                    }
                    for v, w in weights.items()
                ],
            }
        ]
    }
    wasm = lab.wasm_filter(plugin, module=module)
    wasm["typed_config"]["config"].update(settings)
    with lab.launch(None, http_filters=[wasm], concurrency=2) as envoy:
        baseline = wasm_health.snapshot(envoy)
        tally = lab.send_requests(envoy.port, lab.sample_size(weights), connections=4)
        assert tally.statuses == {200: tally.sent}
        lab.assert_shares(tally, weights)
        wasm_health.assert_healthy(envoy, baseline)
