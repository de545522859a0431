"""The soak's Envoy: the demo's ECDS-fed Envoy (tools/demo/lab.py) with 2 workers, and pushes through the
demo's watched-file mechanism (tools/demo/runner.apply: atomic rename, then Envoy's ECDS counters)."""
import time

import envoylab
from demo import ecds_status, lab as demo_lab, runner

WORKERS = 2


def start(watched_dir: str, config_text: str, module: str = None) -> envoylab.Envoy:
    envoy = demo_lab.start(watched_dir, config_text, module or envoylab.module_path(), concurrency=WORKERS)
    if ecds_status.counters(envoy).get("update_success", 0) != 1:
        reason = ecds_status.refusal_reason(envoy, 0)
        envoy.close()
        raise RuntimeError("Envoy refused the first configuration: %s" % reason)
    return envoy


def push(envoy, watched_dir: str, config_text: str, module: str = None):
    """(Envoy's verdict, monotonic time just before the rename)."""
    renamed = time.monotonic()
    return runner.apply(envoy, watched_dir, config_text, module or envoylab.module_path()), renamed


def front_counters(envoy) -> dict:
    """The front listener's answered requests and its error answers."""
    stats = envoy.stats(r"^http\.front\.downstream_rq_(completed|[45]xx)$")
    return {name.rpartition(".")[2]: value for name, value in stats.items()}
