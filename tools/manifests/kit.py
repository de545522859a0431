"""What the deployment kit is about: where its files live, the Bookinfo facts the manifests share, and the
plugin configuration stages (filter-config/plugin/*.json, the only hand-written copy of each configuration).
"""

import dataclasses
import json
import os

from tools import REPO

KIT = os.path.join(REPO, "filter-config")
PLUGIN_DIR = os.path.join(KIT, "plugin")
GENERATED_DIRS = ("istio", "envoy", "gateway-api")  # every file below these is written by generate.py

# Istio's Traffic Shifting task, in order; cluster_header mode (the filter's defaults).
MIGRATION = ("reviews-all-v1", "reviews-50-v3", "reviews-v3")
TAG_STAGE = "reviews-50-v3-tag"  # tag mode example: the same split, routed by a VirtualService
ROLLOUT_STAGE = "reviews-rollout"  # v1 -> v3 ramped by the filter itself, guarded
COHORT_STAGE = "release-cohort"  # reviews and ratings canaries in one sticky.cohort: the same users on both
STANDALONE_STAGE = "reviews-50-v3"  # the stage the standalone envoy.yaml carries
# The same task in the Gateway API shape (an HTTPRoute's rules), named after Istio's Gateway API samples.
GATEWAY_MIGRATION = ("route-reviews-v1", "route-reviews-50-v3", "route-reviews-v3")

# Bookinfo as Istio's samples deploy it. Change these (and the JSON hosts) for another namespace.
NAMESPACE = "default"
CLIENT_LABELS = {"app": "productpage"}  # the caller of reviews: its sidecar runs the filter
SUBSETS = ("v1", "v2", "v3")  # DestinationRule subsets, selected by the pods' `version` label
FALLBACK_SUBSET = "v1"  # tag mode: where a request without the tag header goes

FILTER_NAME = "traffic-shift"  # Envoy filter name and root_id (WasmPlugin pluginName)
PLUGIN_RESOURCE = "reviews-traffic-shift"  # one WasmPlugin name for every stage: apply replaces in place
PLACEHOLDER_IMAGE = "registry.example.com/traffic-shift:0.1.0"
POD_MODULE_DIR = "/var/local/lib/wasm-filters"  # where the direct EnvoyFilter expects the module in the pod
LOCAL_MODULE = "target/wasm32-wasip1/release/traffic_shift.wasm"  # standalone envoy.yaml, from the repo root

DEFAULT_CLUSTER_HEADER = "x-traffic-shift-cluster"
DEFAULT_CLUSTER_NAME = "outbound|{port}|{subset}|{fqdn}"  # src/template.rs DEFAULT_TEMPLATE

# Istio ambient mode: the filter runs in a waypoint in tag mode, and an HTTPRoute attached to the Service routes on
# the tag (tools/manifests/ambient_yaml.py). The task's stages and the rollout get an ambient variant each.
AMBIENT_STAGES = MIGRATION + (ROLLOUT_STAGE,)
WAYPOINT = "waypoint"  # the Gateway `istioctl waypoint apply` creates; the enrolled Service names it
TAG_HEADER = "x-traffic-shift-subset"
TAG_MODE_KEYS = {"clusterHeader": TAG_HEADER, "clusterName": "{subset}"}


@dataclasses.dataclass
class Stage:
    name: str  # file name without .json
    path: str
    config: dict  # the parsed JSON, key order kept

    @property
    def relpath(self) -> str:
        return os.path.relpath(self.path, REPO)

    @property
    def cluster_header(self) -> str:
        return self.config.get("clusterHeader", DEFAULT_CLUSTER_HEADER)

    @property
    def http_route(self) -> bool:
        """The Gateway API shape: `rules` (backendRefs to one Service per version) instead of `http`."""
        return "rules" in self.config

    @property
    def namespace(self) -> str:
        return self.config.get("namespace", NAMESPACE)

    def backend_refs(self) -> list:
        return [ref for rule in self.config.get("rules", []) for ref in rule.get("backendRefs", [])]

    @property
    def tag_mode(self) -> bool:
        return self.config.get("clusterName", DEFAULT_CLUSTER_NAME) == "{subset}"

    def destinations(self) -> list:
        return [route["destination"] for entry in self.config.get("http", []) for route in entry.get("route", [])]

    def service(self) -> tuple:
        """(FQDN host, port) every destination of this stage shares; for the Gateway API shape, the Service
        the route attaches to (its parentRef: the filter ignores it, the kit places the filter by it)."""
        if self.http_route:
            found = {
                ("%s.%s.svc.cluster.local" % (p["name"], p.get("namespace", self.namespace)), p["port"])
                for p in self.config["parentRefs"]
            }
        else:
            found = {(d["host"], d["port"]["number"]) for d in self.destinations()}
        if len(found) != 1:
            raise ValueError("%s: expected one destination service, found %s" % (self.relpath, sorted(found)))
        return found.pop()

    def split(self) -> str:
        """'50% v1, 50% v3' for the first entry, the one a plain request takes ('50% reviews-v1, ...' for
        the Gateway API shape, whose weights default to 1); a rollout names both ends."""
        if self.http_route:
            refs = self.config["rules"][0]["backendRefs"]
            total = sum(ref.get("weight", 1) for ref in refs)
            return ", ".join("%g%% %s" % (ref.get("weight", 1) * 100.0 / total, ref["name"]) for ref in refs)
        entry = self.config["http"][0]
        routes = entry["route"]
        weights = [route.get("weight", 100 if len(routes) == 1 else 0) for route in routes]
        if "rollout" in entry:
            return "%s ramped to %s from %s" % (
                _shares(entry["rollout"]["from"], routes),
                _shares(weights, routes),
                entry["rollout"]["start"],
            )
        return _shares(weights, routes)


def ambient_config(stage: Stage) -> dict:
    """The plugin configuration a stage runs with in a waypoint: its JSON in tag mode, without `hosts`.
    The WasmPlugin targets the Service, so the filter runs only in that Service's chain of the waypoint,
    whatever name the caller used for it (reviews, reviews.default, the FQDN or the ClusterIP); `hosts`
    would only leave callers that use another name untagged, hence on the fallback version."""
    if stage.http_route or stage.tag_mode:
        raise ValueError("%s: ambient variants are made from the cluster_header stages" % stage.relpath)
    config = dict(TAG_MODE_KEYS)
    config.update((key, value) for key, value in stage.config.items() if key != "hosts")
    return config


def _shares(weights: list, routes: list) -> str:
    total = sum(weights)
    return ", ".join(
        "%g%% %s" % (weight * 100.0 / total, route["destination"]["subset"]) for weight, route in zip(weights, routes)
    )


def load_stage(name: str) -> Stage:
    path = os.path.join(PLUGIN_DIR, name + ".json")
    with open(path) as f:
        return Stage(name, path, json.load(f))


def short_host(fqdn: str) -> str:
    return fqdn.split(".", 1)[0]
