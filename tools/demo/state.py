"""Where `make run` leaves word of its Envoy (.run/state.json) so `make apply` in another terminal can find it.

RunningEnvoy offers the two things ecds_status needs from an envoylab.Envoy (stats, log) for an Envoy that
another process started.
"""
import json
import os
import urllib.parse
import urllib.request

from tools import envoylab

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


class RunningEnvoy:
    def __init__(self, state: dict):
        self.pid, self.admin_port, self.port = state["pid"], state["admin_port"], state["port"]
        self.log_path = state["log_path"]

    def stats(self, filter: str = None) -> dict:
        query = "?filter=" + urllib.parse.quote(filter) if filter else ""
        with urllib.request.urlopen("http://127.0.0.1:%d/stats%s" % (self.admin_port, query), timeout=5) as answer:
            return envoylab.parse_stats(answer.read().decode("utf-8", "replace"))

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
