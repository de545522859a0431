"""Run one Envoy: start it on its own base id, wait until admin /ready, always stop it.

Envoy's stdout and stderr go to a log file kept in memory after stop, so a failed start or a failed test
can show exactly what Envoy said. Every Envoy started here is stopped at interpreter exit, and (Linux) dies
with the process that started it even if that process is killed. That parent-death signal follows the
*thread* that spawned Envoy: start Envoy from a thread that outlives it (normally the main thread).
"""

import atexit
import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

from tools.envoy_path import envoy_path

from .traffic import FAILURES, request

_running = []  # Envoy objects with a live process, stopped at exit


class EnvoyError(RuntimeError):
    """Envoy did not become ready (or exited); `.log` holds everything it printed."""

    def __init__(self, message: str, log: str, returncode=None):
        super().__init__("%s\n----- envoy log -----\n%s" % (message, log))
        self.log = log
        self.returncode = returncode


def envoy_binary() -> str:
    """$ENVOY, else the pinned build from .venv (tools/envoy_path.py)."""
    return envoy_path()


def _native_module_dir() -> str:
    from .bootstrap import native_module_dir  # bootstrap imports nothing from here: no cycle

    return native_module_dir()


def _die_with_parent():
    # Runs in the child before exec: SIGKILL Envoy if the process that started it goes away.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _ports_of(bootstrap: dict):
    def port(address):
        return address["socket_address"]["port_value"]

    admin = port(bootstrap["admin"]["address"])
    listeners = {
        one["name"]: port(one["address"]) for one in bootstrap.get("static_resources", {}).get("listeners", [])
    }
    return admin, listeners


def parse_stats(text: str) -> dict:
    """Admin /stats text ("name: value" lines) -> {name: int}, histograms kept as their text."""
    stats = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep:
            try:
                stats[name] = int(value)
            except ValueError:
                stats[name] = value
    return stats


class Admin:
    """Reading an Envoy: its admin endpoint on 127.0.0.1 and its log file, whoever started it (this process,
    `make run` in another terminal, a container: then log_path None, an empty log)."""

    def __init__(self, admin_port: int, log_path: str = None):
        self.admin_port, self.log_path = admin_port, log_path

    def admin(self, path: str, method: str = "GET") -> str:
        """Body of an admin request, e.g. admin("/clusters"); raises on a non-200 answer."""
        answer = request(self.admin_port, path=path, method=method, host="127.0.0.1:%d" % self.admin_port)
        body = answer.body.decode("utf-8", "replace")
        if answer.status != 200:
            raise RuntimeError("admin %s %s -> %d: %s" % (method, path, answer.status, body))
        return body

    def stats(self, filter: str = None) -> dict:
        """Admin /stats as {name: value}; `filter` is Envoy's regex filter on names."""
        path = "/stats" + ("?filter=" + urllib.parse.quote(filter) if filter else "")
        return parse_stats(self.admin(path))

    def log(self) -> str:
        """Everything Envoy printed so far."""
        if self.log_path is None:
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Envoy(Admin):
    """One Envoy process for one bootstrap (a dict, or YAML/JSON text). Use as a context manager.

    Attributes once started: pid, admin_port, port (the "front" listener), ports ({listener name: port}).
    """

    def __init__(
        self,
        bootstrap,
        *,
        concurrency: int = 1,
        ready_timeout: float = 30.0,
        log_level: str = "info",
        envoy: str = None,
        extra_args=(),
    ):
        if isinstance(bootstrap, str):
            import yaml  # YAML is a superset of JSON: one parser for both

            self.bootstrap_text, parsed, suffix = bootstrap, yaml.safe_load(bootstrap), ".yaml"
        else:
            self.bootstrap_text, parsed, suffix = json.dumps(bootstrap, indent=1), bootstrap, ".json"
        admin_port, self.ports = _ports_of(parsed)
        self.port = self.ports.get("front")
        self.concurrency = concurrency
        self.ready_timeout = ready_timeout
        self.log_level = log_level
        self.envoy = envoy or envoy_binary()
        self.extra_args = list(extra_args)
        self.workdir = tempfile.mkdtemp(prefix="envoylab-")
        self.config_path = os.path.join(self.workdir, "bootstrap" + suffix)
        with open(self.config_path, "w") as f:
            f.write(self.bootstrap_text)
        super().__init__(admin_port, os.path.join(self.workdir, "envoy.log"))
        self.process = None
        self.returncode = None
        self._log_cache = ""

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> "Envoy":
        """Start the process without waiting for readiness (start() waits)."""
        if self.running:
            raise RuntimeError("envoy already running (pid %d)" % self.pid)
        command = [
            self.envoy,
            "-c",
            self.config_path,
            "--base-id",
            str(random.randint(1, 1 << 20)),
            "--concurrency",
            str(self.concurrency),
            "--log-level",
            self.log_level,
        ] + self.extra_args
        # Where Envoy finds the native build of the filter (a dynamic module), unless the caller chose.
        env = dict(os.environ)
        env.setdefault("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", _native_module_dir())
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                env=env,
            )
        self.returncode = None
        _running.append(self)
        return self

    def start(self) -> "Envoy":
        """Start and wait for admin /ready; on failure stop it and raise EnvoyError with the log."""
        self.spawn()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not self.running:
                code = self.stop()
                raise EnvoyError("envoy exited with status %s before becoming ready" % code, self.log(), code)
            if self._is_ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise EnvoyError("envoy not ready within %.0fs" % self.ready_timeout, self.log())

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to exit on its own (e.g. a refused config); returns its status, None if alive."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.stop()

    def stop(self) -> int:
        """Stop Envoy (SIGTERM, then SIGKILL after 5 s); returns its exit status. Safe to call twice."""
        if self.process is None:
            return self.returncode
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.returncode = self.process.returncode
        self._log_cache = self.log()
        self.process = None
        if self in _running:
            _running.remove(self)
        return self.returncode

    def restart(self) -> "Envoy":
        """Stop and start again with the same bootstrap file and ports."""
        self.stop()
        return self.start()

    def close(self):
        """Stop and remove the work directory (the log stays readable in memory)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Envoy":
        return self if self.running else self.start()

    def __exit__(self, *exc):
        self.close()

    # -- what Envoy says -------------------------------------------------------------------------------------

    def log(self) -> str:
        """Everything Envoy printed so far (all runs of this object)."""
        try:
            return super().log()
        except OSError:  # closed: its files are gone
            return self._log_cache

    def dump_log(self, file=None, tail: int = None):
        lines = self.log().splitlines()[-tail:] if tail else self.log().splitlines()
        print("----- envoy log (%s) -----\n%s" % (self.config_path, "\n".join(lines)), file=file or sys.stderr)

    def _is_ready(self) -> bool:
        try:
            return self.admin("/ready").strip() == "LIVE"
        except (RuntimeError, *FAILURES):
            return False


def expect_startup_failure(bootstrap, *, timeout: float = 30.0, **envoy_options) -> str:
    """Start Envoy expecting it to refuse the bootstrap; returns its log. Raises AssertionError if it becomes
    ready, or if it neither exits nor becomes ready within `timeout` (then it is killed)."""
    envoy = Envoy(bootstrap, ready_timeout=timeout, **envoy_options)
    try:
        envoy.start()
    except EnvoyError as failure:
        if failure.returncode is None:
            raise AssertionError("envoy hung instead of refusing the config\n" + failure.log) from None
        if failure.returncode == 0:
            raise AssertionError("envoy exited 0 instead of refusing the config\n" + failure.log) from None
        return failure.log
    finally:
        envoy.close()
    raise AssertionError("envoy became ready with a config it should refuse\n" + envoy.log())


@atexit.register
def _stop_all():
    for envoy in list(_running):
        envoy.stop()
