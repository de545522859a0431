"""`make apply CONFIG=…`: swap the plugin configuration of the Envoy that `make run` started, live.

CONFIG is the plugin JSON, or YAML (a VirtualService or HTTPRoute as kept for kubectl, several documents
read as a list): config_file.py converts it.

The new configuration is renamed into that Envoy's watched ECDS directory (.run/ecds/); Envoy's ECDS
counters then say whether it accepted or refused it (a refused configuration leaves the previous one
serving). Exit status 0 if accepted, 1 if refused, 2 if there is nothing to apply to.
"""

import collections
import os
import sys

import yaml

from tools import envoylab

from . import config_file, display, state

SAMPLE = 200  # requests sent afterwards to show the split now served


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="plugin configuration to apply: JSON, or YAML (.yaml/.yml)")


def _sample(port: int) -> str:
    tally = envoylab.send_requests(port, SAMPLE, time_limit=20)
    counts = collections.Counter({k: v for k, v in tally.versions.items() if k})
    failed = tally.sent - tally.statuses[200]
    return "%d requests now: %s; %d failed" % (tally.sent, display.describe_split(counts, sum(counts.values())), failed)


def main(args) -> int:
    running = state.load()
    if not running:
        print(
            "apply: no Envoy from `make run` is running (%s); start one with `make run CONFIG=…`"
            % os.path.relpath(state.STATE_FILE),
            file=sys.stderr,
        )
        return 2
    if not os.path.isfile(args.config):
        print("apply: no such file: %s" % args.config, file=sys.stderr)
        return 2
    try:
        text = config_file.read(args.config)
    except yaml.YAMLError as error:
        print("apply: %s is not YAML: %s" % (args.config, error), file=sys.stderr)
        return 2
    envoy = envoylab.Admin(running["admin_port"], running["log_path"])
    outcome = envoylab.ecds.push(envoy, state.WATCHED_DIR, text, running["module"])
    if outcome.accepted:
        running["serving"] = args.config
        state.save(running)
        print(
            "accepted in %.0f ms: the same Envoy (pid %d, not restarted) now serves %s"
            % (1000 * outcome.seconds, running["pid"], args.config)
        )
        print(_sample(running["port"]))
        return 0
    print("REFUSED by Envoy (%s): %s\nstill serving %s" % (outcome.verdict, outcome.reason, running["serving"]))
    return 1
