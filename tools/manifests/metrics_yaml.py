"""The mesh side of the filter's metrics: Istio settings that turn its stat names into labels.

Layout under filter-config/istio/metrics/ (use ONE of the two, see filter-config/README.md):
  mesh-config.yaml                      IstioOperator overlay: meshConfig.defaultConfig for every sidecar
  productpage-proxy-config-patch.yaml   kubectl patch for productpage only: the proxy.istio.io/config annotation
Both carry envoylab.metrics.istio_proxy_config(), generated from filter-config/metrics.json.
"""

from tools import envoylab
from tools.manifests import kit
from tools.manifests.render import fill, header, yaml_block

SOURCE = "filter-config/metrics.json"
DIR = "istio/metrics/"
MESH_CONFIG = DIR + "mesh-config.yaml"
POD_PATCH = DIR + "productpage-proxy-config-patch.yaml"
ANNOTATION = "proxy.istio.io/config"

WHY = """\
# The filter's counters name their labels inside the stat name (entry=.=reviews;.;…), as Istio's own stats
# once did. Each extraStatTags entry makes Istio add the bootstrap regex (<tag>=\\.=(.*?);\\.;) that cuts one
# label out, so Prometheus scrapes traffic_shift_requests_total{entry, destination, host, subset} and
# traffic_shift_unmatched_requests_total. proxyStatsMatcher keeps them: Istio drops every Envoy stat it is
# not told to keep (recent releases keep all "wasm…" stats anyway; older ones do not).
# Declare the tags in ONE place: this file or the other one in this folder (filter-config/README.md,
# "Metrics in a mesh", lists the known caveats). Sidecars read it when they start: restart the pods."""

MESH = """\
$generated#
$why
# Mesh-wide: `istioctl install -f mesh-config.yaml` (merge it into your own IstioOperator), or put the
# meshConfig block below under `meshConfig:` in the Helm values of istiod.
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    defaultConfig:
$proxy_config
"""

PATCH = """\
$generated#
$why
# Only productpage, the caller whose sidecar runs the filter: a strategic-merge patch of its pod template
# (the rollout restarts the pods, so their sidecars start with the tags):
#   kubectl patch deployment productpage-v1 --patch-file productpage-proxy-config-patch.yaml
spec:
  template:
    metadata:
      annotations:
        $annotation: |
$proxy_config
"""


def render() -> dict:
    """{path relative to filter-config/: text}."""
    proxy_config = envoylab.metrics.istio_proxy_config()
    generated = header(SOURCE, edit=SOURCE + " (and src/stat_name.rs)")
    if kit.CLIENT_LABELS != {"app": "productpage"}:
        raise ValueError("the pod patch names deployment productpage-v1: update it with kit.CLIENT_LABELS")
    return {
        MESH_CONFIG: fill(MESH, generated=generated, why=WHY, proxy_config=yaml_block(proxy_config, 6)),
        POD_PATCH: fill(
            PATCH, generated=generated, why=WHY, annotation=ANNOTATION, proxy_config=yaml_block(proxy_config, 10)
        ),
    }
