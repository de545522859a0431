"""Memory with and without the filter: one short-lived Envoy per variant (only that listener), pinned like
the measured one, loaded briefly so every per-worker structure exists, then RSS and tcmalloc's count read."""
import dataclasses

from . import envoys, listeners, load


@dataclasses.dataclass
class Memory:
    variant: str
    rss: int
    allocated: int


def measure(variants, upstream_ports: dict, placement, settings) -> list:
    results = []
    for variant in variants:
        envoy = envoys.start(lambda: listeners.measured_bootstrap([variant], upstream_ports))
        try:
            placement.pin_process(envoy.pid)
            load.closed_loop(envoy.ports[variant.name], variant.host, settings.memory_seconds, settings.connections)
            results.append(Memory(variant.name, envoys.rss_bytes(envoy.pid), envoys.allocated_bytes(envoy)))
        finally:
            envoy.close()
    return results
