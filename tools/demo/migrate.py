"""`make demo`: Istio's Traffic Shifting task on one local Envoy, every stage applied live over ECDS.

Envoy starts with an empty plugin configuration ({} routes nothing); the stages (default: reviews-all-v1,
reviews-50-v3, reviews-v3) are then written one after another into its watched ECDS directory while a
steady client calls `reviews`. Envoy is never restarted: its pid is checked at the end. Exit status 0 iff
every stage was accepted and no request failed; 130 when interrupted. Every process started here is
stopped on the way out, also on Ctrl-C or SIGTERM.
"""
import os
import shutil
import sys
import tempfile
import time

import envoylab

from . import client as client_mod, display as display_mod, lab, runner, signals, stages as stages_mod
from . import summary as summary_mod

EMPTY_CONFIG = "{}"


def add_arguments(parser):
    parser.add_argument("--stage", action="append", metavar="PLUGIN_JSON",
                        help="a plugin configuration to apply, in order (repeat; default: the three of "
                             "filter-config/plugin/: reviews-all-v1, reviews-50-v3, reviews-v3)")
    parser.add_argument("--stage-seconds", type=float, default=float(os.environ.get("DEMO_STAGE_SECONDS", 10)),
                        help="how long each stage runs (env DEMO_STAGE_SECONDS; default 10)")
    parser.add_argument("--rate", type=float, default=float(os.environ.get("DEMO_RATE", 400)),
                        help="client requests per second (env DEMO_RATE; default 400)")
    parser.add_argument("--summary-json", metavar="PATH", help="also write the summary as JSON to PATH")


def main(args) -> int:
    paths = args.stage or stages_mod.default_paths()
    missing = [p for p in paths if not os.path.isfile(p)]
    module = envoylab.module_path()
    if missing or not os.path.isfile(module):
        for path in missing + ([] if os.path.isfile(module) else [module + " (run `make build`)"]):
            print("demo: missing %s" % path, file=sys.stderr)
        return 2
    stages = [stages_mod.load(p) for p in paths]
    signals.interrupt_on_sigterm()
    out = display_mod.make()
    workdir = tempfile.mkdtemp(prefix="traffic-shift-demo-")
    envoy = client = None
    results, interrupted, pid_at_start, pid_at_end = [], False, None, None
    began = time.monotonic()
    try:
        envoy = lab.start(os.path.join(workdir, "ecds"), EMPTY_CONFIG, module)
        pid_at_start = envoy.pid
        out.say("Envoy %d ready: listener 127.0.0.1:%d, admin 127.0.0.1:%d; client: %g req/s to Host %s; "
                "%d stages of %g s, each applied live over ECDS" % (
                    envoy.pid, envoy.port, envoy.admin_port, args.rate, client_mod.HOST, len(stages),
                    args.stage_seconds))
        client = client_mod.Client(envoy.port, args.rate, max_requests=int(args.rate * args.stage_seconds * len(
            stages) * 1.2) + 1000, max_seconds=args.stage_seconds * len(stages) + 30)
        for result in runner.run(envoy, os.path.join(workdir, "ecds"), module, stages, client, out,
                                 args.stage_seconds):
            results.append(result)
        pid_at_end = envoy.pid if envoy.running else None
    except KeyboardInterrupt:
        interrupted = True
        pid_at_end = envoy.pid if envoy is not None and envoy.running else None  # Ctrl-C reaches Envoy too
        out.say("interrupted: stopping the client and Envoy")
    except envoylab.EnvoyError as failure:
        print("demo: Envoy did not start:\n%s" % failure, file=sys.stderr)
        return 2
    finally:
        if client is not None and client.ident is not None:
            client.stop()
        if envoy is not None:
            envoy.close()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summary_mod.build(results, pid_at_start, pid_at_end, time.monotonic() - began, interrupted)
    for line in summary_mod.lines(summary):
        out.say(line)
    if args.summary_json:
        summary_mod.write_json(summary, args.summary_json)
    return 130 if interrupted else 0 if summary["ok"] else 1
