"""The demo's Envoy: envoylab's front listener and three `reviews` upstreams, with the traffic-shift filter
fed over ECDS from a watched directory instead of being written into the bootstrap."""
import os

import envoylab

from . import ecds_file

NODE = {"id": "traffic-shift-demo", "cluster": "traffic-shift-demo"}  # any ECDS subscription needs one
# Istio names the subset clusters after the service's FQDN; a config may also say just "reviews".
CLUSTERS = {**envoylab.clusters_named(envoylab.ISTIO_TEMPLATE),
            **envoylab.clusters_named("outbound|9080|{subset}|reviews")}


def bootstrap(watched_dir: str, ports: dict = None, shell: str = "wasm", **render_options) -> dict:
    """render_options go to envoylab.render_bootstrap (e.g. statuses={"v3": 500}, absent=("v3",))."""
    config = envoylab.render_bootstrap(http_filters=[ecds_file.http_filter(watched_dir, shell)], clusters=CLUSTERS,
                                       ports=ports, **render_options)
    config["node"] = NODE
    return config


def start(watched_dir: str, first_config: str, module: str, ports: dict = None, attempts: int = 3,
          concurrency: int = 1, shell: str = "wasm", **render_options):
    """Put `first_config` in the watched directory and start Envoy on it; returns a ready envoylab.Envoy.
    Free ports (ports=None) are picked again if another process took one meanwhile."""
    os.makedirs(watched_dir, exist_ok=True)
    ecds_file.write_resource(watched_dir, first_config, module, shell)
    for attempt in range(attempts):
        envoy = envoylab.Envoy(bootstrap(watched_dir, ports, shell, **render_options), concurrency=concurrency)
        try:
            return envoy.start()
        except envoylab.EnvoyError as failure:
            envoy.close()
            port_clash = "Address already in use" in failure.log or "cannot bind" in failure.log
            if ports or not port_clash or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
