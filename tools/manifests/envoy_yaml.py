"""filter-config/envoy/envoy.yaml: a standalone Envoy (no Istio) running the filter, opted in per route."""

from tools import envoylab
from tools.manifests import kit
from tools.manifests.render import fill, header, json_literal, yaml_block

UPSTREAM_BASE_PORT = 9081  # v1, v2, v3 then details on the following ports, all on 127.0.0.1

ENVOY = """\
$header#
# A standalone Envoy with the traffic-shift filter and no Istio. reviews' three versions and details are
# local listeners answering with their name, behind clusters named as Istio names them, so the same plugin
# configuration works here and in a mesh. Run it from the repository root (the module path below is
# relative to it) after `make build`:
#   envoy -c filter-config/envoy/envoy.yaml
#   curl -s -H 'host: reviews:$port' 127.0.0.1:10000/    # $split
#   curl -s -H 'host: details:$port' 127.0.0.1:10000/    # details: the filter does not run on that route
# From elsewhere, replace $local_module with the module's absolute path.
admin:
  address:
    socket_address:
      address: 127.0.0.1
      port_value: 9901
# The filter's labels: each regex (the one Istio generates for an extraStatTags entry) cuts one label out of
# the filter's stat names, so curl -s 127.0.0.1:9901/stats/prometheus | grep ^traffic_shift shows
# traffic_shift_requests_total{entry=...,destination=...,host=...,subset=...} ($metrics_source).
stats_config:
  stats_tags:
$stats_tags
static_resources:
  listeners:
  - name: outbound
    address:
      socket_address:
        address: 127.0.0.1
        port_value: 10000
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: outbound
          route_config:
            name: outbound
            virtual_hosts:
            - name: $service
              domains: ["$service", "$service:$port"]
              routes:
              - match:
                  prefix: /
                route:
                  # The cluster named in the header the filter sets (cluster_header mode).
                  cluster_header: $cluster_header
                # Opt-in: the filter is disabled in the chain below and enabled on this route only;
                # an empty config keeps the listener-level configuration.
                typed_per_filter_config:
                  $filter:
                    "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig
                    config: {}
            - name: details
              domains: ["details", "details:$port"]
              routes:
              - match:
                  prefix: /
                route:
                  cluster: outbound|$port||details.$namespace.svc.cluster.local
          http_filters:
          - name: $filter
            # Off on every route that does not enable it (see typed_per_filter_config above).
            disabled: true
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: $filter
                root_id: $filter
                # A crashed VM is replaced after a short backoff (docs/failure-policy.md).
                failure_policy: FAIL_RELOAD
                vm_config:
                  runtime: envoy.wasm.runtime.v8
                  code:
                    local:
                      filename: $local_module
                # The plugin configuration: a copy of $source.
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: |
$plugin_json
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  # The upstream "pods": one listener per version, answering with its name.
$upstream_listeners
  clusters:
$clusters
"""

UPSTREAM_LISTENER = """\
  - name: $name
    address:
      socket_address:
        address: 127.0.0.1
        port_value: $listen_port
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $name
          route_config:
            virtual_hosts:
            - name: $name
              domains: ["*"]
              routes:
              - match:
                  prefix: /
                direct_response:
                  status: 200
                  body:
                    inline_string: "$name\\n"
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"""

CLUSTER = """\
  - name: $cluster
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: $cluster
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address:
                address: 127.0.0.1
                port_value: $listen_port"""


def render() -> dict:
    """{path relative to filter-config/: text}."""
    stage = kit.load_stage(kit.STANDALONE_STAGE)
    host, port = stage.service()
    service = kit.short_host(host)
    upstreams = [("%s-%s" % (service, subset), "outbound|%d|%s|%s" % (port, subset, host)) for subset in kit.SUBSETS]
    upstreams.append(("details", "outbound|%d||details.%s.svc.cluster.local" % (port, kit.NAMESPACE)))
    listeners, clusters = [], []
    for offset, (name, cluster) in enumerate(upstreams):
        listen_port = UPSTREAM_BASE_PORT + offset
        listeners.append(fill(UPSTREAM_LISTENER, name=name, listen_port=listen_port))
        clusters.append(fill(CLUSTER, cluster=cluster, listen_port=listen_port))
    text = fill(
        ENVOY,
        header=header(stage.relpath),
        port=port,
        split=stage.split(),
        service=service,
        cluster_header=stage.cluster_header,
        filter=kit.FILTER_NAME,
        namespace=kit.NAMESPACE,
        local_module=kit.LOCAL_MODULE,
        source=stage.relpath,
        plugin_json=json_literal(stage.config, 20),
        upstream_listeners="\n".join(listeners),
        clusters="\n".join(clusters),
        stats_tags=yaml_block(envoylab.metrics.stats_tags(), 2),
        metrics_source="filter-config/metrics.json",
    )
    return {"envoy/envoy.yaml": text}
