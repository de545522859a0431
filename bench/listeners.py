"""Bootstraps: the measured Envoy (one front listener per variant, all to the same upstream) and the
upstream Envoy (a direct_response per subset, run as its own process so it never shares the measured
Envoy's worker thread)."""

import dataclasses
import os
import shutil

from tools import REPO, envoylab
from tools.envoylab.ports import free_port

from . import plugin_configs
from .measure import BenchError
from .plugin_configs import REQUEST_HOST, V1, V2, V3

UPSTREAM_VERSIONS = ("v1", "v2", "v3")
LUA_SCRIPT = os.path.join(REPO, "bench", "realistic.lua")
NATIVE_MODULE = os.path.join(envoylab.native_module_dir(), "lib%s.so" % envoylab.NATIVE_MODULE_NAME)


@dataclasses.dataclass(frozen=True)
class BenchModule:
    """A Wasm module of the bench's own (bench/<crate>/), built by `make bench`."""

    crate: str  # folder under bench/

    @property
    def path(self) -> str:
        return os.path.join(
            REPO, "target", "bench-" + self.crate, "wasm32-wasip1", "release", self.crate + "_filter.wasm"
        )


NOOP, FLOOR = BenchModule("noop"), BenchModule("floor")
BENCH_MODULES = (NOOP, FLOOR)


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    what: str  # one line for the table
    host: str  # Host header the load sends
    filters: tuple  # http filters before the router
    route: dict  # the route action


def _weighted_native() -> dict:
    return {"weighted_clusters": {"clusters": [{"name": V1, "weight": 50}, {"name": V3, "weight": 50}]}}


def _cluster_header() -> dict:
    return {"cluster_header": envoylab.CLUSTER_HEADER}


def _bench_wasm(module: BenchModule, configuration: str = "") -> dict:
    config = {
        "name": module.crate,
        "root_id": module.crate,
        "vm_config": {"runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": module.path}}},
    }
    if configuration:
        config["configuration"] = {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": configuration}
    return {
        "name": module.crate,
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", "config": config},
    }


def _lua_filter() -> dict:
    with open(LUA_SCRIPT) as f:
        code = f.read()
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": code},
        },
    }


# The name another build of the native module is loaded under (BENCH_COMPARE_NATIVE), beside ours.
COMPARE_NATIVE_NAME = "traffic_shift_cmp"


def install_compare_native(path: str) -> None:
    """Puts another build of the native module beside ours as lib<COMPARE_NATIVE_NAME>.so: Envoy loads
    each module by name from one search path (ENVOY_DYNAMIC_MODULES_SEARCH_PATH)."""
    if not os.path.isfile(path):
        raise BenchError("BENCH_COMPARE_NATIVE: no file %s" % path)
    shutil.copyfile(path, os.path.join(envoylab.native_module_dir(), "lib%s.so" % COMPARE_NATIVE_NAME))


def variants(module: str, compare_module: str = "", cost_model: bool = False, compare_native: str = "") -> list:
    """Measured listeners, in table order; with compare_module, also that build on the realistic config;
    with compare_native, that build of the native module (installed by install_compare_native) as the
    cluster specifier and the HTTP filter; with cost_model, the plugin_configs.COST_MODEL steps. Another
    listener is one more row here (ratios over it: report.RATIOS)."""
    shift = lambda config, path=module: (envoylab.wasm_filter(config, module=path),)  # noqa: E731
    floor = _bench_wasm(FLOOR, " ".join((envoylab.CLUSTER_HEADER, V1, V3)))
    listeners = [
        Variant("native", "weighted_clusters, no Wasm", REQUEST_HOST, (), _weighted_native()),
        Variant("noop", "no-op Wasm + weighted_clusters", REQUEST_HOST, (_bench_wasm(NOOP),), _weighted_native()),
        Variant("floor", "Wasm setting the header at random", REQUEST_HOST, (floor,), _cluster_header()),
        Variant("lua", "Lua filter, the realistic checks", REQUEST_HOST, (_lua_filter(),), _cluster_header()),
        Variant(
            "shift",
            "traffic-shift, 4 entries + hosts",
            REQUEST_HOST,
            shift(plugin_configs.REALISTIC),
            _cluster_header(),
        ),
        Variant(
            "shift-rollout",
            "traffic-shift, as shift, split by a guarded rollout",
            REQUEST_HOST,
            shift(plugin_configs.REALISTIC_ROLLOUT),
            _cluster_header(),
        ),
        Variant(
            "shift-gateway",
            "traffic-shift, shift as an HTTPRoute (precedence order)",
            REQUEST_HOST,
            shift(plugin_configs.REALISTIC_GATEWAY),
            _cluster_header(),
        ),
        Variant(
            "module",
            "native module: cluster specifier, 4 entries + hosts",
            REQUEST_HOST,
            (),
            envoylab.cluster_specifier_action(plugin_configs.REALISTIC),
        ),
        Variant(
            "module-filter",
            "native module: HTTP filter, 4 entries + hosts",
            REQUEST_HOST,
            (envoylab.dynamic_module_filter(plugin_configs.REALISTIC),),
            _cluster_header(),
        ),
        Variant(
            "module-rollout",
            "native module: HTTP filter, as module-filter, split by a guarded rollout",
            REQUEST_HOST,
            (envoylab.dynamic_module_filter(plugin_configs.REALISTIC_ROLLOUT),),
            _cluster_header(),
        ),
        Variant(
            "shift-1",
            "traffic-shift, 1 authority entry",
            envoylab.configs.authority(0),
            shift(envoylab.configs.authority_entries(1)),
            _cluster_header(),
        ),
        Variant(
            "shift-1000",
            "traffic-shift, 1,000 entries, last hit",
            envoylab.configs.authority(999),
            shift(envoylab.configs.authority_entries(1000)),
            _cluster_header(),
        ),
    ]
    if cost_model:
        listeners += [
            Variant(name, what, REQUEST_HOST, shift(config), _cluster_header())
            for name, (what, config) in plugin_configs.COST_MODEL.items()
        ]
    if compare_module:
        listeners.append(
            Variant(
                "shift-cmp",
                "BENCH_COMPARE_MODULE, 4 entries + hosts",
                REQUEST_HOST,
                shift(plugin_configs.REALISTIC, compare_module),
                _cluster_header(),
            )
        )
    if compare_native:
        listeners += [
            Variant(
                "module-cmp",
                "BENCH_COMPARE_NATIVE: cluster specifier, 4 entries + hosts",
                REQUEST_HOST,
                (),
                envoylab.cluster_specifier_action(plugin_configs.REALISTIC, COMPARE_NATIVE_NAME),
            ),
            Variant(
                "module-filter-cmp",
                "BENCH_COMPARE_NATIVE: HTTP filter, 4 entries + hosts",
                REQUEST_HOST,
                (envoylab.dynamic_module_filter(plugin_configs.REALISTIC, module_name=COMPARE_NATIVE_NAME),),
                _cluster_header(),
            ),
        ]
    return listeners


def _listener(variant: Variant, port: int) -> dict:
    virtual_host = {
        "name": variant.name,
        "domains": ["*"],
        "routes": [{"match": {"prefix": "/"}, "route": variant.route}],
    }
    return envoylab.http_listener(variant.name, port, virtual_host, list(variant.filters))


def measured_bootstrap(variant_list: list, upstream_ports: dict) -> dict:
    """Front listeners for the given variants; upstream_ports is {version: port} of the upstream Envoy."""
    clusters = {V1: "v1", V2: "v2", V3: "v3", **plugin_configs.GATEWAY_CLUSTERS}
    return {
        "admin": {"address": envoylab.local_address(free_port())},
        "static_resources": {
            "listeners": [_listener(v, free_port()) for v in variant_list],
            "clusters": [envoylab.static_cluster(name, upstream_ports[version]) for name, version in clusters.items()],
        },
    }


def upstream_bootstrap() -> dict:
    """envoylab's upstream listeners (fixed reviews body, x-version, echo of the cluster header)."""
    return envoylab.render_bootstrap(None, versions=UPSTREAM_VERSIONS)


def upstream_ports(upstream: "envoylab.Envoy") -> dict:
    return {v: upstream.ports["upstream-" + v] for v in UPSTREAM_VERSIONS}
