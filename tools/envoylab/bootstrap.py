"""Envoy bootstraps for the lab, built as plain dicts (Envoy reads them as JSON).

One Envoy plays every part: a front listener (the traffic-shift filter, then the router) and, for each
version of Bookinfo's `reviews` service, an upstream listener answering with a fixed JSON body that names
its version. Each cluster points at one of those upstream listeners, so a response tells which cluster the
front route picked (`x-version` header, `podname` in the body).
"""

import json
import os

from tools import REPO

from . import metrics
from .ports import free_port

VERSIONS = ("v1", "v2", "v3")
FILTER_NAME = "traffic-shift"
CLUSTER_HEADER = "x-traffic-shift-cluster"  # the filter's default clusterHeader
TAG_HEADER = "x-traffic-shift-subset"  # the header tag mode routes on
ISTIO_TEMPLATE = "outbound|9080|{subset}|reviews.default.svc.cluster.local"
# Istio's cluster for a per-version Service (Gateway API backendRefs, Bookinfo's bookinfo-versions.yaml).
SERVICE_TEMPLATE = "outbound|9080||reviews-{subset}.default.svc.cluster.local"
FRONT = "front"
ADMIN = "admin"
# The two builds of the filter: the Wasm module, and the native dynamic module (target/native).
SHELLS = ("wasm", "native")
NATIVE_MODULE_NAME = "traffic_shift"  # Envoy loads lib<name>.so from ENVOY_DYNAMIC_MODULES_SEARCH_PATH

_STAR_COLOURS = {"v2": "black", "v3": "red"}  # as in Bookinfo: v1 shows no stars


def module_path() -> str:
    """The built filter: $TRAFFIC_SHIFT_MODULE (set by the Makefile), else the release build in the repo."""
    return os.environ.get("TRAFFIC_SHIFT_MODULE") or os.path.join(
        REPO, "target", "wasm32-wasip1", "release", "traffic_shift.wasm"
    )


def native_module_dir() -> str:
    """Where the dynamic module is: $TRAFFIC_SHIFT_NATIVE_DIR, else the `make build-native` output."""
    return os.environ.get("TRAFFIC_SHIFT_NATIVE_DIR") or os.path.join(REPO, "target", "native")


def istio_cluster(subset: str, host: str = "reviews.default.svc.cluster.local", port: int = 9080) -> str:
    return "outbound|%d|%s|%s" % (port, subset, host)


def clusters_named(template: str = ISTIO_TEMPLATE, versions=VERSIONS) -> dict:
    """{cluster name: version served}, e.g. clusters_named("{subset}") -> {"v1": "v1", ...}."""
    return {template.format(subset=version): version for version in versions}


def reviews_body(version: str) -> str:
    """A Bookinfo-style reviews answer; v2 and v3 carry star ratings in their colour."""
    reviews = [
        {"reviewer": "Reviewer1", "text": "A merry comedy, and the slapstick still lands."},
        {"reviewer": "Reviewer2", "text": "Great fun, if thinner in themes than the histories."},
    ]
    colour = _STAR_COLOURS.get(version)
    if colour:
        for review, stars in zip(reviews, (5, 4)):
            review["rating"] = {"stars": stars, "color": colour}
    return json.dumps({"id": "0", "podname": "reviews-%s" % version, "clustername": "null", "reviews": reviews})


def wasm_filter(plugin_config, *, module: str = None, disabled: bool = False) -> dict:
    """The traffic-shift HTTP filter; plugin_config is a dict (sent as JSON) or a raw string (sent as is)."""
    value = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
    wasm = {
        "name": FILTER_NAME,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": FILTER_NAME,
                "root_id": FILTER_NAME,
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": value},
                "vm_config": {
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": module or module_path()}},
                },
            },
        },
    }
    if disabled:
        wasm["disabled"] = True  # off unless a route enables it (per-route opt-in)
    return wasm


def dynamic_module_filter(plugin_config, *, disabled: bool = False, module_name: str = NATIVE_MODULE_NAME) -> dict:
    """The same filter as an Envoy dynamic module (lib<module_name>.so), same plugin config."""
    value = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
    module = {
        "name": FILTER_NAME,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
            "dynamic_module_config": {"name": module_name},
            "filter_name": FILTER_NAME,
            "filter_config": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": value},
        },
    }
    if disabled:
        module["disabled"] = True
    return module


def shift_filter(plugin_config, *, shell: str = "wasm", module: str = None, disabled: bool = False) -> dict:
    """The traffic-shift filter built for `shell` ("wasm" or "native")."""
    if shell == "native":
        return dynamic_module_filter(plugin_config, disabled=disabled)
    if shell != "wasm":
        raise ValueError("shell is one of %s, not %r" % (SHELLS, shell))
    return wasm_filter(plugin_config, module=module, disabled=disabled)


def _route(match: dict, action: dict, name: str = None, shift: bool = None) -> dict:
    route = {"match": match, "route": action}
    if name:
        route["name"] = name
    if shift is not None:
        # FilterConfig turns the filter on (or off) for this route only, keeping the listener's plugin config.
        route["typed_per_filter_config"] = {
            FILTER_NAME: {
                "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
                **({"config": {}} if shift else {"disabled": True}),
            }
        }
    return route


def cluster_header_route(
    header: str = CLUSTER_HEADER, *, prefix: str = "/", name: str = None, shift: bool = None
) -> dict:
    """Route to the cluster named by `header` (what the filter sets): the default cluster_header mode."""
    return _route({"prefix": prefix}, {"cluster_header": header}, name, shift)


def cluster_specifier_action(plugin_config, module_name: str = NATIVE_MODULE_NAME) -> dict:
    """A route action whose cluster the traffic-shift cluster specifier (native module) picks."""
    value = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
    plugin = {
        "extension": {
            "name": FILTER_NAME,
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.router.cluster_specifiers.dynamic_modules.v3"
                ".DynamicModuleClusterSpecifier",
                "dynamic_module_config": {"name": module_name},
                "specifier_name": FILTER_NAME,
                "specifier_config": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": value},
            },
        }
    }
    return {"inline_cluster_specifier_plugin": plugin}


def cluster_specifier_route(plugin_config, *, prefix: str = "/", name: str = None) -> dict:
    """A route to the cluster the traffic-shift cluster specifier picks; no filter needed."""
    return _route({"prefix": prefix}, cluster_specifier_action(plugin_config), name)


def cluster_route(
    cluster: str, *, prefix: str = "/", headers: dict = None, name: str = None, shift: bool = None
) -> dict:
    """Route to one fixed cluster; `headers` is {name: exact value} to match on."""
    match = {"prefix": prefix}
    if headers:
        match["headers"] = [{"name": k, "string_match": {"exact": v}} for k, v in headers.items()]
    return _route(match, {"cluster": cluster}, name, shift)


def tag_routes(
    tags: dict, header: str = TAG_HEADER, *, prefix: str = "/", name_prefix: str = None, shift: bool = None
) -> list:
    """Tag mode: one route per {tag value: cluster}, matched on `header` (route names: <name_prefix><tag>)."""
    return [
        cluster_route(
            cluster, prefix=prefix, headers={header: tag}, name=name_prefix and name_prefix + tag, shift=shift
        )
        for tag, cluster in tags.items()
    ]


def local_address(port: int) -> dict:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def http_listener(name: str, port: int, virtual_host: dict, http_filters: list) -> dict:
    """A listener on 127.0.0.1:port with one virtual host and `http_filters` before the router."""
    return {
        "name": name,
        "address": local_address(port),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                            ".HttpConnectionManager",
                            "stat_prefix": name,
                            "route_config": {"name": name, "virtual_hosts": [virtual_host]},
                            "http_filters": http_filters
                            + [
                                {
                                    "name": "envoy.filters.http.router",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                                    },
                                }
                            ],
                        },
                    }
                ]
            }
        ],
    }


def _upstream_listener(version: str, port: int, echo_headers, status: int = 200) -> dict:
    headers = [("x-version", version), ("content-type", "application/json")]
    # Echo what the upstream received, e.g. the cluster header the front Envoy forwarded.
    headers += [("x-echo-" + h, "%%REQ(%s)%%" % h) for h in echo_headers]
    virtual_host = {
        "name": "reviews-" + version,
        "domains": ["*"],
        "routes": [
            {
                "match": {"prefix": "/"},
                "direct_response": {"status": status, "body": {"inline_string": reviews_body(version)}},
            }
        ],
        "response_headers_to_add": [{"header": {"key": k, "value": v}} for k, v in headers],
    }
    return http_listener("upstream-" + version, port, virtual_host, [])


def static_cluster(name: str, port: int) -> dict:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": local_address(port)}}]}],
        },
    }


def render_bootstrap(
    plugin_config=None,
    *,
    routes: list = None,
    clusters: dict = None,
    filter_disabled: bool = False,
    http_filters: list = None,
    module: str = None,
    shell: str = "wasm",
    versions=VERSIONS,
    echo_headers=(CLUSTER_HEADER,),
    ports: dict = None,
    statuses: dict = None,
    absent=(),
) -> dict:
    """A full bootstrap dict.

    plugin_config: dict or raw string for the traffic-shift filter; None leaves the filter out.
    routes: front routes (see cluster_header_route, cluster_route, tag_routes); default one cluster_header route.
    clusters: {cluster name: version}; default Istio names for every version.
    filter_disabled: the filter is off in the chain; routes made with shift=True turn it on.
    http_filters: replaces the filters placed before the router (e.g. a no-op filter for benchmarks).
    shell: "wasm" (the Wasm module, `module`) or "native" (the dynamic module from native_module_dir()).
    ports: {"admin"|"front"|version: port}; missing ones are picked free.
    statuses: {version: HTTP status its upstream answers} (default 200), e.g. {"v3": 500} for a failing canary.
    absent: versions with no upstream listener: their clusters point at a closed port (connection refused).
    """
    ports = dict(ports or {})
    for key in (ADMIN, FRONT) + tuple(versions):
        ports.setdefault(key, free_port())
    if http_filters is None:
        http_filters = (
            []
            if plugin_config is None
            else [shift_filter(plugin_config, shell=shell, module=module, disabled=filter_disabled)]
        )
    clusters = clusters_named(ISTIO_TEMPLATE, versions) if clusters is None else clusters
    front_host = {"name": "reviews", "domains": ["*"], "routes": routes or [cluster_header_route()]}
    return {
        "admin": {"address": local_address(ports[ADMIN])},
        "stats_config": metrics.stats_config(),  # the filter's labels (tools/envoylab/metrics.py)
        "layered_runtime": metrics.NATIVE_RUNTIME,  # the native build's series named as the Wasm build's
        "static_resources": {
            "listeners": [http_listener(FRONT, ports[FRONT], front_host, http_filters)]
            + [
                _upstream_listener(v, ports[v], echo_headers, (statuses or {}).get(v, 200))
                for v in versions
                if v not in absent
            ],
            "clusters": [static_cluster(name, ports[version]) for name, version in clusters.items()],
        },
    }


def to_yaml(bootstrap: dict) -> str:
    """YAML text of a bootstrap, for people to read (demo, docs)."""
    import yaml

    return yaml.safe_dump(bootstrap, sort_keys=False, width=120)
