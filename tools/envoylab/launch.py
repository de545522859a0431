"""Render a lab bootstrap and start Envoy on it in one call, retrying if a picked port was taken meanwhile."""
from .bootstrap import render_bootstrap
from .process import Envoy, EnvoyError

_BIND_FAILURES = ("Address already in use", "cannot bind")


def launch(plugin_config=None, *, concurrency: int = 1, ready_timeout: float = 30.0, attempts: int = 3,
           envoy_options: dict = None, **render_options) -> Envoy:
    """A started Envoy for render_bootstrap(plugin_config, **render_options); stop it with close() or `with`."""
    for attempt in range(attempts):
        envoy = Envoy(render_bootstrap(plugin_config, **render_options), concurrency=concurrency,
                      ready_timeout=ready_timeout, **(envoy_options or {}))
        try:
            return envoy.start()
        except EnvoyError as failure:
            envoy.close()
            port_clash = any(s in failure.log for s in _BIND_FAILURES)
            if not port_clash or "ports" in render_options or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
