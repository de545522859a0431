"""A stage of the migration: one plugin configuration file, and the split it should produce.

The expected split is read from the configuration itself (the first `http` entry without a `match`, the
one our plain client hits), so the demo checks the filter against what the file says, not against numbers
kept here. A file that is not valid JSON is still a stage: Envoy is expected to refuse it.
"""

import dataclasses
import json
import os

from tools import REPO

PLUGIN_DIR = os.path.join(REPO, "filter-config", "plugin")
MIGRATION = ("reviews-all-v1.json", "reviews-50-v3.json", "reviews-v3.json")  # Istio's three steps


@dataclasses.dataclass
class Stage:
    name: str  # the file name without .json, e.g. reviews-50-v3
    path: str
    text: str  # passed to the filter unchanged
    weights: dict  # {subset: weight} the file asks for; None if it does not say (e.g. broken JSON)


def default_paths() -> list:
    return [os.path.join(PLUGIN_DIR, name) for name in MIGRATION]


def load(path: str) -> Stage:
    with open(path) as f:
        text = f.read()
    name = os.path.basename(path)
    return Stage(name[:-5] if name.endswith(".json") else name, path, text, expected_weights(text))


def expected_weights(text: str):
    """{subset: weight} of the first unconditional `http` entry, or None when the text says nothing usable."""
    try:
        config = json.loads(text)
        entry = next(e for e in config.get("http", []) if not e.get("match"))
        routes = entry["route"]
        weights = {}
        for route in routes:
            subset = route["destination"]["subset"]
            # Istio: a lone destination without a weight takes all the traffic.
            weight = int(route.get("weight", 100 if len(routes) == 1 else 0))
            weights[subset] = weights.get(subset, 0) + weight
    except (ValueError, TypeError, KeyError, AttributeError, StopIteration):
        return None
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        return None
    return weights


def label(weights) -> str:
    """ "v1" when one subset takes everything, else the split ("v1 50%/v3 50%"); "?" when unknown."""
    if not weights:
        return "?"
    total = sum(weights.values())
    taking = [(subset, w) for subset, w in weights.items() if w]
    if len(taking) == 1:
        return taking[0][0]
    return "/".join("%s %.0f%%" % (subset, 100 * w / total) for subset, w in taking)
