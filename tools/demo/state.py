"""Where `make run` leaves word of its Envoy (.run/state.json) so `make apply` in another terminal can find it:
its pid, ports and log (read through envoylab.Admin), the module and the configuration it serves."""

import json
import os

from .stages import REPO

RUN_DIR = os.environ.get("DEMO_RUN_DIR") or os.path.join(REPO, ".run")  # tests use their own
STATE_FILE = os.path.join(RUN_DIR, "state.json")
WATCHED_DIR = os.path.join(RUN_DIR, "ecds")


def save(state: dict):
    os.makedirs(RUN_DIR, exist_ok=True)
    temp = STATE_FILE + ".writing"
    with open(temp, "w") as f:
        json.dump(state, f, indent=2)
    os.rename(temp, STATE_FILE)


def load():
    """The saved state if its Envoy is still alive, else None."""
    try:
        with open(STATE_FILE) as f:
            state = json.load(f)
        os.kill(state["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def forget():
    if os.path.exists(STATE_FILE):
        os.unlink(STATE_FILE)
