"""The demo's Envoy: envoylab's ECDS-fed Envoy (envoylab.ecds) in front of our Bookinfo's services.

The reviews clusters point at tools/bookinfo's reviews v1/v2/v3, and the same listener, playing every service's
sidecar, also routes Host details:9080 and ratings:9080 to their clusters with the filter off (it only shifts
reviews)."""

from tools import envoylab

BOOKINFO_SERVICES = ("details", "ratings")  # reached by name, not shifted


def bookinfo_options(bookinfo: dict, ports: dict = None) -> dict:
    """envoylab.ecds.launch options pointing the clusters at Bookinfo's services (bookinfo: {service: port})."""
    ports = dict(ports or {})
    ports.update({v: bookinfo["reviews-" + v] for v in envoylab.VERSIONS})
    ports.update({s: bookinfo[s] for s in BOOKINFO_SERVICES})
    routes = []
    for service in BOOKINFO_SERVICES:
        route = envoylab.cluster_route(service, shift=False)
        # Host "details", "details:9080", "details.default.svc.cluster.local:9080", …
        route["match"]["headers"] = [{"name": ":authority", "string_match": {"prefix": service}}]
        routes.append(route)
    return {
        "ports": ports,
        "absent": envoylab.VERSIONS,
        "routes": routes + [envoylab.cluster_header_route()],
        "clusters": {**envoylab.ecds.CLUSTERS, **{s: s for s in BOOKINFO_SERVICES}},
    }


def start(watched_dir: str, first_config: str, module: str, bookinfo: dict, ports: dict):
    """A ready envoylab.Envoy fed over ECDS from `watched_dir`, in front of Bookinfo ({service: port}).
    ports: the Envoy's own {"front": port, "admin": port}."""
    return envoylab.ecds.launch(watched_dir, first_config, module, **bookinfo_options(bookinfo, ports))
