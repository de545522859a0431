"""`make demo`: Istio's Traffic Shifting task on our Bookinfo and one local Envoy, every stage applied live
over ECDS.

Bookinfo (tools/bookinfo/) starts first, its product page on 127.0.0.1:9080 (a free port if taken; the URL is
the first line printed), behind an Envoy playing every service's sidecar. Envoy starts with an empty plugin
configuration ({} routes nothing); the stages (default: reviews-all-v1, reviews-50-v3, reviews-v3) are then
written one after another into its watched ECDS directory while a steady client calls `reviews` and another
loads the product page a few times a second, counting the stars it showed. Envoy is never restarted: its pid
is checked at the end. Exit status 0 iff every stage was accepted and no request failed; 130 when
interrupted. Every process started here is stopped on the way out, also on Ctrl-C or SIGTERM.
`--pace manual` (make demo PACE=manual) waits for Enter between stages, in an interactive terminal.
"""

import os
import shutil
import sys
import tempfile
import time

from tools import envoylab
from tools.bookinfo.stack import Bookinfo, BookinfoError

from . import display as display_mod
from . import lab, runner, signals
from . import pages as pages_mod
from . import ports as ports_mod
from . import stages as stages_mod
from . import summary as summary_mod

EMPTY_CONFIG = "{}"


def add_arguments(parser):
    parser.add_argument(
        "--stage",
        action="append",
        metavar="PLUGIN_JSON",
        help="a plugin configuration to apply, in order (repeat; default: the three of "
        "filter-config/plugin/: reviews-all-v1, reviews-50-v3, reviews-v3)",
    )
    parser.add_argument(
        "--stage-seconds",
        type=float,
        default=float(os.environ.get("DEMO_STAGE_SECONDS", 10)),
        help="how long each stage runs (env DEMO_STAGE_SECONDS; default 10)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=float(os.environ.get("DEMO_RATE", 400)),
        help="client requests per second (env DEMO_RATE; default 400)",
    )
    parser.add_argument(
        "--page-rate",
        type=float,
        default=float(os.environ.get("DEMO_PAGE_RATE", 10)),
        help="product page loads per second (env DEMO_PAGE_RATE; default 10)",
    )
    parser.add_argument(
        "--productpage-port",
        type=int,
        default=ports_mod.PRODUCTPAGE,
        help="Bookinfo's product page (default %d; a free one if taken)" % ports_mod.PRODUCTPAGE,
    )
    parser.add_argument(
        "--pace",
        choices=("auto", "manual"),
        default=os.environ.get("DEMO_PACE") or "auto",
        help="manual: wait for Enter between stages (interactive terminal only; env DEMO_PACE)",
    )
    parser.add_argument("--summary-json", metavar="PATH", help="also write the summary as JSON to PATH")


def _pause_for_enter(out):
    """PACE=manual: before each next stage, wait until the person at the terminal presses Enter."""

    def pause(stage, index: int, total: int):
        out.say("press Enter for stage %d/%d (%s); refresh the product page meanwhile" % (index, total, stage.name))
        sys.stdin.readline()

    return pause


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
    pause = None
    if args.pace == "manual":
        if sys.stdin.isatty() and sys.stdout.isatty():
            pause = _pause_for_enter(out)
        else:
            out.say("PACE=manual needs an interactive terminal: running unattended")
    workdir = tempfile.mkdtemp(prefix="traffic-shift-demo-")
    envoy = client = pages = bookinfo = None
    results, interrupted, pid_at_start, pid_at_end = [], False, None, None
    began = time.monotonic()
    try:
        taken = []
        ports = ports_mod.pick(
            {"productpage": args.productpage_port, "envoy listener": 0, "envoy admin": 0}, say=taken.append
        )
        bookinfo = Bookinfo(ports["envoy listener"], ports["envoy admin"], ports["productpage"]).start()
        envoy = lab.start(
            os.path.join(workdir, "ecds"),
            EMPTY_CONFIG,
            module,
            bookinfo.ports,
            {"front": ports["envoy listener"], "admin": ports["envoy admin"]},
        )
        pid_at_start = envoy.pid
        out.say(
            "Bookinfo and its Envoy ready: open %s (the split, live: %s)%s"
            % (bookinfo.url, bookinfo.url.replace("/productpage", "/traffic-shift"), "".join("; " + t for t in taken))
        )
        out.say(
            "Envoy %d ready: listener 127.0.0.1:%d, admin 127.0.0.1:%d; client: %g req/s to Host %s; "
            "%d stages of %g s, each applied live over ECDS"
            % (
                envoy.pid,
                envoy.port,
                envoy.admin_port,
                args.rate,
                envoylab.traffic.HOST,
                len(stages),
                args.stage_seconds,
            )
        )
        # Bounded like every load loop here; PACE=manual allows an hour of pauses.
        seconds = args.stage_seconds * len(stages) + (3600 if pause else 30)
        client = envoylab.PacedClient(
            envoy.port, args.rate, max_requests=int(args.rate * seconds * 1.2) + 1000, max_seconds=seconds
        )
        pages = pages_mod.PageClient(
            bookinfo.ports["productpage"],
            args.page_rate,
            max_requests=int(args.page_rate * seconds * 1.2) + 100,
            max_seconds=seconds,
        )
        for result in runner.run(
            envoy,
            os.path.join(workdir, "ecds"),
            module,
            stages,
            client,
            out,
            args.stage_seconds,
            pages=pages,
            pause=pause,
        ):
            results.append(result)
        pid_at_end = envoy.pid if envoy.running else None
    except KeyboardInterrupt:
        interrupted = True
        pid_at_end = envoy.pid if envoy is not None and envoy.running else None  # Ctrl-C reaches Envoy too
        out.say("interrupted: stopping the client and Envoy")
    except envoylab.EnvoyError as failure:
        print("demo: Envoy did not start:\n%s" % failure, file=sys.stderr)
        return 2
    except BookinfoError as failure:
        print("demo: %s" % failure, file=sys.stderr)
        return 2
    finally:
        for steady in (client, pages):
            if steady is not None and steady.ident is not None:
                steady.stop()
        if envoy is not None:
            envoy.close()
        if bookinfo is not None:
            bookinfo.close()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summary_mod.build(results, pid_at_start, pid_at_end, time.monotonic() - began, interrupted)
    for line in summary_mod.lines(summary):
        out.say(line)
    if args.summary_json:
        summary_mod.write_json(summary, args.summary_json)
    return 130 if interrupted else 0 if summary["ok"] else 1
