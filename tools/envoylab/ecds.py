"""The filter's configuration delivered over ECDS, the way Istio delivers a WasmPlugin: an Envoy whose filter
reads its configuration from a watched directory, pushes into that directory, and Envoy's verdict on each.

Istio hands a WasmPlugin to the sidecar as an Extension Config Discovery (ECDS) resource: a
TypedExtensionConfig carrying the filter, its `pluginConfig` as the StringValue `configuration`. Envoy's
file-based config source reads the same DiscoveryResponse from `path`, and re-reads it whenever a file is moved
into `watched_directory`. So a new version is written to a temporary file in that directory and renamed over
`path`: Envoy never sees a half-written file.

Envoy's verdict, measured with Envoy 1.40 (extension_config_discovery.http_filter.<filter name>.*):
  accepted       update_attempt +1, update_success +1   (config_reload +1)
  rejected       update_attempt +1, update_rejected +1  (config_fail +1, and config_reload +1 too!):
                 the filter refused its configuration or the resource is not a valid filter. The previous
                 configuration keeps serving.
  unreadable     update_attempt +1, update_failure +1   (config_fail +1): the file is not a
                 DiscoveryResponse (e.g. broken JSON). The previous configuration keeps serving.
So `config_reload` alone does not prove acceptance; update_success / update_rejected / update_failure do.
Envoy reacts within a few ms of the rename, and requests follow the new configuration within a few ms after.
"""

import dataclasses
import json
import os
import tempfile
import time

from .bootstrap import FILTER_NAME, ISTIO_TEMPLATE, clusters_named, render_bootstrap, shift_filter
from .launch import start_retrying

RESOURCE_FILE = "traffic-shift.json"
TYPED_EXTENSION_CONFIG = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
WASM_FILTER = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
NATIVE_FILTER = "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter"
NODE = {"id": "traffic-shift-lab", "cluster": "traffic-shift-lab"}  # any ECDS subscription needs one
# Istio names the subset clusters after the service's FQDN; a config may also say just "reviews".
CLUSTERS = {**clusters_named(ISTIO_TEMPLATE), **clusters_named("outbound|9080|{subset}|reviews")}
STATS_PREFIX = "extension_config_discovery.http_filter.%s." % FILTER_NAME
OUTCOMES = {"update_success": "accepted", "update_rejected": "rejected", "update_failure": "unreadable"}
# Log lines that say why, best first: the filter's own explanation, then Envoy's verdict on the update.
_REASON_MARKERS = ("invalid configuration", "config update rejected", "config update failure")


# -- the watched directory ----------------------------------------------------------------------------------------


def http_filter(watched_dir: str, shell: str = "wasm") -> dict:
    """The HTTP filter entry that takes its configuration from the watched directory (no default config:
    the listener waits for the first resource, which write_resource puts there before Envoy starts)."""
    return {
        "name": FILTER_NAME,
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
    unchanged): the Wasm filter loading `module` (a path as Envoy sees it), or the native dynamic module."""
    typed_config = shift_filter(plugin_config, shell=shell, module=module)["typed_config"]
    return {
        "version_info": "%.6f" % time.time(),  # a new version for every write
        "type_url": TYPED_EXTENSION_CONFIG,
        "resources": [{"@type": TYPED_EXTENSION_CONFIG, "name": FILTER_NAME, "typed_config": typed_config}],
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


# -- Envoy's verdict ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    verdict: str  # accepted | rejected | unreadable | no reaction
    seconds: float  # from the rename until Envoy's counters moved
    reason: str = ""  # for a refusal: what Envoy (and the filter) logged
    renamed: float = 0.0  # monotonic time just before the write (so propagation times are not flattered)
    moved: dict = None  # how much update_success / update_rejected / update_failure moved

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"


def counters(envoy) -> dict:
    """The ECDS counters of the traffic-shift filter, short names (update_success, ...); envoy: anything
    with stats(), e.g. an envoylab.Envoy or an envoylab.Admin."""
    stats = envoy.stats("^" + STATS_PREFIX.replace(".", r"\."))
    return {name[len(STATS_PREFIX) :]: value for name, value in stats.items() if isinstance(value, int)}


def wait_outcome(envoy, before: dict, started: float, log_offset: int, timeout: float = 10.0) -> Outcome:
    """Poll the counters until update_attempt moves past `before`; classify by which counter moved.
    `started` is the monotonic time of the rename; `log_offset` where Envoy's log stood then."""
    deadline = started + timeout
    while True:
        now = counters(envoy)
        if now.get("update_attempt", 0) > before.get("update_attempt", 0):
            elapsed = time.monotonic() - started
            for counter, verdict in OUTCOMES.items():
                if now.get(counter, 0) > before.get(counter, 0):
                    reason = "" if verdict == "accepted" else refusal_reason(envoy, log_offset)
                    return Outcome(verdict, elapsed, reason)
        if time.monotonic() > deadline:
            return Outcome(
                "no reaction", time.monotonic() - started, "Envoy did not read the new file within %.0fs" % timeout
            )
        time.sleep(0.005)


def refusal_reason(envoy, log_offset: int) -> str:
    """The log lines Envoy wrote since `log_offset` that explain a refusal (shortened to their message)."""
    for _ in range(20):  # the counters can move a moment before the log line is flushed
        lines = envoy.log()[log_offset:].splitlines()
        for marker in _REASON_MARKERS:
            found = [_message(line) for line in lines if marker in line]
            if found:
                return found[-1]
        time.sleep(0.025)
    return "no reason logged"


def _message(line: str) -> str:
    # "[time][pid][level][logger] [source.cc:123] message"; a filter's own line reads "wasm log <plugin>: message"
    message = line.split("] ", 4)[-1] if line.startswith("[") else line
    if message.startswith("wasm log"):
        message = message.partition(": ")[2]
    return message.strip()


def push(
    envoy, watched_dir: str, plugin_config: str, module: str, shell: str = "wasm", timeout: float = 10.0
) -> Outcome:
    """Write a new configuration into the watched directory and wait (at most `timeout` s) for Envoy's verdict."""
    before, log_offset = counters(envoy), len(envoy.log())
    renamed = time.monotonic()
    write_resource(watched_dir, plugin_config, module, shell)
    outcome = wait_outcome(envoy, before, renamed, log_offset, timeout)
    after = counters(envoy)
    outcome.renamed = renamed
    outcome.moved = {k: after.get(k, 0) - before.get(k, 0) for k in OUTCOMES}
    return outcome


# -- an Envoy fed over ECDS ---------------------------------------------------------------------------------------


def bootstrap(watched_dir: str, shell: str = "wasm", **render_options) -> dict:
    """envoylab's bootstrap with the filter (the build `shell`) fed from the watched directory; clusters default
    to CLUSTERS. render_options go to render_bootstrap (e.g. statuses={"v3": 500}, absent=("v3",))."""
    render_options.setdefault("clusters", CLUSTERS)
    config = render_bootstrap(http_filters=[http_filter(watched_dir, shell)], **render_options)
    config["node"] = NODE
    return config


def launch(
    watched_dir: str,
    first_config: str,
    module: str,
    *,
    shell: str = "wasm",
    concurrency: int = 1,
    attempts: int = 3,
    **render_options,
):
    """Put `first_config` in the watched directory and start Envoy on it; returns a ready envoylab.Envoy.
    Free ports are picked again if another process took one meanwhile (ports given in render_options are not)."""
    os.makedirs(watched_dir, exist_ok=True)
    write_resource(watched_dir, first_config, module, shell)
    return start_retrying(
        lambda: bootstrap(watched_dir, shell, **render_options),
        concurrency=concurrency,
        attempts=1 if render_options.get("ports") else attempts,
    )
