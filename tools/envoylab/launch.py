"""Render a bootstrap and start Envoy on it in one call, rendered again with fresh free ports if another process
took one meanwhile."""

from .bootstrap import render_bootstrap
from .process import Envoy, EnvoyError

_BIND_FAILURES = ("Address already in use", "cannot bind")


def start_retrying(render, *, attempts: int = 3, **envoy_options) -> Envoy:
    """A started Envoy(render(), **envoy_options); on a bind failure render() is called again (its free ports
    picked anew), up to `attempts` times in all."""
    for attempt in range(attempts):
        envoy = Envoy(render(), **envoy_options)
        try:
            return envoy.start()
        except EnvoyError as failure:
            envoy.close()
            port_clash = any(s in failure.log for s in _BIND_FAILURES)
            if not port_clash or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def launch(
    plugin_config=None,
    *,
    concurrency: int = 1,
    ready_timeout: float = 30.0,
    attempts: int = 3,
    envoy_options: dict = None,
    **render_options,
) -> Envoy:
    """A started Envoy for render_bootstrap(plugin_config, **render_options); stop it with close() or `with`.
    Ports given in render_options are not picked again: a clash with them fails at once."""
    return start_retrying(
        lambda: render_bootstrap(plugin_config, **render_options),
        attempts=1 if "ports" in render_options else attempts,
        concurrency=concurrency,
        ready_timeout=ready_timeout,
        **(envoy_options or {}),
    )
