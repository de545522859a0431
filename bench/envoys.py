"""Starting the bench's Envoys through envoylab, and reading their memory."""

import json

from tools import envoylab


def start(render, attempts: int = 3, concurrency: int = 1, **options) -> envoylab.Envoy:
    """A ready envoylab.Envoy (1 worker unless told, logging warnings only; options: more of envoylab.Envoy's)
    for render(); rendered again with fresh free ports if another process took one meanwhile."""
    return envoylab.start_retrying(render, attempts=attempts, concurrency=concurrency, log_level="warning", **options)


def allocated_bytes(envoy: envoylab.Envoy) -> int:
    """tcmalloc's bytes in use by Envoy (admin /memory); Wasm VM memory (V8) is outside it, RSS sees both."""
    return int(json.loads(envoy.admin("/memory"))["allocated"])
