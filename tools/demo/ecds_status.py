"""Did Envoy take the new ECDS resource? Read its counters before and after a write.

Measured with Envoy 1.40 (extension_config_discovery.http_filter.<filter name>.*):
  accepted       update_attempt +1, update_success +1   (config_reload +1)
  rejected       update_attempt +1, update_rejected +1  (config_fail +1, and config_reload +1 too!):
                 the Wasm plugin refused its configuration (on_configure returned false) or the resource
                 is not a valid Wasm filter. The previous configuration keeps serving.
  unreadable     update_attempt +1, update_failure +1   (config_fail +1): the file is not a
                 DiscoveryResponse (e.g. broken JSON). The previous configuration keeps serving.
So `config_reload` alone does not prove acceptance; update_success / update_rejected / update_failure do.
`version_text` keeps the version_info of the last accepted resource. Envoy reacts within a few ms of the
rename, and requests follow the new configuration within a few ms after that.
"""
import dataclasses
import time

from tools import envoylab

PREFIX = "extension_config_discovery.http_filter.%s." % envoylab.FILTER_NAME
OUTCOMES = {"update_success": "accepted", "update_rejected": "rejected", "update_failure": "unreadable"}
# Log lines that say why, best first: the filter's own explanation, then Envoy's verdict on the update.
_REASON_MARKERS = ("invalid configuration", "config update rejected", "config update failure")


@dataclasses.dataclass
class Outcome:
    verdict: str  # accepted | rejected | unreadable | no reaction
    seconds: float  # from the rename until Envoy's counters moved
    reason: str = ""  # for a refusal: what Envoy (and the filter) logged

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"


def counters(envoy) -> dict:
    """The ECDS counters of the traffic-shift filter, short names (update_success, ...)."""
    stats = envoy.stats("^" + PREFIX.replace(".", r"\."))
    return {name[len(PREFIX):]: value for name, value in stats.items() if isinstance(value, int)}


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
            return Outcome("no reaction", time.monotonic() - started,
                           "Envoy did not read the new file within %.0fs" % timeout)
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
