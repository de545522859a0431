"""Shared fixtures for the end-to-end tests: the built module, one Envoy per config, `make run` on free ports,
and Envoy's log attached to any failing test's report.

A suite runs against both builds of the filter (the Wasm module and the native dynamic module) with
`pytestmark = BOTH_SHELLS`; otherwise `shell` is "wasm"."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tools import REPO, envoylab
from tools.envoylab import process
from tools.envoylab.ports import free_port


@pytest.fixture(scope="session")
def module() -> str:
    """The built filter. Missing is a failure, never a skip: a skipped e2e run must not look green."""
    path = envoylab.module_path()
    if not os.path.isfile(path):
        pytest.fail("no filter module at %s: run `make build` (or `make e2e`)" % path)
    return path


# Parametrises a test module over the two builds of the filter, one Envoy per build.
BOTH_SHELLS = pytest.mark.parametrize("shell", envoylab.SHELLS, indirect=True, scope="module")


@pytest.fixture(scope="module")
def shell(request, module) -> str:
    """Which build of the filter Envoy runs: "wasm", or "native" where the suite is BOTH_SHELLS."""
    name = getattr(request, "param", "wasm")
    library = os.path.join(envoylab.native_module_dir(), "lib%s.so" % envoylab.NATIVE_MODULE_NAME)
    if name == "native" and not os.path.isfile(library):
        pytest.fail("no dynamic module at %s: run `make build-native` (or `make e2e`)" % library)
    return name


@pytest.fixture(scope="module")
def envoy_for(module, shell):
    """envoy_for(plugin_config, **render_options) -> a ready Envoy for that config. The last one is kept
    and reused while tests ask for the same config (keep such tests adjacent); a new config replaces it."""
    current = {}

    def get(plugin_config, **render_options):
        key = json.dumps([plugin_config, render_options], sort_keys=True, default=repr)
        if current.get("key") != key:
            if current:
                current.pop("envoy").close()
            current["envoy"] = envoylab.launch(plugin_config, module=module, shell=shell, **render_options)
            current["key"] = key
        return current["envoy"]

    yield get
    if current:
        current["envoy"].close()


@dataclasses.dataclass
class DemoRun:
    process: subprocess.Popen  # python -m tools.demo run, its output piped
    env: dict  # its environment: also `make apply`'s, to reach it
    state: dict  # what it saved for `make apply` (.run/state.json): ports, pid, product page URL


@pytest.fixture
def demo_run(module, tmp_path):
    """`make run` (python -m tools.demo run) on reviews-all-v1, on free ports, with its own state directory."""
    env = {**os.environ, "DEMO_RUN_DIR": str(tmp_path / "run")}
    config = os.path.join(REPO, "filter-config", "plugin", "reviews-all-v1.json")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.demo",
            "run",
            "--config",
            config,
            "--port",
            str(free_port()),
            "--admin-port",
            str(free_port()),
            "--productpage-port",
            str(free_port()),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    state_file = tmp_path / "run" / "state.json"
    deadline = time.monotonic() + 30
    while not state_file.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert state_file.exists(), "make run did not come up:\n" + (proc.stdout.read() if proc.poll() else "")
        yield DemoRun(proc, env, json.loads(state_file.read_text()))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.failed:
        for envoy in list(process._running):
            tail = "\n".join(envoy.log().splitlines()[-80:])
            report.sections.append(("envoy log, last 80 lines (pid %s)" % envoy.pid, tail))
