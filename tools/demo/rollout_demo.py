"""`make rollout-demo`: a rollout that runs by itself, then one the guard stops.

Act 1: one configuration pushed once over ECDS (filter-config's reviews-rollout shape, its start a second
from now) ramps `reviews` from v1 to v3 by itself: progress 10, 25, 50, 75, 100% over --ramp-seconds.
Act 2: the same rollout against a v3 that answers 503: the guard (more than 5% of at least 20 requests in
5 s) trips and v1 takes everything back, with no failed request after the trip. A steady client counts who
answers; the terminal view shows the last second's shares, the progress and the guard. Exit status 0 iff
act 1 had no failure and reached v3, and act 2 tripped with no failure after the trip.
"""

import collections
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time

from tools import envoylab
from tools.envoylab.rollout import next_second, rollout_entry, rollout_state

from . import display as display_mod
from . import signals
from .runner import filter_requests

PROGRESS = (10, 25, 50, 75, 100)  # at 0, 1/4, 2/4, 3/4 and all of the ramp
GUARD = {"maxErrorRate": 0.05, "minRequests": 20, "window": "5s"}
FROM, TARGET = {"v1": 100, "v3": 0}, {"v1": 0, "v3": 100}
HOLD = 3.0  # seconds of the target after the last step, and of v1 after a trip


@dataclasses.dataclass
class Act:
    name: str
    title: str
    stage_name: str = ""  # what the live view shows (the display's Stage interface)


def add_arguments(parser):
    parser.add_argument(
        "--ramp-seconds",
        type=float,
        default=float(os.environ.get("DEMO_RAMP_SECONDS", 24)),
        help="from the first step to the last (env DEMO_RAMP_SECONDS; default 24)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=float(os.environ.get("DEMO_RATE", 400)),
        help="client requests per second (env DEMO_RATE; default 400)",
    )
    parser.add_argument("--summary-json", metavar="PATH", help="also write the summary as JSON to PATH")
    parser.add_argument(
        "--shell",
        choices=envoylab.SHELLS,
        default="wasm",
        help="which build of the filter Envoy runs: the Wasm module or the native dynamic module",
    )


def plugin(start: float, ramp: float) -> str:
    steps = [(ramp * i / (len(PROGRESS) - 1), p) for i, p in enumerate(PROGRESS)]
    entry = rollout_entry(start, steps, target=TARGET, start_weights=FROM, guard=GUARD)
    return json.dumps({"hosts": ["reviews"], "http": [entry]})


def gauges(envoy) -> tuple:
    state = rollout_state(envoy)
    return state["progress"], state["tripped"]


def measured(client, progress, since: float, now: float) -> str:
    """What the client saw while the previous progress was in force."""
    if progress is None:
        return ""
    counts = collections.Counter(client.answers_between(since, now))
    total = sum(counts.values())
    return "; at %d%%, v3 answered %.1f%% of %d requests" % (
        progress,
        100 * counts["v3"] / total if total else 0,
        total,
    )


def play(act: Act, envoy, client, out, until) -> dict:
    """Show each second until until(progress, tripped) says so; returns when the trip was seen (monotonic)."""
    began, tripped_at, last_shown, shown_progress = time.monotonic(), None, time.monotonic(), None
    step_began = began
    while True:
        time.sleep(0.05)
        now = time.monotonic()
        progress, tripped = gauges(envoy)
        if progress != shown_progress and not tripped:
            out.say(
                "%5.1f s  progress %d%% in force%s"
                % (now - began, progress, measured(client, shown_progress, step_began, now))
            )
            shown_progress, step_began = progress, now
        if tripped and tripped_at is None:
            tripped_at = now
            out.say("%5.1f s  guard TRIPPED: v1 takes everything back" % (now - began))
        if now - last_shown >= 1.0:
            last_shown = now
            counts = collections.Counter(client.answers_between(now - 1, now))
            failed = sum(n for answer, n in counts.items() if answer.startswith("failed"))
            act.stage_name = "%s  progress %d%%%s" % (act.title, progress, "  TRIPPED" if tripped else "")
            out.serving = act.stage_name
            out.second(
                dataclasses.replace(act, name=act.stage_name),
                1 if act.name == "ramp" else 2,
                2,
                counts,
                failed,
                now - began,
                dict(filter_requests(envoy)),
            )
        if until(progress, tripped, now, tripped_at):
            return {"began": began, "ended": now, "tripped_at": tripped_at}


def run_act(act: Act, watched: str, module: str, args, out, **broken) -> dict:
    envoy = envoylab.ecds.launch(watched, "{}", module, concurrency=2, shell=args.shell, **broken)
    client = None
    try:
        start = next_second(1.0)
        client = envoylab.PacedClient(
            envoy.port, args.rate, int(args.rate * (args.ramp_seconds + 30)), args.ramp_seconds + 30
        )
        applied_at = time.monotonic()
        outcome = envoylab.ecds.push(envoy, watched, plugin(start, args.ramp_seconds), module, args.shell)
        if not outcome.accepted:
            raise RuntimeError("the rollout was refused: %s" % outcome.reason)
        out.say(
            "%s: one push at %s, applied in %.0f ms; ramp v1 -> v3 from %s over %g s"
            % (
                act.title,
                time.strftime("%H:%M:%S"),
                1000 * outcome.seconds,
                time.strftime("%H:%M:%S", time.localtime(start)),
                args.ramp_seconds,
            )
        )
        client.start()
        end = time.monotonic() + (start - time.time()) + args.ramp_seconds + HOLD

        def until(progress, tripped, now, tripped_at):
            return now >= end or (tripped_at is not None and now >= tripped_at + HOLD)

        times = play(act, envoy, client, out, until)
        client.stop()
        return judge(act, client, times, applied_at, envoy.log())
    finally:
        if client is not None and client.ident is not None:
            client.stop()
        envoy.close()


def judge(act: Act, client, times: dict, applied_at: float, log: str) -> dict:
    answers = client.answers_between(applied_at, times["ended"] + 1)
    failed = [a for a in answers if a.startswith("failed")]
    result = {
        "act": act.name,
        "requests": len(answers),
        "failed": len(failed),
        "counts": dict(collections.Counter(answers)),
        "tripped": times["tripped_at"] is not None,
        "last_second": dict(collections.Counter(client.answers_between(times["ended"] - 1, times["ended"]))),
        "trip_log": [
            "rollout" + line.split("traffic-shift: rollout", 1)[-1]
            for line in log.splitlines()
            if "traffic-shift: rollout" in line and " tripped: " in line
        ],
    }
    if times["tripped_at"] is not None:
        after = client.answers_between(times["tripped_at"], times["ended"] + 1)
        result["after_trip"] = {
            "requests": len(after),
            "failed": sum(a.startswith("failed") for a in after),
            "v3": after.count("v3"),
        }
        result["trip_seconds"] = round(times["tripped_at"] - times["began"], 2)
    return result


def summary_line(ramp: dict, guarded: dict) -> str:
    after = guarded.get("after_trip", {"requests": 0, "failed": 0})
    return (
        "reviews rolled out v1 -> v3 by itself: %d requests, %d failed; broken v3 rolled back by the guard "
        "in %s s: %d requests after the trip, %d failed"
        % (
            ramp["requests"],
            ramp["failed"],
            guarded.get("trip_seconds", "NO TRIP: ?"),
            after["requests"],
            after["failed"],
        )
    )


def main(args) -> int:
    module = envoylab.module_path()
    if not os.path.isfile(module):
        print("rollout-demo: missing %s (run `make build`)" % module, file=sys.stderr)
        return 2
    native = os.path.join(envoylab.native_module_dir(), "lib%s.so" % envoylab.NATIVE_MODULE_NAME)
    if args.shell == "native" and not os.path.isfile(native):
        print("rollout-demo: missing %s (run `make build-native`)" % native, file=sys.stderr)
        return 2
    signals.interrupt_on_sigterm()
    out = display_mod.make()
    workdir = tempfile.mkdtemp(prefix="traffic-shift-rollout-demo-")
    try:
        ramp = run_act(Act("ramp", "act 1/2: rollout v1 -> v3"), os.path.join(workdir, "ramp"), module, args, out)
        out.say(
            "act 1: %d requests, %d failed; last second: %s"
            % (
                ramp["requests"],
                ramp["failed"],
                display_mod.describe_split(ramp["last_second"], sum(ramp["last_second"].values())),
            )
        )
        guarded = run_act(
            Act("guard", "act 2/2: the same rollout, v3 answers 503"),
            os.path.join(workdir, "guard"),
            module,
            args,
            out,
            statuses={"v3": 503},
        )
        for line in guarded["trip_log"]:
            out.say("Envoy logged: " + line)
    except KeyboardInterrupt:
        out.say("interrupted: stopping the client and Envoy")
        return 130
    except envoylab.EnvoyError as failure:
        print("rollout-demo: Envoy did not start:\n%s" % failure, file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    after = guarded.get("after_trip", {})
    ok = (
        ramp["failed"] == 0
        and set(ramp["last_second"]) == {"v3"}
        and guarded["tripped"]
        and after.get("failed") == 0
        and after.get("v3") == 0
    )
    summary = {"ramp": ramp, "guard": guarded, "ok": ok, "last_line": summary_line(ramp, guarded)}
    out.say(summary["last_line"])
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0 if ok else 1
