"""The configurations the soak serves and pushes.

Every configuration starts with a probe entry: requests carrying PROBE_HEADER all go to one version, and each
accepted push names the next version (v1, v2, v3, v1, ...), so one answer on any connection tells whether that
connection's worker already runs the new configuration. The rest of the configuration is what is under test: the
realistic configuration's entries (envoylab.configs.realistic), a sticky entry, and a split whose weights,
entries, stickiness and rollout change from push to push. Each configuration is one compiled unit in the filter,
so the probe entry's answer proves the whole configuration (its weights included) is in force.
"""

import json
import time

from tools import envoylab
from tools.envoylab.configs import destination
from tools.envoylab.configs import split as routes
from tools.envoylab.rollout import rfc3339

PROBE_HEADER = "x-soak-probe"
USER_HEADER = "x-user"  # the sticky key the HTTP/1.1 load sends (sticky_users.lua)
VERSIONS = envoylab.VERSIONS


def probe_entry(version: str) -> dict:
    return {"name": "soak-probe", "match": [{"headers": {PROBE_HEADER: {}}}], "route": [destination(version, 100)]}


def sticky_entry(weights: dict) -> dict:
    return {
        "name": "sticky-users",
        "match": [{"headers": {USER_HEADER: {}}}],
        "sticky": {"header": USER_HEADER},
        "route": routes(weights),
    }


def realistic(
    probe_version: str = "v1", split: dict = None, sticky: bool = True, extra_entries: int = 0, rollout: bool = False
) -> dict:
    """REALISTIC with the probe entry first, a sticky entry before the split (unless sticky=False), the split's
    weights replaced by `split`, and `extra_entries` authority entries that ordinary requests never match.
    rollout=True ramps the split to `split` from its reverse, starting now, over ROLLOUT_SECONDS."""
    config = envoylab.configs.realistic()
    entries = config["http"]
    if split:
        entries[-1]["route"] = routes(split)
    if rollout:
        entries[-1]["rollout"] = {
            "from": list(split.values())[::-1],
            "start": rfc3339(time.time()),
            "steps": [
                {"at": "0ms", "progress": 0},
                {"at": "%ds" % (ROLLOUT_SECONDS // 2), "progress": 50},
                {"at": "%ds" % ROLLOUT_SECONDS, "progress": 100},
            ],
        }
    if sticky:
        entries.insert(len(entries) - 1, sticky_entry(split or {"v1": 50, "v3": 50}))
    extra = [
        {
            "name": "tenant-%d" % i,
            "match": [{"authority": {"exact": "tenant-%d.example" % i}}],
            "route": [destination("v2", 100)],
        }
        for i in range(extra_entries)
    ]
    config["http"] = [probe_entry(probe_version)] + extra + entries
    return config


# What the storm alternates between: (label, keyword arguments for realistic()).
STORM_SHAPES = [
    ("50/50 v1/v3, sticky", {"split": {"v1": 50, "v3": 50}}),
    ("90/10 v1/v3, sticky", {"split": {"v1": 90, "v3": 10}}),
    ("20/80 v2/v3, no sticky", {"split": {"v2": 20, "v3": 80}, "sticky": False}),
    ("34/33/33, sticky, +50 entries", {"split": {"v1": 34, "v2": 33, "v3": 33}, "extra_entries": 50}),
    ("100 v3, no sticky, +200 entries", {"split": {"v3": 100}, "sticky": False, "extra_entries": 200}),
    ("rollout 80/20 -> 20/80 v1/v3, sticky", {"split": {"v1": 20, "v3": 80}, "rollout": True}),
]
ROLLOUT_SECONDS = 4  # the rollout shape ramps over this long (the filter's timer steps it, envoylab.rollout.TICK)
BAD_REASON = "invalid configuration at http[0].route[0].weight: expected a non-negative integer, got -5"


def invalid(probe_version: str, number: int) -> dict:
    """Refused by the filter (a negative weight in the probe entry): the previous configuration stays. Each
    is made distinct by `number`: Envoy remembers a plugin configuration it failed to create and refuses the
    same one again without asking the filter ("Unable to create Wasm plugin"), which would not test us."""
    config = realistic(probe_version)
    config["http"][0]["name"] = "soak-probe-%d" % number
    config["http"][0]["route"][0]["weight"] = -5
    return config


def text(config: dict) -> str:
    return json.dumps(config)
