"""Envoy's memory, read while it runs: RSS (/proc), tcmalloc's bytes in use (server.memory_allocated), and the
Wasm VMs' linear memory.

Envoy 1.40 has no statistic for a Wasm VM's memory (only wasm.envoy.wasm.runtime.v8.active / created), so it
is read from /proc/<pid>/smaps: V8 reserves each Wasm memory as one region followed by a guard of several
GiB that is never accessible (`---p`); the accessible part just before that guard is the linear memory, its
size the module's current memory.size, its Rss what of it is resident. Linear memory only ever grows (in
64 KiB pages): a module that leaks, even a few bytes a request, shows as a size that keeps growing.
"""
import dataclasses
import re
import threading
import time

from tools.envoylab import rss_bytes

GUARD_MIN = 1 << 32  # a Wasm guard region is at least 4 GiB; nothing else in Envoy maps that much `---p`
_MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ")


@dataclasses.dataclass
class Sample:
    seconds: float  # since the sampler started
    requests: int  # requests Envoy's front listener completed so far
    rss: int
    allocated: int  # tcmalloc
    wasm_size: int  # linear memory of all Wasm VMs (bytes, sum of memory.size)
    wasm_rss: int  # of which resident
    vms: int


def wasm_memories(pid: int) -> list:
    """[(size, resident)] in bytes of each Wasm linear memory in the process (see the module docstring)."""
    mappings, current = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            found = _MAPPING.match(line)
            if found:
                current = [int(found.group(1), 16), int(found.group(2), 16), found.group(3), 0]
                mappings.append(current)
            elif line.startswith("Rss:") and current is not None:
                current[3] = int(line.split()[1]) * 1024
    return [(before[1] - before[0], before[3]) for before, guard in zip(mappings, mappings[1:])
            if guard[2] == "---p" and guard[1] - guard[0] >= GUARD_MIN and before[1] == guard[0]
            and before[2].startswith("rw")]


def sample(envoy, started: float) -> Sample:
    stats = envoy.stats(r"^(server\.memory_allocated|http\.front\.downstream_rq_completed)$")
    memories = wasm_memories(envoy.pid)
    return Sample(time.monotonic() - started, stats.get("http.front.downstream_rq_completed", 0),
                  rss_bytes(envoy.pid), stats.get("server.memory_allocated", 0),
                  sum(size for size, _ in memories), sum(rss for _, rss in memories), len(memories))


class Sampler(threading.Thread):
    """Samples every `period` seconds until stop() (at most `max_seconds`); .samples holds them in order."""

    def __init__(self, envoy, period: float, max_seconds: float):
        super().__init__(daemon=True)
        self.envoy, self.period, self.max_seconds = envoy, period, max_seconds
        self.samples = []
        self.errors = []
        self._stopped = threading.Event()

    def run(self):
        started = time.monotonic()
        while not self._stopped.is_set() and time.monotonic() - started < self.max_seconds:
            try:
                self.samples.append(sample(self.envoy, started))
            except (OSError, RuntimeError) as failure:  # Envoy gone: the phase reports it
                self.errors.append(str(failure))
                return
            self._stopped.wait(self.period)

    def stop(self) -> list:
        self._stopped.set()
        self.join(10)
        return self.samples


def slope_per(samples: list, field: str, per: int = 100_000) -> float:
    """Least-squares slope of `field` in bytes per `per` requests over the samples (0 with fewer than 3)."""
    points = [(s.requests, getattr(s, field)) for s in samples]
    if len(points) < 3:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return per * sum((x - mean_x) * (y - mean_y) for x, y in points) / var


def after_warmup(samples: list, share: float) -> list:
    """The samples after the first `share` of the requests."""
    if not samples:
        return []
    last = samples[-1].requests
    return [s for s in samples if s.requests >= share * last]


MIB = 1 << 20
