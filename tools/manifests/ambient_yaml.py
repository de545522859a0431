"""Istio ambient mode: the filter in a waypoint proxy, in tag mode, routed by an HTTPRoute attached to the Service.

A waypoint takes a WasmPlugin (and an EnvoyFilter, at alpha) only by `targetRefs`; a `selector` is ignored there.
So neither the selector-based WasmPlugins of istio/cluster-header/ and istio/tag/ nor the route patch (an
EnvoyFilter for productpage's sidecar) work in an ambient mesh. Tag mode needs no patch: the filter writes the
chosen version into a header and an ordinary HTTPRoute routes on it.

Layout under filter-config/istio/ambient/ (filter-config/README.md, "Ambient mode", gives the order):
  reviews-versions.yaml        one Service per version: the HTTPRoute's backends
  waypoint.yaml                the waypoint (Gateway of class istio-waypoint), as `istioctl waypoint apply` makes it
  reviews-use-waypoint.yaml    Bookinfo's Service reviews plus the label that enrols it in the waypoint
  wasmplugin-<stage>.yaml      the filter per stage (and the rollout), tag mode, targetRefs the Service reviews
  httproute-reviews-tags.yaml  the tag of each version to its Service; a request without a tag to v1

envoy_routes() turns that HTTPRoute into the Envoy routes a waypoint gets from it, for the end-to-end test.
"""

from tools.manifests import gateway_yaml, kit, wasmplugin_yaml
from tools.manifests.render import fill, header, yaml_block

AMBIENT = "istio/ambient/"
HTTP_ROUTE_FILE = AMBIENT + "httproute-reviews-tags.yaml"
VERSIONS_FILE = AMBIENT + "reviews-versions.yaml"
WAYPOINT_LABEL = "istio.io/use-waypoint"
SERVICE_GROUP = ""  # the core API group, as Gateway API and Istio spell it in a reference to a Service

VERSIONS = """\
$header#
# One Service per version of reviews, as Bookinfo's samples/bookinfo/platform/kube/bookinfo-versions.yaml
# defines them (either may be applied; ../../gateway-api/reviews-versions.yaml is the same). They are the
# backends of httproute-reviews-tags.yaml: the waypoint sends each tag to the pods of its version. They are
# not enrolled in the waypoint: a caller that names reviews-v3 itself reaches v3, as it would without the
# filter (an AuthorizationPolicy can forbid that).
$services
"""

WAYPOINT = """\
$header#
# The waypoint: the Envoy that serves layer 7 for the Services enrolled to it. The Gateway
# `istioctl waypoint apply -n $namespace` creates; if the namespace has it already, applying this changes
# nothing. Wait until it is programmed before enrolling reviews:
#   kubectl wait --for=condition=programmed gateway/$name -n $namespace
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: $name
  namespace: $namespace
  labels:
    # It serves traffic addressed to Services (Istio's default for a waypoint): the HTTPRoute and the
    # WasmPlugin both attach to the Service reviews.
    istio.io/waypoint-for: service
spec:
  gatewayClassName: istio-waypoint
  listeners:
  # Istio's waypoint listener: the ztunnels reach it over HBONE (HTTP/2 CONNECT inside mTLS) on 15008.
  - name: mesh
    port: 15008
    protocol: HBONE
"""

ENROLLED_SERVICE = """\
$header#
# Enrols reviews in the waypoint: from now on the ztunnels send every call for the Service reviews through
# it, where the filter and the HTTPRoute run. This is Bookinfo's own Service reviews
# (samples/bookinfo/platform/kube/bookinfo.yaml) plus the label $label; the same as
#   kubectl label service $service $label=$waypoint -n $namespace
# Removing the label (kubectl label service $service $label-) takes reviews out of the
# waypoint again.
apiVersion: v1
kind: Service
metadata:
  name: $service
  namespace: $namespace
  labels:
    app: $service
    service: $service
    $label: $waypoint
spec:
  ports:
  - port: $port
    name: http
  selector:
    app: $service
"""

HTTP_ROUTE = """\
$header#
# Tag mode in a waypoint: the traffic-shift filter (the WasmPlugins next to this file) writes the version
# it chose into the header $tag_header, replacing any value the client sent,
# and these rules send each tag to the Service of that version.
# A request without the tag takes the last rule: $fallback, the stable version. That is what
# callers get when the filter is not there, so apply this only once the filter runs in the waypoint, and
# replace it before deleting the filter (filter-config/README.md, "Ambient mode"): without the filter in
# front, a client that sends the header itself picks its version.
# Gateway API orders the rules itself: a rule matching a header goes before the rule matching none.
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  # Istio's sample name (samples/bookinfo/gateway-api/route-reviews-*.yaml): applying
  # ../../gateway-api/route-reviews-<stage>.yaml replaces this route in place, handing routing back to Istio.
  name: $service
  namespace: $namespace
spec:
  # Attached to the Service (GAMMA): the waypoint that serves reviews applies it to every call for reviews.
$spec
"""

WASMPLUGIN = wasmplugin_yaml.template(
    preamble="""\
$header#
# Stage "$split" for reviews in an ambient mesh:
# the filter runs in the waypoint that serves reviews, in tag mode, and httproute-reviews-tags.yaml routes
# each tag to its version. The plugin configuration is
# $source in tag mode, without "hosts".
# Apply reviews-versions.yaml, waypoint.yaml and reviews-use-waypoint.yaml first, then the first stage, then
# httproute-reviews-tags.yaml once the filter runs (filter-config/README.md, "Ambient mode").""",
    name_note="""\
  # One name for every stage (and the sidecar kit's): applying another stage replaces this resource in place,
  # so exactly one traffic-shift plugin is ever active.""",
    attach="""\
  # A waypoint takes only policies attached by targetRefs; it ignores a selector. Istio attaches a plugin that
  # targets a Service to that Service's chain in its waypoint only, and documents this as the way to extend a
  # waypoint for one service (docs/ambient/usage/extend-waypoint-wasm). Targeting the waypoint itself
  # (kind Gateway) would run the filter on the calls of every Service enrolled in it. A Service target must be
  # in the plugin's own namespace, like the waypoint here.
  targetRefs:
  - group: "$service_group"
    kind: Service
    name: $service""",
    phase_note="""\
  # AUTHN, the earliest phase: in a waypoint Istio builds each Service's chain as ext_authz (CUSTOM policies),
  # AUTHN plugins, authentication (jwt_authn), AUTHZ plugins, rbac, then fault and cors, then STATS and
  # UNSPECIFIED_PHASE plugins, stats, router. Every phase runs before the router, and Envoy's Wasm host clears
  # the route cache when the filter sets the tag, so the router always matches the tagged rule. But fault and
  # cors read the route's settings when they run: in STATS or UNSPECIFIED_PHASE they would already have used
  # the route chosen before the tag was set (the untagged rule, $fallback's). From AUTHN on, every filter sees
  # the tagged route.""",
    fail_strategy="""\
  # FAIL_CLOSE: the HTTPRoute honours whatever tag a request carries, so a filter that failed open (FAIL_OPEN)
  # would pass on a client's own $tag_header and let clients pick their version.
  # FAIL_CLOSE refuses the calls the filter cannot handle instead: a worker whose VM crashed answers 503
  # until the plugin is replaced, and a failed image pull refuses calls to reviews until the pull succeeds.
  # Loud, never a silent misroute. FAIL_RELOAD is as safe and replaces a crashed VM after a backoff
  # (docs/failure-policy.md), but only newer Istio releases accept it (Istio 1.23's schema does not).
  failStrategy: FAIL_CLOSE""",
    before_config="""\
  # No `match`: in a waypoint the plugin sits in the Service's own chain, which Istio builds as an inbound
  # (SERVER) chain, so the sidecar kit's `mode: CLIENT` would keep the plugin out of it.
  # The plugin configuration: $source in tag mode
  # ($tag_keys),
  # without "hosts": the filter runs only in reviews' chain of the waypoint, whatever name the caller used
  # for reviews, so every call gets a tag.""",
)


def _service(stages: list) -> tuple:
    ((host, port),) = {stage.service() for stage in stages}
    return kit.short_host(host), port


def version_service(version: str, service: str) -> str:
    return "%s-%s" % (service, version)


def http_route_spec(service: str, port: int) -> dict:
    """One rule per tag (the subset name) to that version's Service, then the untagged rule to the fallback."""

    def backend(version):
        return [{"name": version_service(version, service), "port": port}]

    rules = [
        {
            "matches": [{"headers": [{"type": "Exact", "name": kit.TAG_HEADER, "value": version}]}],
            "backendRefs": backend(version),
        }
        for version in kit.SUBSETS
    ]
    rules.append({"backendRefs": backend(kit.FALLBACK_SUBSET)})
    return {"parentRefs": [{"group": SERVICE_GROUP, "kind": "Service", "name": service, "port": port}], "rules": rules}


def wasmplugin(stage: kit.Stage, image: str, sha256) -> str:
    service, _ = _service([stage])
    return fill(
        WASMPLUGIN,
        header=header(stage.relpath),
        split=stage.split(),
        source=stage.relpath,
        resource=kit.PLUGIN_RESOURCE,
        namespace=kit.NAMESPACE,
        service=service,
        service_group=SERVICE_GROUP,
        **wasmplugin_yaml.image_fields(image, sha256),
        filter=kit.FILTER_NAME,
        fallback=kit.FALLBACK_SUBSET,
        tag_header=kit.TAG_HEADER,
        tag_keys=", ".join('"%s": "%s"' % item for item in kit.TAG_MODE_KEYS.items()),
        plugin_config=yaml_block(kit.ambient_config(stage), 4),
    )


def render(image: str = kit.PLACEHOLDER_IMAGE, sha256=None) -> dict:
    """{path relative to filter-config/: text} for every ambient manifest."""
    stages = [kit.load_stage(name) for name in kit.AMBIENT_STAGES]
    sources = [stage.relpath for stage in stages]
    service, port = _service(stages)
    versions = [
        fill(
            gateway_yaml.SERVICE,
            name=version_service(version, service),
            namespace=kit.NAMESPACE,
            app=service,
            version=version,
            port=port,
        )
        for version in kit.SUBSETS
    ]
    files = {
        VERSIONS_FILE: fill(VERSIONS, header=header(*sources), services="\n---\n".join(versions)),
        AMBIENT + "waypoint.yaml": fill(WAYPOINT, header=header(*sources), name=kit.WAYPOINT, namespace=kit.NAMESPACE),
        AMBIENT + "reviews-use-waypoint.yaml": fill(
            ENROLLED_SERVICE,
            header=header(*sources),
            service=service,
            namespace=kit.NAMESPACE,
            port=port,
            label=WAYPOINT_LABEL,
            waypoint=kit.WAYPOINT,
        ),
        HTTP_ROUTE_FILE: fill(
            HTTP_ROUTE,
            header=header(*sources),
            tag_header=kit.TAG_HEADER,
            fallback=kit.FALLBACK_SUBSET,
            service=service,
            namespace=kit.NAMESPACE,
            spec=yaml_block(http_route_spec(service, port), 2),
        ),
    }
    for stage in stages:
        files[AMBIENT + "wasmplugin-%s.yaml" % stage.name] = wasmplugin(stage, image, sha256)
    return files


# ---- The Envoy routes a waypoint gets from the HTTPRoute (for the end-to-end test) ---------------------------


def envoy_routes(route: dict, cluster_of) -> list:
    """Envoy routes for an HTTPRoute object, in the order Gateway API gives its rules: a match with more header
    matches first, then rule order (the precedence rules this route needs: one path, no methods, no query).
    cluster_of(backendRef) names the Envoy cluster of a backend. Names: <namespace>.<route>.<rule>.<match>.
    Only what this kit's route uses is translated; anything else is refused, never guessed."""
    meta = route["metadata"]
    found = []
    for rule_index, rule in enumerate(route["spec"]["rules"]):
        refs = rule["backendRefs"]
        if len(refs) == 1:
            action = {"cluster": cluster_of(refs[0])}
        else:
            action = {
                "weighted_clusters": {
                    "clusters": [{"name": cluster_of(ref), "weight": ref.get("weight", 1)} for ref in refs]
                }
            }
        for match_index, match in enumerate(rule.get("matches") or [{}]):
            unknown = set(match) - {"headers"}
            if unknown or any(h.get("type", "Exact") != "Exact" for h in match.get("headers", [])):
                raise ValueError("envoy_routes translates exact header matches only, not %r" % match)
            headers = [
                {"name": h["name"].lower(), "string_match": {"exact": h["value"]}} for h in match.get("headers", [])
            ]
            envoy_match = {"prefix": "/"}
            if headers:
                envoy_match["headers"] = headers
            name = "%s.%s.%d.%d" % (meta.get("namespace", kit.NAMESPACE), meta["name"], rule_index, match_index)
            found.append(
                (-len(headers), rule_index, match_index, {"name": name, "match": envoy_match, "route": action})
            )
    return [entry[-1] for entry in sorted(found, key=lambda entry: entry[:3])]
