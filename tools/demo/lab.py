"""The demo's Envoy: envoylab's front listener and three `reviews` upstreams, with the traffic-shift filter
fed over ECDS from a watched directory instead of being written into the bootstrap.

With `bookinfo` (tools/bookinfo's ports) the upstreams are our Bookinfo's services instead: the reviews
clusters point at reviews v1/v2/v3, and the same listener, playing every service's sidecar, also routes Host
details:9080 and ratings:9080 to their clusters with the filter off (it only shifts reviews)."""
import os

from tools import envoylab

from . import ecds_file

NODE = {"id": "traffic-shift-demo", "cluster": "traffic-shift-demo"}  # any ECDS subscription needs one
# Istio names the subset clusters after the service's FQDN; a config may also say just "reviews".
CLUSTERS = {**envoylab.clusters_named(envoylab.ISTIO_TEMPLATE),
            **envoylab.clusters_named("outbound|9080|{subset}|reviews")}


BOOKINFO_SERVICES = ("details", "ratings")  # reached by name, not shifted


def _bookinfo_options(bookinfo: dict, ports: dict) -> dict:
    """render_bootstrap options pointing the clusters at Bookinfo's services (bookinfo: {service: port})."""
    ports = dict(ports or {})
    ports.update({v: bookinfo["reviews-" + v] for v in envoylab.VERSIONS})
    ports.update({s: bookinfo[s] for s in BOOKINFO_SERVICES})
    routes = []
    for service in BOOKINFO_SERVICES:
        route = envoylab.cluster_route(service, shift=False)
        # Host "details", "details:9080", "details.default.svc.cluster.local:9080", …
        route["match"]["headers"] = [{"name": ":authority", "string_match": {"prefix": service}}]
        routes.append(route)
    return {"ports": ports, "absent": envoylab.VERSIONS, "routes": routes + [envoylab.cluster_header_route()],
            "clusters": {**CLUSTERS, **{s: s for s in BOOKINFO_SERVICES}}}


def bootstrap(watched_dir: str, ports: dict = None, bookinfo: dict = None, shell: str = "wasm",
              **render_options) -> dict:
    """render_options go to envoylab.render_bootstrap (e.g. statuses={"v3": 500}, absent=("v3",)); shell: the
    build of the filter the ECDS resource carries ("wasm" or "native")."""
    options = _bookinfo_options(bookinfo, ports) if bookinfo else {"ports": ports, "clusters": CLUSTERS}
    config = envoylab.render_bootstrap(http_filters=[ecds_file.http_filter(watched_dir, shell)], **options,
                                       **render_options)
    config["node"] = NODE
    return config


def start(watched_dir: str, first_config: str, module: str, ports: dict = None, attempts: int = 3,
          concurrency: int = 1, bookinfo: dict = None, shell: str = "wasm", **render_options):
    """Put `first_config` in the watched directory and start Envoy on it; returns a ready envoylab.Envoy.
    Free ports (ports=None) are picked again if another process took one meanwhile. bookinfo: the ports of
    tools/bookinfo's services ({"reviews-v1": port, …, "details": port, "ratings": port}) to route to."""
    os.makedirs(watched_dir, exist_ok=True)
    ecds_file.write_resource(watched_dir, first_config, module, shell)
    for attempt in range(attempts):
        envoy = envoylab.Envoy(bootstrap(watched_dir, ports, bookinfo, shell, **render_options),
                               concurrency=concurrency)
        try:
            return envoy.start()
        except envoylab.EnvoyError as failure:
            envoy.close()
            port_clash = "Address already in use" in failure.log or "cannot bind" in failure.log
            if ports or not port_clash or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
