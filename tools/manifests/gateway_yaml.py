"""The Gateway API side of the kit, rendered from the Gateway API stages (filter-config/plugin/route-*.json).

Layout under filter-config/gateway-api/:
  reviews-versions.yaml   one Service per reviews version (Bookinfo's bookinfo-versions.yaml): the backends
  route-<stage>.yaml      the HTTPRoute each stage's plugin configuration is, for Istio to route it itself
"""

from tools.manifests import kit
from tools.manifests.render import fill, header, yaml_block

# Keys of the plugin configuration that are traffic-shift's, not the HTTPRoute's.
PLUGIN_ONLY_TOP = ("clusterHeader", "clusterName", "responseHeader", "namespace", "hostnames")
PLUGIN_ONLY_RULE = ("sticky",)

SERVICES = """\
$header#
# One Service per version of reviews, as Bookinfo's samples/bookinfo/platform/kube/bookinfo-versions.yaml
# defines them (Istio's Gateway API traffic shifting task applies that file; either may be applied). The
# backendRefs name these Services, and Istio builds a cluster for each
# (outbound|$port||reviews-v1.$namespace.svc.cluster.local and so on): the cluster names the filter
# renders for a backendRef, which has no subset.
$services
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: $name
  namespace: $namespace
  labels:
    app: $app
    version: $version
spec:
  ports:
  - port: $port
    name: http
  # The pods of that version only (Bookinfo labels them app and version).
  selector:
    app: $app
    version: $version"""

HTTP_ROUTE = """\
$header#
# Stage "$split" for reviews, routed by Istio itself. This is the HTTPRoute whose spec
# $source is, without the keys only traffic-shift reads:
# $plugin_only.
# hostnames is among them: the parentRef already scopes the route to the Service reviews; the filter
# needs it because it runs on the whole port's listener.
# Apply it to hand a stage back to Istio (filter-config/README.md, "The task with Gateway API"): Istio's
# route for reviews then comes from this HTTPRoute, so route-patch.yaml no longer applies to it.
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  # Istio's sample name (samples/bookinfo/gateway-api/route-reviews-*.yaml): each stage replaces the last.
  name: reviews
  namespace: $namespace
spec:
$spec
"""


def http_route_spec(stage: kit.Stage) -> dict:
    """The stage's configuration as an HTTPRoute spec: traffic-shift's own keys removed."""
    spec = {k: v for k, v in stage.config.items() if k not in PLUGIN_ONLY_TOP}
    spec["rules"] = [{k: v for k, v in rule.items() if k not in PLUGIN_ONLY_RULE} for rule in spec["rules"]]
    return spec


def services(stages: list) -> str:
    ((host, port),) = {stage.service() for stage in stages}
    app = kit.short_host(host)
    docs = [
        fill(SERVICE, name="%s-%s" % (app, version), namespace=kit.NAMESPACE, app=app, version=version, port=port)
        for version in kit.SUBSETS
    ]
    return fill(
        SERVICES,
        header=header(*[s.relpath for s in stages]),
        port=port,
        namespace=kit.NAMESPACE,
        services="\n---\n".join(docs),
    )


def http_route(stage: kit.Stage) -> str:
    return fill(
        HTTP_ROUTE,
        header=header(stage.relpath),
        split=stage.split(),
        source=stage.relpath,
        plugin_only=", ".join(PLUGIN_ONLY_TOP + PLUGIN_ONLY_RULE),
        namespace=stage.namespace,
        spec=yaml_block(http_route_spec(stage), 2),
    )


def render() -> dict:
    """{path relative to filter-config/: text} for every Gateway API manifest."""
    stages = [kit.load_stage(name) for name in kit.GATEWAY_MIGRATION]
    for stage in stages:
        if not stage.http_route:
            raise ValueError("%s: a Gateway API stage holds rules (the HTTPRoute shape)" % stage.relpath)
    files = {"gateway-api/reviews-versions.yaml": services(stages)}
    for stage in stages:
        files["gateway-api/%s.yaml" % stage.name] = http_route(stage)
    return files
