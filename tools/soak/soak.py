"""One soak: an Envoy with 2 workers on the soak configuration, probe connections opened first, then the
steady phase and the push storm on that same Envoy (so the probes have lived through the whole steady load),
and after the storm what a 10,000-entry configuration leaves resident (resident.py)."""

import re
import shutil
import tempfile

from . import configs, resident, steady, storm
from . import envoy as soak_envoy
from . import probes as probes_mod

VM_FAILURE = re.compile(r"RuntimeError|panicked at|Function: proxy_\w+ failed|out of memory")


def run(settings, phases=("steady", "storm"), module: str = None) -> dict:
    watched_dir = tempfile.mkdtemp(prefix="soak-ecds-")
    report = {}
    envoy = soak_envoy.start(watched_dir, configs.text(configs.realistic(configs.VERSIONS[0])), module)
    probes = []
    try:
        probes = probes_mod.open_probes(envoy)
        if "steady" in phases:
            report["steady"] = steady.run(envoy, settings)
        if "storm" in phases:
            report["storm"] = storm.run(envoy, watched_dir, settings, probes)
            report["resident"] = resident.run(envoy, watched_dir, probes)
        report["envoy_alive"] = envoy.running
    finally:
        probes_mod.close(probes)
        log = envoy.log()
        envoy.close()
        shutil.rmtree(watched_dir, ignore_errors=True)
    # A refused push logs "Plugin ... failed to load" at critical level; a broken VM logs these instead.
    report["wasm_errors"] = [line for line in log.splitlines() if VM_FAILURE.search(line)][:5]
    return report


def problems(report: dict) -> list:
    found = [p for phase in ("steady", "storm", "resident", "scale") for p in report.get(phase, {}).get("problems", [])]
    if not report.get("envoy_alive", True):
        found.append("Envoy died during the soak")
    found += ["Envoy logged: " + line for line in report.get("wasm_errors", [])]
    return found
