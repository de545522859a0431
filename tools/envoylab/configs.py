"""Plugin configurations in Istio's VirtualService `http` shape, as the tests, the bench and the soak build them:
destinations of `reviews`, the weighted splits between them, the realistic configuration and many-entry ones."""

import json
import os

from tools import REPO

REVIEWS_HOST = "reviews.default.svc.cluster.local"
# The Rust test kit reads the same file (src/test_kit/mod.rs): what the bench measures is what they check.
REALISTIC_FILE = os.path.join(REPO, "bench", "realistic.json")


def destination(subset: str, weight: int = None, host: str = REVIEWS_HOST) -> dict:
    """One `route` element: `subset` of `host` on port 9080, with `weight` unless it is None."""
    entry = {"destination": {"host": host, "subset": subset, "port": {"number": 9080}}}
    if weight is not None:
        entry["weight"] = weight
    return entry


def split(weights: dict, host: str = REVIEWS_HOST) -> list:
    """The `route` list for {subset: weight} (weight None: no weight key)."""
    return [destination(subset, weight, host) for subset, weight in weights.items()]


def authority(i: int) -> str:
    return "svc-%d" % i


def authority_entries(n: int) -> dict:
    """n entries, entry i applying only to authority svc-<i> and splitting 50/50 between v1 and v3; send
    requests to authority(n - 1) for the last one."""
    return {
        "http": [
            {
                "name": "svc-%d" % i,
                "match": [{"authority": {"exact": authority(i)}}],
                "route": split({"v1": 50, "v3": 50}),
            }
            for i in range(n)
        ]
    }


def realistic() -> dict:
    """What a mesh typically carries (REALISTIC_FILE), a fresh copy: a `hosts` list and a few header/uri matches
    for special traffic before the 50/50 split that ordinary requests fall through to."""
    with open(REALISTIC_FILE) as f:
        return json.load(f)
