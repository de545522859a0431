"""What stays resident after a large configuration: on the soak's Envoy (after the storm), push a SMALL-entry
configuration, then one of LARGE entries, then the small one again, each in force on every probe before
memory is read. RSS, tcmalloc and the Wasm VMs' linear memory after each: the last less the first is what a
large configuration leaves behind once it is gone (linear memory never shrinks, so at least its high-water
mark in every VM). Reported, not judged: a push refused or not in force is the only problem.
"""

import time

from . import configs, memory
from . import probes as probes_mod
from .envoy import push

SMALL, LARGE = 5, 10_000  # entries: the realistic configuration without the sticky one; plus authority entries
IN_FORCE_TIMEOUT = 60.0  # every worker compiles the large configuration
SETTLE_SECONDS = 2.0  # Envoy drops a replaced filter configuration once its last stream ends


def configuration(version: str, entries: int) -> dict:
    """The probe entry, authority entries no request matches, then REALISTIC's four: `entries` in all."""
    return configs.realistic(version, sticky=False, extra_entries=entries - SMALL)


def _stage(entries: int, sample: memory.Sample) -> dict:
    return {
        "entries": entries,
        "rss_mib": round(sample.rss / memory.MIB, 1),
        "allocated_mib": round(sample.allocated / memory.MIB, 1),
        "wasm_mib": round(sample.wasm_size / memory.MIB, 2),
        "wasm_rss_mib": round(sample.wasm_rss / memory.MIB, 2),
        "vms": sample.vms,
    }


def run(envoy, watched_dir: str, probes: list) -> dict:
    current = probes[0].version()
    stages, problems = [], []
    try:
        for number, entries in enumerate((SMALL, LARGE, SMALL), 1):
            upcoming = configs.VERSIONS[(configs.VERSIONS.index(current) + 1) % len(configs.VERSIONS)]
            outcome = push(envoy, watched_dir, configs.text(configuration(upcoming, entries)))
            if not outcome.accepted:
                problems.append("push %d (%d entries): %s %s" % (number, entries, outcome.verdict, outcome.reason))
                break
            probes_mod.wait_for(probes, upcoming, current, outcome.renamed, IN_FORCE_TIMEOUT)
            current = upcoming
            time.sleep(SETTLE_SECONDS)
            stages.append(_stage(entries, memory.sample(envoy, time.monotonic())))
    except probes_mod.ProbeError as failure:
        problems.append(str(failure))
    result = {"stages": stages, "problems": problems}
    if len(stages) == 3:
        result["kept_mib"] = {
            field: round(stages[2][field] - stages[0][field], 2)
            for field in ("rss_mib", "allocated_mib", "wasm_mib", "wasm_rss_mib")
        }
    return result
