"""Starting the bench's Envoys through envoylab, and reading their memory."""
import json

import envoylab

_BIND_FAILURES = ("Address already in use", "cannot bind")


def start(render, attempts: int = 3, concurrency: int = 1, **options) -> "envoylab.Envoy":
    """A ready envoylab.Envoy (1 worker unless told; options: more of envoylab.Envoy's) for render(); rendered
    again with fresh free ports if another process took one meanwhile."""
    for attempt in range(attempts):
        envoy = envoylab.Envoy(render(), concurrency=concurrency, log_level="warning", **options)
        try:
            return envoy.start()
        except envoylab.EnvoyError as failure:
            envoy.close()
            if not any(s in failure.log for s in _BIND_FAILURES) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def rss_bytes(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def allocated_bytes(envoy: "envoylab.Envoy") -> int:
    """tcmalloc's bytes in use by Envoy (admin /memory); Wasm VM memory (V8) is outside it, RSS sees both."""
    return int(json.loads(envoy.admin("/memory"))["allocated"])
