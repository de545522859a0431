"""Envoy's memory, sampled while it runs: RSS and the Wasm VMs' linear memory (envoylab.memory, which says how
they are read), and tcmalloc's bytes in use (server.memory_allocated)."""

import dataclasses
import threading
import time

from tools.envoylab.memory import rss_bytes, wasm_memories


@dataclasses.dataclass
class Sample:
    seconds: float  # since the sampler started
    requests: int  # requests Envoy's front listener completed so far
    rss: int
    allocated: int  # tcmalloc
    wasm_size: int  # linear memory of all Wasm VMs (bytes, sum of memory.size)
    wasm_rss: int  # of which resident
    vms: int


def sample(envoy, started: float) -> Sample:
    stats = envoy.stats(r"^(server\.memory_allocated|http\.front\.downstream_rq_completed)$")
    memories = wasm_memories(envoy.pid)
    return Sample(
        time.monotonic() - started,
        stats.get("http.front.downstream_rq_completed", 0),
        rss_bytes(envoy.pid),
        stats.get("server.memory_allocated", 0),
        sum(size for size, _ in memories),
        sum(rss for _, rss in memories),
        len(memories),
    )


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
