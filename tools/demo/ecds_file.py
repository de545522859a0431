"""The filter's configuration as an ECDS resource in a watched directory, replaced atomically.

Istio hands a WasmPlugin to the sidecar as an Extension Config Discovery (ECDS) resource: a
TypedExtensionConfig carrying the Wasm filter, its `pluginConfig` as the StringValue `configuration`.
Envoy's file-based config source reads the same DiscoveryResponse from `path`, and re-reads it whenever a
file is moved into `watched_directory`. So a new version is written to a temporary file in that directory
and renamed over `path`: Envoy never sees a half-written file.
"""
import json
import os
import tempfile
import time

from tools import envoylab

RESOURCE_FILE = "traffic-shift.json"
TYPED_EXTENSION_CONFIG = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
WASM_FILTER = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
NATIVE_FILTER = "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter"


def http_filter(watched_dir: str, shell: str = "wasm") -> dict:
    """The HTTP filter entry that takes its configuration from the watched directory (no default config:
    the listener waits for the first resource, which write_resource puts there before Envoy starts)."""
    return {
        "name": envoylab.FILTER_NAME,
        "config_discovery": {
            "config_source": {
                "resource_api_version": "V3",
                "path_config_source": {
                    "path": os.path.join(watched_dir, RESOURCE_FILE),
                    "watched_directory": {"path": watched_dir},
                },
            },
            "type_urls": [NATIVE_FILTER if shell == "native" else WASM_FILTER],
        },
    }


def discovery_response(plugin_config: str, module: str, shell: str = "wasm") -> dict:
    """A DiscoveryResponse holding the filter built for `shell` with `plugin_config` (raw text, passed on
    unchanged): the Wasm filter, or the native dynamic module."""
    wasm = envoylab.shift_filter(plugin_config, shell=shell, module=module)["typed_config"]
    return {
        "version_info": "%.6f" % time.time(),  # a new version for every write
        "type_url": TYPED_EXTENSION_CONFIG,
        "resources": [{"@type": TYPED_EXTENSION_CONFIG, "name": envoylab.FILTER_NAME, "typed_config": wasm}],
    }


def write_resource(watched_dir: str, plugin_config: str, module: str, shell: str = "wasm") -> str:
    """Atomically replace the resource file; returns its path."""
    target = os.path.join(watched_dir, RESOURCE_FILE)
    fd, temp = tempfile.mkstemp(prefix=".writing-", dir=watched_dir)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(discovery_response(plugin_config, module, shell), f, indent=1)
        os.chmod(temp, 0o644)  # mkstemp's 0600 would hide it from an Envoy running as another user
        os.rename(temp, target)  # same directory, so atomic; the move is what Envoy's watch reacts to
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return target
