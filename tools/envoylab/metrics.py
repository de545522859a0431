"""The filter's metrics as Envoy exports them, from filter-config/metrics.json (kept equal to src/stat_name.rs
by its tests): the tag regexes every Envoy config carries, Istio's proxy config, and readers of
/stats/prometheus and /stats for tests and the demo.

The filter embeds its labels in the stat name (`traffic_shift.entry=.=reviews;.;…;.;requests_total`); the
regexes below, the very ones Istio generates for `extraStatTags`, cut them out again as tags, and Envoy's
`wasmcustom.` namespace is dropped from Prometheus names: `traffic_shift_requests_total{entry="reviews",…}`.
"""

import collections
import json
import os
import re
import urllib.parse

from prometheus_client.parser import text_string_to_metric_families

from tools import REPO

METRICS_JSON = os.path.join(REPO, "filter-config", "metrics.json")

with open(METRICS_JSON) as _f:
    NAMES = json.load(_f)

WASM_NAMESPACE = NAMES["wasmNamespace"]  # Envoy's prefix for proxy-wasm stats
# Envoy's prefix for a dynamic module's stats (the native build); dropped from Prometheus names only with
# NATIVE_RUNTIME, which every lab bootstrap carries, so both builds export the same series.
NATIVE_NAMESPACE = "dynamicmodulescustom."
NATIVE_RUNTIME = {
    "layers": [
        {
            "name": "static",
            "static_layer": {"envoy.reloadable_features.dynamic_modules_strip_custom_stat_prefix": True},
        },
        {"name": "admin", "admin_layer": {}},  # as Envoy's default runtime has
    ]
}
STAT_PREFIX = NAMES["statPrefix"]  # every stat the filter defines starts with this
TAGS = tuple(NAMES["tags"])
METRICS = dict(NAMES["metrics"])  # {Prometheus name: {"stat", "type", "labels", "help"}}
REQUESTS = "traffic_shift_requests_total"
UNMATCHED = "traffic_shift_unmatched_requests_total"
if not {REQUESTS, UNMATCHED} <= set(METRICS):
    raise ValueError("%s lacks %s or %s" % (METRICS_JSON, REQUESTS, UNMATCHED))


def tag_regex(tag: str) -> str:
    """The regex Istio's bootstrap generates for an `extraStatTags` entry: cut `<tag>=.=<value>;.;`."""
    return r"(%s=\.=(.*?);\.;)" % tag


def stats_tags() -> list:
    """Envoy `stats_config.stats_tags`, one per tag."""
    return [{"tag_name": tag, "regex": tag_regex(tag)} for tag in TAGS]


def stats_config() -> dict:
    """The bootstrap's `stats_config`: Envoy's default tags stay, ours are added."""
    return {"stats_tags": stats_tags()}


def inclusion_prefix() -> str:
    """What Istio's proxyStatsMatcher must keep: Istio drops every stat it is not told to keep."""
    return WASM_NAMESPACE + STAT_PREFIX


def istio_proxy_config() -> dict:
    """The ProxyConfig fields a mesh needs (mesh-wide defaultConfig or a pod's proxy.istio.io/config)."""
    return {"extraStatTags": list(TAGS), "proxyStatsMatcher": {"inclusionPrefixes": [inclusion_prefix()]}}


# -- reading what Envoy exports -----------------------------------------------------------------------------------

Sample = collections.namedtuple("Sample", "name labels value")


def parse_prometheus(text: str) -> list:
    """Prometheus exposition text -> [Sample(name, {label: value}, value)], counters named as exported."""
    samples = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.append(Sample(sample.name, dict(sample.labels), sample.value))
    return samples


def prometheus(envoy) -> list:
    """The filter's samples from the admin /stats/prometheus of an envoylab.Envoy (or anything with admin())."""
    namespaces = "|".join(re.escape(n) for n in (WASM_NAMESPACE, NATIVE_NAMESPACE))
    query = urllib.parse.urlencode({"filter": "^(%s)%s" % (namespaces, re.escape(STAT_PREFIX))})
    return [s for s in parse_prometheus(envoy.admin("/stats/prometheus?" + query)) if s.name in METRICS]


def summed(envoy, metric: str, by=("entry", "destination")) -> collections.Counter:
    """`metric` (its Prometheus name) summed by the given labels: Counter({(entry, destination): n})."""
    totals = collections.Counter()
    for sample in prometheus(envoy):
        if sample.name == metric:
            totals[tuple(sample.labels[label] for label in by)] += int(sample.value)
    return totals


def requests(envoy, by=("entry", "destination")) -> collections.Counter:
    """traffic_shift_requests_total summed by the given labels: Counter({(entry, destination): n})."""
    return summed(envoy, REQUESTS, by)


def unmatched(envoy) -> int:
    return sum(int(s.value) for s in prometheus(envoy) if s.name == UNMATCHED)


def tags_of(stat: str) -> tuple:
    """(tag-extracted name, {tag: value}) of a plain /stats name, cut as Envoy's regexes cut it."""
    tags = {}
    rest = stat
    for tag in TAGS:
        match = re.search(tag_regex(tag), stat)
        if match:
            tags[tag] = match.group(2)
            rest = rest.replace(match.group(1), "", 1)
    return rest, tags
