"""The load generators the bench and the soak drive, both from Debian (tools/debian_tools.sh): finding them, and
reading wrk's closing summary."""

import dataclasses
import re
import shutil


class LoadError(RuntimeError):
    pass


@dataclasses.dataclass
class Throughput:
    requests: int
    seconds: float
    bad: int  # non-2xx answers: a broken listener
    socket_errors: int  # connect/read/write errors and timeouts: a stalled (e.g. starved) process

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def require(tool: str, target: str = "make bench") -> str:
    path = shutil.which(tool)
    if not path:
        raise LoadError("%s not found: run `%s` (tools/debian_tools.sh installs it)" % (tool, target))
    return path


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def parse_wrk(text: str) -> Throughput:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", text)
    if not done:
        raise LoadError("unexpected wrk output:\n" + text)
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = sum(int(n) for n in socket.groups()) if socket else 0
    return Throughput(int(done.group(1)), float(done.group(2)) * _UNITS[done.group(3)], bad, socket_errors)
