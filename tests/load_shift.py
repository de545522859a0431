"""A steady load on every worker of an ECDS-fed Envoy while its plugin configuration is swapped, and the judging
of the time-stamped answers against the configuration each stage should serve.

Built from the demo's parts: lab.bootstrap (the ECDS-fed Envoy), ecds_file (atomic rename into the watched
directory), ecds_status (Envoy's verdict) and client.Client (a paced keep-alive client stamping every answer
with its send time).
"""
import collections
import dataclasses
import time

from tools import envoylab as lab
from tools.demo import client as demo_client, ecds_file, ecds_status, lab as demo_lab
from user_traffic import worker_connection_counts as connections_per_worker

# A request is routed when Envoy reads it, a moment after it was sent: one sent this long before a rename may
# already meet the new configuration.
LEAD = 0.1


def start_envoy(watched_dir: str, first_config: str, module: str, workers: int) -> lab.Envoy:
    """The demo's ECDS Envoy (tools/demo/lab.start) with `workers` worker threads."""
    return demo_lab.start(watched_dir, first_config, module, concurrency=workers)


def clients_on_every_worker(envoy, per_worker: int, rate: float, max_seconds: float, max_clients: int = 16):
    """({worker: [running Client]} with `per_worker` each, [Clients stopped because their worker was full]).
    The kernel picks each connection's worker; the per-worker accept counters tell which one it picked."""
    by_worker = {worker: [] for worker in connections_per_worker(envoy)}
    extra = []
    for _ in range(max_clients):
        if all(len(clients) >= per_worker for clients in by_worker.values()):
            return by_worker, extra
        before = connections_per_worker(envoy)
        client = demo_client.Client(envoy.port, rate, int(rate * max_seconds), max_seconds)
        client.start()
        deadline = time.monotonic() + 5
        while not client.answers and time.monotonic() < deadline:
            time.sleep(0.005)
        after = connections_per_worker(envoy)
        grown = [worker for worker in after if after[worker] != before.get(worker, 0)]
        if not client.answers or len(grown) != 1:
            client.stop()
            raise AssertionError("a new client's worker is unknown (answers %r, accepts %r -> %r)"
                                 % (client.answers, before, after))
        if len(by_worker[grown[0]]) < per_worker:
            by_worker[grown[0]].append(client)
        else:
            client.stop()
            extra.append(client)
    for client in [c for clients in by_worker.values() for c in clients]:
        client.stop()
    raise AssertionError("after %d connections: %r per worker" % (
        max_clients, {w: len(c) for w, c in by_worker.items()}))


@dataclasses.dataclass
class Swap:
    renamed: float  # monotonic time just before the write (so propagation times are not flattered)
    outcome: ecds_status.Outcome
    moved: dict  # how much update_success / update_rejected / update_failure moved


def swap(envoy, watched_dir: str, text: str, module: str, shell: str = "wasm") -> Swap:
    """tools/demo/runner.apply, keeping the rename time and the counters' moves."""
    before, log_offset = ecds_status.counters(envoy), len(envoy.log())
    renamed = time.monotonic()
    ecds_file.write_resource(watched_dir, text, module, shell)
    outcome = ecds_status.wait_outcome(envoy, before, renamed, log_offset)
    after = ecds_status.counters(envoy)
    return Swap(renamed, outcome, {k: after.get(k, 0) - before.get(k, 0) for k in ecds_status.OUTCOMES})


def settled_answers(clients, renamed: float, settle: float) -> int:
    """Answers judge_stage would count as settled if the next rename came now."""
    return sum(len(c.answers_between(renamed + settle, time.monotonic() - LEAD)) for c in clients)


def timeline(clients) -> list:
    """[(send time, answer)] of every client, in send order."""
    return sorted((t, a) for c in clients for t, a in zip(c.started_at, c.answers))


def destinations(weights: dict) -> set:
    return {version for version, weight in weights.items() if weight}


def judge_stage(answers: list, start: float, end: float, old: set, new: set, following: set,
                settle: float) -> dict:
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
