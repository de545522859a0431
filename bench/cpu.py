"""Core pinning and CPU accounting.

With 2 cores, the measured Envoy gets the last core to itself; the driver, the upstream Envoy and the load
generators share the rest (children inherit the driver's affinity). Then the measured Envoy is the
bottleneck, and its own CPU time per request is a second, load-independent view of the cost.
"""

import os
import resource
import time

TICKS = os.sysconf("SC_CLK_TCK")


class Placement:
    """measured: the cores of the measured Envoy; others: everything else (None when not pinning)."""

    def __init__(self):
        cores = sorted(os.sched_getaffinity(0))
        self.pinning = len(cores) >= 2
        self.measured = {cores[-1]} if self.pinning else set(cores)
        self.others = set(cores[:-1]) if self.pinning else set(cores)

    def pin_self(self):
        if self.pinning:
            os.sched_setaffinity(0, self.others)

    def pin_process(self, pid: int):
        """Every thread of pid; threads it starts later inherit the mask."""
        if self.pinning:
            for tid in os.listdir("/proc/%d/task" % pid):
                try:
                    os.sched_setaffinity(int(tid), self.measured)
                except (ProcessLookupError, FileNotFoundError):
                    pass  # a thread that just ended

    def describe(self) -> str:
        if not self.pinning:
            return "not pinned (1 core): everything shares it"
        return "measured Envoy on core %s; upstream Envoy, load generator and driver on core(s) %s" % (
            ",".join(map(str, sorted(self.measured))),
            ",".join(map(str, sorted(self.others))),
        )


def process_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of the whole line)


def core_times() -> dict:
    """{core: (busy ticks, total ticks)} from /proc/stat."""
    times = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                numbers = [int(v) for v in values[:8]]
                idle = numbers[3] + numbers[4]  # idle + iowait
                times[int(name[3:])] = (sum(numbers) - idle, sum(numbers))
    return times


def busy_share(before: dict, after: dict, cores) -> float:
    """Share of time the given cores were busy between two core_times() snapshots (0..1)."""
    busy = sum(after[c][0] - before[c][0] for c in cores)
    total = sum(after[c][1] - before[c][1] for c in cores)
    return busy / total if total else 0.0


def machine_busy_seconds() -> float:
    """CPU-seconds all cores spent busy since boot (the aggregate /proc/stat line)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICKS


def _rusage_seconds(who) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Splits the machine's CPU time during a run into ours (the bench's Envoys, the driver and the load
    generators it waited for) and foreign: other work on a shared machine, which makes a run unreliable."""

    def __init__(self, pids):
        self.pids = list(pids)

    def _ours(self) -> float:
        return (
            sum(process_seconds(pid) for pid in self.pids)
            + _rusage_seconds(resource.RUSAGE_SELF)
            + _rusage_seconds(resource.RUSAGE_CHILDREN)
        )

    def start(self):
        self._begin = (time.monotonic(), machine_busy_seconds(), self._ours())

    def foreign_cores(self) -> float:
        """Average number of cores busy with other work since start()."""
        wall, busy, ours = self._begin
        elapsed = time.monotonic() - wall
        return max(0.0, (machine_busy_seconds() - busy) - (self._ours() - ours)) / elapsed if elapsed else 0.0
