"""A steady load on every worker of an ECDS-fed Envoy while its plugin configuration is swapped, and the judging
of the time-stamped answers against the configuration each stage should serve.

Built from envoylab's parts: envoylab.ecds (the ECDS-fed Envoy, pushes and Envoy's verdict) and
envoylab.PacedClient (a paced keep-alive client stamping every answer with its send time).
"""

import collections
import time

from tools import envoylab as lab

# A request is routed when Envoy reads it, a moment after it was sent: one sent this long before a rename may
# already meet the new configuration.
LEAD = 0.1


def clients_on_every_worker(envoy, per_worker: int, rate: float, max_seconds: float):
    """({worker: [running PacedClient]} with `per_worker` each, [PacedClients stopped because their worker was
    full]): their answers count too."""

    def open_one():
        client = lab.PacedClient(envoy.port, rate, int(rate * max_seconds), max_seconds)
        client.start()
        deadline = time.monotonic() + 5
        while not client.answers and time.monotonic() < deadline:
            time.sleep(0.005)
        if not client.answers:
            client.stop()
            raise AssertionError("a new client got no answer within 5 s")
        return client

    return lab.on_every_worker(envoy, per_worker, open_one, lab.PacedClient.stop)


def settled_answers(clients, renamed: float, settle: float) -> int:
    """Answers judge_stage would count as settled if the next rename came now."""
    return sum(len(c.answers_between(renamed + settle, time.monotonic() - LEAD)) for c in clients)


def timeline(clients) -> list:
    """[(send time, answer)] of every client, in send order."""
    return sorted((t, a) for c in clients for t, a in zip(c.started_at, c.answers))


def destinations(weights: dict) -> set:
    return {version for version, weight in weights.items() if weight}


def judge_stage(answers: list, start: float, end: float, old: set, new: set, following: set, settle: float) -> dict:
    """Answers sent in [start, end): the configuration serving `old` destinations before `start` (the rename),
    `new` after it, `following` after `end` (the next rename). Allowed: old or new during the first `settle`
    seconds, new or following in the last LEAD seconds, otherwise new only. In force: the first answer after
    the last one outside `new` (LEAD tail left out); first new: the first answer only `new` explains."""

    def allowed(t):
        return (old if t < start + settle else set()) | new | (following if t >= end - LEAD else set())

    window = [(t, a) for t, a in answers if start <= t < end]
    body = [(t, a) for t, a in window if t < end - LEAD]
    stale = [t for t, a in body if a not in new]
    in_force = next((t for t, _ in body if not stale or t > stale[-1]), None)
    first_new = next((t for t, a in body if a in new - old), None)
    return {
        "requests": len(window),
        "stale": len(stale),  # answers from `old` only, all within the settle time
        "wrong": [(round(t - start, 4), a) for t, a in window if a not in allowed(t)][:10],
        "in_force_ms": None if in_force is None else round(1000 * (in_force - start), 2),
        "first_new_ms": None if first_new is None else round(1000 * (first_new - start), 2),
        "settled": collections.Counter(a for t, a in body if t >= start + settle),
    }
