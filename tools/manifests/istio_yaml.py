"""The Istio manifests of the deployment kit, rendered from the plugin configuration stages.

Layout under filter-config/istio/:
  destination-rule-reviews.yaml          subsets v1/v2/v3 (both modes need them)
  cluster-header/wasmplugin-<stage>.yaml the filter per stage, default cluster_header mode
  cluster-header/route-patch.yaml        EnvoyFilter: the reviews route takes its cluster from the header
  tag/wasmplugin-<stage>.yaml            the filter in tag mode
  tag/virtual-service-reviews.yaml       header-matched routes to each subset, v1 without the header
  gateway-api/wasmplugin-<stage>.yaml    the filter per Gateway API stage (rules shape), cluster_header mode
  envoyfilter-direct/<stage>.yaml        EnvoyFilter inserting the filter itself, for meshes without WasmPlugin
"""

from tools.manifests import kit, wasmplugin_yaml
from tools.manifests.render import fill, header, json_literal, yaml_block

WASMPLUGIN = wasmplugin_yaml.template(
    preamble="""\
$header#
# Stage "$split" for reviews, $mode_line
# Runs in the sidecar of the caller (productpage): the filter picks the destination, Envoy routes to it.
$companions""",
    name_note="""\
  # One name for every stage and both modes: applying another stage replaces this resource in place, so
  # exactly one traffic-shift plugin is ever active on the selected workloads.""",
    attach="""\
  # Sidecars are chosen by label (targetRefs is for gateways and waypoints). The same workloads as the
  # companion resources select, never more: elsewhere reviews would get no header.
  selector:
    matchLabels:
$labels""",
    phase_note="""\
  # AUTHN, the earliest phase. Istio inserts AUTHN plugins right after metadata_exchange, ahead of cors,
  # jwt_authn, rbac, fault and stateful_session. The filter decides where the request goes (Envoy's Wasm
  # host clears the route cache when it edits request headers, so the router matches again); going first
  # means no other filter has already acted on the route chosen before the header was set. AUTHZ comes
  # after cors and jwt_authn, STATS after rbac and fault, and UNSPECIFIED_PHASE last, when fault injection
  # has read the old route (in tag mode v1 and v3 are different routes, which may differ in faults).
  # A sidecar's outbound side has no Istio authentication to get ahead of, so AUTHN costs nothing.""",
    fail_strategy="""\
  # FAIL_RELOAD (docs/failure-policy.md). If a worker's VM crashes, Envoy creates a new one after a short
  # backoff and routing resumes with the same configuration. FAIL_OPEN would skip the filter: nothing would
  # strip a client's own cluster header, so clients could pick their upstream, and reviews without the
  # header: $no_header. FAIL_CLOSE gives the worker up for good. A failed image pull is treated like
  # FAIL_CLOSE (the chain's requests are refused until the pull succeeds): loud, never a silent misroute.
  failStrategy: FAIL_RELOAD""",
    before_config="""\
  # CLIENT is the sidecar's outbound side; 9080 is the reviews service port, so the filter sits only on
  # the listener that carries calls to reviews (other services on 9080 pass: "hosts" leaves them alone).
  match:
  - mode: CLIENT
    ports:
    - number: $port
  # The plugin configuration: a copy of $source.""",
)

CLUSTER_HEADER_MODE = "default cluster_header mode."
CLUSTER_HEADER_COMPANIONS = """\
# Apply ../destination-rule-reviews.yaml first (the subsets, hence the clusters named below), then this,
# then route-patch.yaml once the plugin runs (filter-config/README.md gives the order and the rollback)."""
CLUSTER_HEADER_NO_HEADER = """the patched route names no cluster
  # and answers 503 (loud, and limited to reviews)."""

GATEWAY_MODE = """the Gateway API shape (the plugin configuration is an
# HTTPRoute's spec; its backendRefs are the per-version Services), default cluster_header mode."""
GATEWAY_COMPANIONS = """\
# Apply ../../gateway-api/reviews-versions.yaml first (one Service per version, hence the clusters named
# below), then this, then ../cluster-header/route-patch.yaml once the plugin runs (filter-config/README.md,
# "The task with Gateway API", gives the order and the rollback)."""

TAG_MODE = "tag mode (the filter writes the subset name;\n# tag/virtual-service-reviews.yaml routes on it)."
TAG_COMPANIONS = """\
# Apply ../destination-rule-reviews.yaml and virtual-service-reviews.yaml first (filter-config/README.md)."""
TAG_NO_HEADER = """the VirtualService's last route sends it to
  # $fallback, the stable version."""

ROUTE_PATCH = """\
$header#
# cluster_header mode: the route for reviews takes its cluster from the header the traffic-shift filter
# sets ($cluster_header), instead of Istio's fixed outbound|$port||$host.
# Apply it AFTER the WasmPlugin runs on productpage, and delete it FIRST when rolling back: a route reading
# a header that nobody sets answers 503.
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: reviews-route-cluster-header
  namespace: $namespace
spec:
  # Exactly the workloads the WasmPlugin selects.
  workloadSelector:
    labels:
$labels
  configPatches:
  - applyTo: HTTP_ROUTE
    match:
      # Outbound calls made by the selected sidecars.
      context: SIDECAR_OUTBOUND
      routeConfiguration:
        # Istio names outbound HTTP route configurations by port and their virtual hosts host:port.
        portNumber: $port
        vhost:
          name: $host:$port
          route:
            # Istio's name for the route of a service without a VirtualService. Delete any VirtualService
            # for reviews first (such as the task's virtual-service-all-v1.yaml): with one in place this
            # patch matches nothing and that VirtualService keeps routing.
            name: default
    patch:
      # MERGE keeps Istio's retry policy and timeouts; cluster_header replaces cluster (they are one oneof).
      operation: MERGE
      value:
        route:
          cluster_header: $cluster_header
"""

VIRTUAL_SERVICE = """\
$header#
# tag mode: the traffic-shift filter (configured by $source)
# writes the chosen subset into $tag_header, and these routes send each tag to its subset.
# A request without the header (filter not installed, failed open, or a caller without the filter) takes
# the last route: $fallback. Only where the filter does not run can a caller pick a subset by setting the
# header itself (the filter replaces a client's value).
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  # Bookinfo's name for it: replaces the task's virtual-service-*.yaml for reviews.
  name: $service
  namespace: $namespace
spec:
  hosts:
  - $service
  http:
$routes
  - name: untagged
    route:
    - destination:
        host: $service
        subset: $fallback
"""

TAG_ROUTE = """\
  - name: tag-$subset
    match:
    - headers:
        $tag_header:
          exact: $subset
    route:
    - destination:
        host: $service
        subset: $subset"""

DESTINATION_RULE = """\
$header#
# The subsets the filter's destinations name. Istio builds one cluster per subset
# (outbound|$port|v1|$host and so on):
# the names the filter renders in cluster_header mode, and the subsets the tag-mode VirtualService
# routes to. The same subsets as Bookinfo's destination-rule-all.yaml has for reviews, under the same
# name, so either file may be applied.
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: $service
  namespace: $namespace
spec:
  host: $service
  subsets:
$subsets
"""

DIRECT_ENVOYFILTER = """\
$header#
# Stage "$split" for reviews without WasmPlugin: this EnvoyFilter inserts the filter into productpage's
# outbound HTTP filter chain itself (for an Istio without WasmPlugin, or a mesh that pulls no images).
# Pair it with ../cluster-header/route-patch.yaml and ../destination-rule-reviews.yaml, never with the
# WasmPlugin (the filter would run twice). The module must be in the istio-proxy container at
# $pod_module, e.g. a ConfigMap mounted through the sidecar.istio.io/userVolume
# and userVolumeMount annotations (filter-config/README.md).
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  # One name for every stage: applying another stage replaces the filter's configuration in place.
  name: reviews-traffic-shift-filter
  namespace: $namespace
spec:
  # Exactly the workloads route-patch.yaml selects.
  workloadSelector:
    labels:
$labels
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_OUTBOUND
      listener:
        # The outbound listener for the reviews port: its HTTP connection manager, at the router.
        portNumber: $port
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter:
              name: envoy.filters.http.router
    patch:
      # Right before the router. In cluster_header mode the matched route is the same before and after
      # the header is set (only its cluster changes), so filters ahead of this one are unaffected.
      operation: INSERT_BEFORE
      value:
        name: $filter
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
          config:
            name: $filter
            root_id: $filter
            # As the WasmPlugin's failStrategy (see cluster-header/ and docs/failure-policy.md).
            failure_policy: FAIL_RELOAD
            vm_config:
              runtime: envoy.wasm.runtime.v8
              code:
                local:
                  filename: $pod_module
            # The plugin configuration: a copy of $source.
            configuration:
              "@type": type.googleapis.com/google.protobuf.StringValue
              value: |
$plugin_json
"""


def _labels(indent: int) -> str:
    return yaml_block(kit.CLIENT_LABELS, indent)


def wasmplugin(stage: kit.Stage, image: str, sha256) -> str:
    host, port = stage.service()
    if stage.tag_mode:
        mode, companions, no_header = TAG_MODE, TAG_COMPANIONS, fill(TAG_NO_HEADER, fallback=kit.FALLBACK_SUBSET)
    elif stage.http_route:
        mode, companions, no_header = GATEWAY_MODE, GATEWAY_COMPANIONS, CLUSTER_HEADER_NO_HEADER
    else:
        mode, companions, no_header = CLUSTER_HEADER_MODE, CLUSTER_HEADER_COMPANIONS, CLUSTER_HEADER_NO_HEADER
    return fill(
        WASMPLUGIN,
        header=header(stage.relpath),
        split=stage.split(),
        mode_line=mode,
        companions=companions,
        resource=kit.PLUGIN_RESOURCE,
        namespace=kit.NAMESPACE,
        labels=_labels(6),
        **wasmplugin_yaml.image_fields(image, sha256),
        filter=kit.FILTER_NAME,
        no_header=no_header,
        port=port,
        source=stage.relpath,
        plugin_config=yaml_block(stage.config, 4),
    )


def route_patch(stages: list) -> str:
    ((host, port),) = {stage.service() for stage in stages}
    (header_name,) = {stage.cluster_header for stage in stages}
    return fill(
        ROUTE_PATCH,
        header=header(*[s.relpath for s in stages]),
        cluster_header=header_name,
        port=port,
        host=host,
        namespace=kit.NAMESPACE,
        labels=_labels(6),
    )


def virtual_service(stage: kit.Stage) -> str:
    host, _ = stage.service()
    service = kit.short_host(host)
    routes = "\n".join(
        fill(TAG_ROUTE, subset=subset, tag_header=stage.cluster_header, service=service) for subset in kit.SUBSETS
    )
    return fill(
        VIRTUAL_SERVICE,
        header=header(stage.relpath),
        source=stage.relpath,
        tag_header=stage.cluster_header,
        fallback=kit.FALLBACK_SUBSET,
        service=service,
        namespace=kit.NAMESPACE,
        routes=routes,
    )


def destination_rule(stages: list) -> str:
    ((host, port),) = {stage.service() for stage in stages}
    subsets = yaml_block([{"name": s, "labels": {"version": s}} for s in kit.SUBSETS], 2)
    return fill(
        DESTINATION_RULE,
        header=header(*[s.relpath for s in stages]),
        port=port,
        host=host,
        service=kit.short_host(host),
        namespace=kit.NAMESPACE,
        subsets=subsets,
    )


def direct_envoyfilter(stage: kit.Stage) -> str:
    _, port = stage.service()
    return fill(
        DIRECT_ENVOYFILTER,
        header=header(stage.relpath),
        split=stage.split(),
        namespace=kit.NAMESPACE,
        labels=_labels(6),
        port=port,
        filter=kit.FILTER_NAME,
        source=stage.relpath,
        pod_module=kit.POD_MODULE_DIR + "/traffic_shift.wasm",
        plugin_json=json_literal(stage.config, 16),
    )


def render(image: str = kit.PLACEHOLDER_IMAGE, sha256=None) -> dict:
    """{path relative to filter-config/: text} for every Istio manifest."""
    migration = [kit.load_stage(name) for name in kit.MIGRATION]
    gateway = [kit.load_stage(name) for name in kit.GATEWAY_MIGRATION]
    tag = kit.load_stage(kit.TAG_STAGE)
    for stage in migration:
        if stage.tag_mode:
            raise ValueError("%s: the migration stages use cluster_header mode" % stage.relpath)
    if not tag.tag_mode:
        raise ValueError('%s: tag mode needs "clusterName": "{subset}"' % tag.relpath)
    files = {
        "istio/destination-rule-reviews.yaml": destination_rule(migration + [tag]),
        # One route patch for both shapes: both name the Service reviews (a parentRef, for rules).
        "istio/cluster-header/route-patch.yaml": route_patch(migration + gateway),
        "istio/tag/virtual-service-reviews.yaml": virtual_service(tag),
        "istio/tag/wasmplugin-%s.yaml" % tag.name: wasmplugin(tag, image, sha256),
    }
    rollout = kit.load_stage(kit.ROLLOUT_STAGE)
    files["istio/cluster-header/wasmplugin-%s.yaml" % rollout.name] = wasmplugin(rollout, image, sha256)
    for stage in migration:
        files["istio/cluster-header/wasmplugin-%s.yaml" % stage.name] = wasmplugin(stage, image, sha256)
        files["istio/envoyfilter-direct/%s.yaml" % stage.name] = direct_envoyfilter(stage)
    for stage in gateway:
        files["istio/gateway-api/wasmplugin-%s.yaml" % stage.name] = wasmplugin(stage, image, sha256)
    return files
