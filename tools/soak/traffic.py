"""The soak's load: wrk over HTTP/1.1 keep-alive (every other request a sticky user) and h2load over h2c (many
streams on few connections), started together in the background for a fixed time, both from Debian
(tools/debian_tools.sh). Their own summaries count every answer that was not a 2xx, and every socket error.
"""

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile

from tools.envoylab import loadgen
from tools.envoylab.traffic import HOST as REQUEST_HOST
from tools.envoylab.traffic import PATH as REQUEST_PATH

LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sticky_users.lua")
WRK_CONNECTIONS = 8
H2_CONNECTIONS, H2_STREAMS = 2, 32  # 64 requests in flight on two connections


@dataclasses.dataclass
class Result:
    protocol: str  # "http/1.1" or "h2c"
    requests: int  # answered
    failed: int  # non-2xx, socket errors, timeouts, resets
    seconds: float


def parse_h2load(text: str, seconds: float) -> Result:
    done = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout",
        text,
    )
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if not done or not codes:
        raise loadgen.LoadError("unexpected h2load output:\n" + text)
    _, _, finished, _, failed, errored, timeout = map(int, done.groups())
    not_2xx = sum(map(int, codes.groups()[1:]))
    # h2load's "failed" includes non-2xx answers and errored ones; the max never counts one twice. Requests
    # still in flight when -D ends are "started" but not "done": not failures.
    return Result("h2c", finished, max(failed, errored + timeout + not_2xx), seconds)


class Load:
    """wrk and h2load against `port` for `seconds`; wait() returns both Results (and raises if one failed)."""

    def __init__(self, port: int, seconds: float):
        self.seconds = max(1, round(seconds))
        url = "http://127.0.0.1:%d%s" % (port, REQUEST_PATH)
        self.workdir = tempfile.mkdtemp(prefix="soak-load-")
        wrk = [
            loadgen.require("wrk"),
            "-t1",
            "-c%d" % WRK_CONNECTIONS,
            "-d%ds" % self.seconds,
            "-s",
            LUA,
            "-H",
            "Host: " + REQUEST_HOST,
            url,
        ]
        # h2load takes the Host from :authority; --warm-up-time=0 counts every request
        h2 = [
            loadgen.require("h2load"),
            "-c%d" % H2_CONNECTIONS,
            "-m%d" % H2_STREAMS,
            "-t1",
            "-D",
            str(self.seconds),
            "-H",
            ":authority: " + REQUEST_HOST,
            url,
        ]
        self.processes = [self._spawn("wrk", wrk), self._spawn("h2load", h2)]

    def _spawn(self, name: str, command: list):
        out = open(os.path.join(self.workdir, name + ".out"), "w+")
        return name, out, subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait(self) -> list:
        results = []
        try:
            for name, out, process in self.processes:
                code = process.wait(self.seconds + 30)
                out.seek(0)
                text = out.read()
                if code != 0:
                    raise loadgen.LoadError("%s exited %d: %s" % (name, code, text))
                if name == "wrk":
                    wrk = loadgen.parse_wrk(text)
                    results.append(Result("http/1.1", wrk.requests, wrk.bad + wrk.socket_errors, wrk.seconds))
                else:
                    results.append(parse_h2load(text, self.seconds))
        finally:
            self.stop()
        return results

    def stop(self):
        for _, out, process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)
            out.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
