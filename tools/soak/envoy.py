"""The soak's Envoy: envoylab's ECDS-fed Envoy with 2 workers, and pushes into its watched directory."""

from tools import envoylab

WORKERS = 2


def start(watched_dir: str, config_text: str, module: str = None) -> envoylab.Envoy:
    envoy = envoylab.ecds.launch(watched_dir, config_text, module or envoylab.module_path(), concurrency=WORKERS)
    if envoylab.ecds.counters(envoy).get("update_success", 0) != 1:
        reason = envoylab.ecds.refusal_reason(envoy, 0)
        envoy.close()
        raise RuntimeError("Envoy refused the first configuration: %s" % reason)
    return envoy


def push(envoy, watched_dir: str, config_text: str, module: str = None) -> envoylab.ecds.Outcome:
    """Envoy's verdict (its .renamed: the monotonic time just before the rename)."""
    return envoylab.ecds.push(envoy, watched_dir, config_text, module or envoylab.module_path())


def front_counters(envoy) -> dict:
    """The front listener's answered requests and its error answers."""
    stats = envoy.stats(r"^http\.front\.downstream_rq_(completed|[45]xx)$")
    return {name.rpartition(".")[2]: value for name, value in stats.items()}
