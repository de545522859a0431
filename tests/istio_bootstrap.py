"""What Istio's sidecar bootstrap does with stats (tools/packaging/common/envoy_bootstrap.json in istio/istio),
as data for the tests: its own tag regexes with Envoy's defaults off, one regex per extraStatTags entry, and a
stats matcher that keeps only the prefixes it lists."""

from tools import envoylab as lab

# The bootstrap's own tags (as of Istio 1.2x; mongo, listener and authz ones left out: they cannot match ours).
BOOTSTRAP_TAGS = [
    ("cluster_name", r"^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)"),
    ("tcp_prefix", r"^tcp\.((.*?)\.)\w+?$"),
    ("response_code", r"_rq(_(\d{3}))$"),
    ("response_code_class", r"_rq(_(\dxx))$"),
    ("http_conn_manager_prefix", r"^http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)"),
    ("cache", r"(cache\.(.+?)\.)"),
    ("component", r"(component\.(.+?)\.)"),
    ("tag", r"(tag\.(.+?);\.)"),
    ("wasm_filter", r"(wasm_filter\.(.+?)\.)"),
]
OTHER_BOOTSTRAP_TAG_NAMES = {
    "http_conn_manager_listener_prefix",
    "listener_address",
    "mongo_prefix",
    "authz_enforce_result",
    "authz_dry_run_action",
    "authz_dry_run_result",
}
# The telemetry tags Istio added to every sidecar's extraStatTags up to 1.16 (pkg/bootstrap DefaultStatTags).
DEFAULT_STAT_TAGS = {
    "reporter",
    "source_namespace",
    "source_workload",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_cluster",
    "destination_namespace",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_port",
    "destination_cluster",
    "request_protocol",
    "request_operation",
    "request_host",
    "response_flags",
    "grpc_response_status",
    "connection_security_policy",
    "permissive_response_code",
    "permissive_response_policyid",
    "source_canonical_service",
    "destination_canonical_service",
    "source_canonical_revision",
    "destination_canonical_revision",
}
TAG_NAMES = {name for name, _ in BOOTSTRAP_TAGS} | OTHER_BOOTSTRAP_TAG_NAMES | DEFAULT_STAT_TAGS
# The stats matcher's own prefixes (pkg/bootstrap: v2 prefixes and requiredEnvoyStatsMatcherInclusionPrefixes).
# Recent Istio also keeps "wasm", which covers every Wasm stat; older releases did not, and it is left out here
# so that the test shows the prefix we ship keeps our stats by itself.
ALWAYS_KEPT = ["reporter=", "cluster_manager", "listener_manager", "server", "cluster.xds-grpc", "component", "istio"]


def stats_config(proxy_config: dict) -> dict:
    """The bootstrap's stats_config for a sidecar with this ProxyConfig (extraStatTags, proxyStatsMatcher)."""
    tags = [{"tag_name": name, "regex": regex} for name, regex in BOOTSTRAP_TAGS]
    tags += [{"tag_name": tag, "regex": lab.metrics.tag_regex(tag)} for tag in proxy_config["extraStatTags"]]
    kept = ALWAYS_KEPT + proxy_config["proxyStatsMatcher"]["inclusionPrefixes"]
    return {
        "use_all_default_tags": False,
        "stats_tags": tags,
        "stats_matcher": {"inclusion_list": {"patterns": [{"prefix": p} for p in kept]}},
    }
