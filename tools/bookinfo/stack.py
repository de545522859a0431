"""All six Bookinfo services on this machine, one process each (as in the real Bookinfo, and as envoy-test/
runs them in containers), for `make run`, `make demo` and the tests.

    with Bookinfo(sidecar_port=10000, admin_port=9901, productpage_port=9080) as bookinfo:
        bookinfo.ports  # {"productpage": 9080, "details": …, "reviews-v1": …, "reviews-v2": …, "reviews-v3": …,
                        #  "ratings": …}

Every service but productpage listens on a port the kernel picks; each says which on its first line. The
processes die with the one that started them (Linux), and are stopped on close().
"""

import ctypes
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

from tools import REPO

SERVICES = (
    ("productpage", None),
    ("details", None),
    ("reviews", "v1"),
    ("reviews", "v2"),
    ("reviews", "v3"),
    ("ratings", None),
)
READY_SECONDS = 15


class BookinfoError(RuntimeError):
    pass


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Bookinfo:
    def __init__(self, sidecar_port: int, admin_port: int, productpage_port: int = 0, host: str = "127.0.0.1"):
        self.sidecar, self.admin = "%s:%d" % (host, sidecar_port), "%s:%d" % (host, admin_port)
        self.host, self.productpage_port = host, productpage_port
        self.processes, self.ports = {}, {}
        self.log_path = None

    @property
    def url(self) -> str:
        return "http://%s:%d/productpage" % (self.host, self.ports["productpage"])

    def start(self) -> "Bookinfo":
        log = tempfile.NamedTemporaryFile(prefix="bookinfo-", suffix=".log", delete=False)
        self.log_path = log.name
        try:
            for service, version in SERVICES:
                name = service + ("-" + version if version else "")
                command = [
                    sys.executable,
                    "-m",
                    "tools.bookinfo",
                    service,
                    "--host",
                    self.host,
                    "--port",
                    str(self.productpage_port if service == "productpage" else 0),
                    "--sidecar",
                    self.sidecar,
                ]
                command += ["--version", version] if version else []
                command += ["--admin", self.admin] if service == "productpage" else []
                self.processes[name] = subprocess.Popen(
                    command,
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,
                    text=True,
                )
            deadline = time.monotonic() + READY_SECONDS
            for name, process in self.processes.items():
                self.ports[name] = self._port_of(name, process, deadline)
        except BaseException:
            self.close()
            raise
        finally:
            log.close()
        return self

    def _port_of(self, name: str, process, deadline: float) -> int:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if ready else ""
        if not line.startswith("bookinfo %s listening on " % name):
            process.poll()
            raise BookinfoError(
                "bookinfo %s did not start (%s); its log:\n%s"
                % (
                    name,
                    "exit status %s" % process.returncode if process.returncode is not None else "no answer",
                    self.log(),
                )
            )
        return int(line.rsplit(":", 1)[1])

    def log(self) -> str:
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except (OSError, TypeError):
            return ""

    @property
    def running(self) -> bool:
        return bool(self.processes) and all(p.poll() is None for p in self.processes.values())

    def close(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()
        self.processes = {}
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)

    def __enter__(self) -> "Bookinfo":
        return self.start() if not self.processes else self

    def __exit__(self, *exc):
        self.close()
