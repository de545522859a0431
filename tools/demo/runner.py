"""Apply each stage to the running Envoy over ECDS, let traffic flow, and cut the client's record into stages.

A stage's window runs for `duration` seconds from the end of the previous one (just before its write).
Its first SETTLE seconds after Envoy accepted the file are left out of the share check (workers pick up
the new filter config a moment after the admin counters move) but still count as requests, and any
failure in them still counts as failed. Over the same settled window the filter's own counters
(traffic_shift_requests_total, read from /stats/prometheus by subset) are shown beside the client's count.
With `pages` (a pages.PageClient loading Bookinfo's product page), each stage also counts the stars the page
showed. With `pause`, it is called between stages (PACE=manual: wait for Enter), and the next stage's window
starts when it returns.
"""

import collections
import time

from tools import envoylab

from . import stages as stages_mod

SETTLE = 0.25


def run(envoy, watched_dir: str, module: str, stages: list, client, display, duration: float, pages=None, pause=None):
    """Yields one result dict per stage as it ends (see summary.py); starts `client` (and `pages`) once the
    first stage is applied, so no request meets the empty configuration Envoy starts with."""
    serving, weights = "nothing (no stage applied yet)", None
    started = time.monotonic()  # windows join up: each stage's begins where the last one's ended
    for index, stage in enumerate(stages, 1):
        written = time.monotonic()
        outcome = envoylab.ecds.push(envoy, watched_dir, stage.text, module)
        if outcome.accepted:
            serving, weights = stage.name, stage.weights
        display.applied(stage, index, len(stages), outcome, serving)
        for steady in (client, pages):
            if steady is not None and not steady.is_alive() and steady.ident is None:
                steady.start()
        counted_from = written + outcome.seconds + SETTLE
        end, interrupted = started + duration, False
        filter_counts = {}
        try:
            time.sleep(max(0.0, counted_from - time.monotonic()))
            counted_by_filter = _since(envoy, filter_requests(envoy))
            _show_each_second(client, display, stage, index, len(stages), started, end, counted_by_filter, pages)
            filter_counts = counted_by_filter()
        except KeyboardInterrupt:  # report the stage so far, then let the caller clean up
            end, interrupted = time.monotonic(), True
        result = _result(
            stage,
            outcome,
            serving,
            weights,
            client.answers_between(started, end),
            client.answers_between(counted_from, end),
        )
        result["filter_counts"] = filter_counts  # {subset: n}, the filter's count of the settled window
        result["envoy_pid"] = envoy.pid if envoy.running else None  # the same process all along?
        result["interrupted"] = interrupted
        if pages is not None:  # what the product page showed over the whole window, by its stars
            result["pages"] = dict(collections.Counter(pages.answers_between(started, end)))
            result["pages_settled"] = dict(collections.Counter(pages.answers_between(counted_from, end)))
        display.finished(result, index, len(stages))
        yield result
        if interrupted:
            raise KeyboardInterrupt
        started = end
        if pause is not None and index < len(stages):
            pause(stages[index], index + 1, len(stages))
            started = time.monotonic()


def filter_requests(envoy) -> collections.Counter:
    """The filter's own count so far: traffic_shift_requests_total by subset, {subset: n}."""
    return collections.Counter({subset: n for (subset,), n in envoylab.metrics.requests(envoy, by=("subset",)).items()})


def _since(envoy, baseline: collections.Counter):
    """A function returning how much the filter counted per subset since `baseline`."""
    return lambda: dict(filter_requests(envoy) - baseline)


def _show_each_second(
    client, display, stage, index: int, total: int, started: float, end: float, counted_by_filter, pages=None
):
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        now = time.monotonic()
        counts = collections.Counter(client.answers_between(now - 1, now))
        failed = sum(n for answer, n in counts.items() if answer.startswith("failed"))
        recent = pages.answers_between(max(started, now - 5), now) if pages is not None else None
        shown = {} if recent is None else {"pages": collections.Counter(recent)}
        display.second(stage, index, total, counts, failed, now - started, counted_by_filter(), **shown)


def _result(stage, outcome, serving: str, weights, answers: list, counted: list) -> dict:
    counts = collections.Counter(a for a in counted if not a.startswith("failed"))
    answered = collections.Counter(a for a in answers if not a.startswith("failed"))
    failures = collections.Counter(a for a in answers if a.startswith("failed"))
    return {
        "name": stage.name,
        "config": stage.path,
        "verdict": outcome.verdict,
        "reason": outcome.reason,
        "apply_ms": round(1000 * outcome.seconds, 1),
        "applied": ("applied live in %.0f ms" % (1000 * outcome.seconds))
        if outcome.accepted
        else "refused (%s), still serving %s" % (outcome.verdict, serving),
        "serving": serving,  # the stage whose configuration answered during this window
        "expected_weights": weights,
        "requests": len(answers),
        "answered": dict(answered),  # every answer of the window, by version: what the stage line shows
        "counted": sum(counts.values()),
        "counts": dict(counts),  # answers after the switch settled: what the share check judges
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "serving_label": stages_mod.label(weights),
    }
