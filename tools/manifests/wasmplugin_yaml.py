"""The WasmPlugin both Istio kits render: the sidecar's (istio_yaml.py, `selector`) and the waypoint's
(ambient_yaml.py, `targetRefs`). One skeleton; each kit fills in its own notes, how the plugin is attached, its
failStrategy and what precedes pluginConfig, then renders it with image_fields() and its own values."""

import string

from tools.manifests import kit
from tools.manifests.render import fill

SKELETON = """\
$preamble
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
$name_note
  name: $$resource
  namespace: $$namespace
spec:
$attach
$$url_note
  url: oci://$$image
$$sha256_block
  # IfNotPresent: a new stage changes only pluginConfig; the same image is not pulled again.
  imagePullPolicy: IfNotPresent
  # Envoy's root_id for the module, as in the standalone filter-config/envoy/envoy.yaml.
  pluginName: $$filter
  type: HTTP
$phase_note
  phase: AUTHN
  # Within a phase, higher runs first: ahead of any other AUTHN plugin that might read the route.
  priority: 1000
$fail_strategy
$before_config
  pluginConfig:
$$plugin_config
"""

SHA256_PLACEHOLDER = """\
  # REPLACE with the manifest digest `make oci` prints, without "sha256:". Istio compares it with the pulled
  # image's manifest digest and refuses any other image. generate.py --image/--sha256 renders a filled copy.
  # sha256: <64 hex digits from make oci>"""

SHA256_FILLED = """\
  # The manifest digest `make oci` printed: Istio refuses a pulled image whose manifest digest differs.
  sha256: $sha256"""

URL_PLACEHOLDER_NOTE = """\
  # REPLACE registry.example.com with your registry, after pushing the image `make oci` builds
  # (filter-config/README.md, "Build and publish the image")."""

URL_FILLED_NOTE = """\
  # The image `make oci` built, as pushed to your registry."""


def template(**parts: str) -> str:
    """A kit's WasmPlugin template: SKELETON with the kit's parts (text that may hold $placeholders of its own)."""
    return string.Template(SKELETON).substitute(**parts)


def image_fields(image: str, sha256) -> dict:
    """The values of the image lines: the image, its digest when known, and notes saying what to replace."""
    filled = image != kit.PLACEHOLDER_IMAGE or sha256
    return {
        "url_note": URL_FILLED_NOTE if filled else URL_PLACEHOLDER_NOTE,
        "image": image,
        "sha256_block": fill(SHA256_FILLED, sha256=sha256) if sha256 else SHA256_PLACEHOLDER,
    }
