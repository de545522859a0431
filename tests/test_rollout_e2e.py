"""Scheduled rollouts and the canary guard in real Envoys with two workers each, on both builds of the filter
(the Wasm module and the native dynamic module: same configuration, same weights, gauges and log lines).

The ramp: one configuration, pushed once, moves all-v1 -> 25% -> 50% -> 75% -> all-v3 by itself, one step every
4 s. Two separate Envoys run it side by side: the build under test and the Wasm build. Requests without a user
key are judged per step (5 sigma; answers sent within EDGE of a step's instant are left out: timer lateness plus
routing time); sticky users ask both Envoys in turn: none ever moves back to v1, and both Envoys give a user the
same version at the same time (outside the same EDGE around each step).

The guard: a rollout at 50% towards a v3 that answers 503, or whose port is closed, trips; after one more
tick no request on either worker reaches v3 and none fails; the same configuration pushed again stays tripped,
a changed one starts over. The guard counts only what the upstream did: requests the client resets before any
answer (a slow v3 it gives up on) are not counted, however many; and a rollout whose last step has been in
force for its window plus bakeTime is no longer watched, so a failing v3 no longer trips it.
"""

import collections
import concurrent.futures
import dataclasses
import json
import socket
import threading
import time

import pytest

from tools import envoylab as lab
from tools.envoylab.rollout import TICK, next_second, rollout_entry, rollout_state, shares_at

from conftest import BOTH_SHELLS
from load_shift import timeline
from shift_configs import RESPONSE_HEADER, config
from user_traffic import Pool, connections_by_worker

pytestmark = BOTH_SHELLS

WORKERS = 2
TARGET = {"v1": 0, "v3": 100}
ALL_V1 = {"v1": 100, "v3": 0}
STEPS = [(0, 25), (4, 50), (8, 75), (12, 100)]  # (seconds after start, progress)
BEFORE = AFTER = 1.5  # seconds of traffic before the start and after the last step
# An answer sent this long before / after a step's instant may meet either side: a tick (100 ms) plus a busy
# machine's late wake of the timer (passes at 5 ms / 20 ms on an idle machine).
EDGE = (0.02, 0.25)
USERS = ["user-%d" % i for i in range(300)]
MAX_SECONDS = 40.0  # bound of every traffic loop here
RATE = 1500  # requests per second per random client (the machine decides what it really gets)
V3 = lab.istio_cluster("v3")
GUARD = {"maxErrorRate": 0.1, "minRequests": 20, "window": "5s"}


def step_of(offset: float):
    """The step index in force `offset` seconds after the start (-1 before it); None near an edge."""
    if any(-EDGE[0] <= offset - at < EDGE[1] for at, _ in STEPS):
        return None
    return sum(offset >= at for at, _ in STEPS) - 1


def weights_of(step: int) -> dict:
    return shares_at(STEPS[step][1] if step >= 0 else 0, ALL_V1, TARGET)


@dataclasses.dataclass
class Ramp:
    start: float  # wall-clock start of the rollout
    random: list  # [(seconds after start, version)] of requests without a user key
    pairs: list  # [(seconds after start of the first send, of the second answer, user, version A, version B)]
    logs: list  # each Envoy's log
    gauges: list  # each Envoy's rollout gauges at the end


def ask_both(pools, start: float, until: float, pairs: list, stop: threading.Event):
    """Each user in turn asks Envoy A, then Envoy B, until `until` (wall clock)."""
    deadline = time.monotonic() + MAX_SECONDS
    turn = 0
    while time.time() < until and time.monotonic() < deadline and not stop.is_set():
        user = USERS[turn % len(USERS)]
        turn += 1
        sent = time.time() - start
        answers = [pool.send({"x-user-id": user}) for pool in pools]
        assert all(a.status == 200 for a in answers), [a.status for a in answers]
        pairs.append((sent, time.time() - start, user) + tuple(a.headers.get("x-version") for a in answers))


@pytest.fixture(scope="module")
def ramp(module, shell) -> Ramp:
    start = next_second(4.0 + BEFORE)  # both Envoys start first (a slow start only shortens the "before")
    plugin = config(rollout_entry(start, STEPS, target=TARGET, start_weights=ALL_V1, sticky={"header": "x-user-id"}))
    envoys, clients, pairs, stop = [], [], [], threading.Event()
    try:
        # Envoy A runs the build under test, Envoy B the Wasm build: on the native run, the two builds must
        # agree on every sticky user at the same instant.
        for envoy_shell in (shell, "wasm"):
            envoys.append(lab.launch(plugin, module=module, shell=envoy_shell, concurrency=WORKERS))
        time.sleep(max(0.0, start - BEFORE - time.time()))
        wall_minus_monotonic = time.time() - time.monotonic()
        end = start + STEPS[-1][0] + AFTER
        clients = [lab.PacedClient(envoys[0].port, RATE, int(RATE * MAX_SECONDS), MAX_SECONDS) for _ in range(2)]
        with Pool(envoys[0].port, 2) as pool_a, Pool(envoys[1].port, 2) as pool_b:
            sticky = threading.Thread(target=ask_both, args=((pool_a, pool_b), start, end, pairs, stop), daemon=True)
            for thread in clients + [sticky]:
                thread.start()
            sticky.join(MAX_SECONDS)
        stop.set()
        for client in clients:
            client.stop()
        random = [(t + wall_minus_monotonic - start, a) for t, a in timeline(clients)]
        gauges = [rollout_state(e) for e in envoys]
        return Ramp(start, random, pairs, [e.log() for e in envoys], gauges)
    finally:
        stop.set()
        for client in clients:
            client.stop()
        for envoy in envoys:
            envoy.close()


def test_the_ramp_runs_by_itself_step_by_step(ramp):
    assert not [a for _, a in ramp.random if a.startswith("failed")], "some requests failed"
    by_step = collections.defaultdict(collections.Counter)
    for offset, version in ramp.random:
        step = step_of(offset)
        if step is not None:
            by_step[step][version] += 1
    assert sorted(by_step) == [-1, 0, 1, 2, 3], sorted(by_step)
    for step, counts in sorted(by_step.items()):
        assert sum(counts.values()) >= (100 if step < 0 else 300), "step %d: only %r" % (step, dict(counts))
        lab.assert_shares(counts, weights_of(step))
    print("\nramp: %s" % ", ".join("step %d %s" % (s, dict(c)) for s, c in sorted(by_step.items())))


def test_each_step_is_logged_once_per_envoy_and_the_gauges_end_on_the_target(ramp):
    for log, gauges in zip(ramp.logs, ramp.gauges):
        for number, (_, progress) in enumerate(STEPS, 1):
            line = "rollout reviews: step %d of %d in force, progress %d%%" % (number, len(STEPS), progress)
            assert log.count(line) == 1, "%r logged %d times (two workers, one line)" % (line, log.count(line))
        assert log.count("rollout reviews: waiting for its start") == 1
        assert (gauges["progress"], gauges["tripped"]) == (100, 0), gauges
        assert gauges["share"] == {V3: 1_000_000, lab.istio_cluster("v1"): 0}, gauges


def test_sticky_users_never_move_back(ramp):
    for side in (3, 4):  # Envoy A, Envoy B
        path = collections.defaultdict(list)
        for pair in sorted(ramp.pairs):
            path[pair[2]].append((pair[0], pair[side]))
        back = {}
        for user, seen in path.items():
            versions = [v for _, v in seen]
            if "v3" in versions and "v1" in versions[versions.index("v3") :]:
                back[user] = [(round(t, 3), v) for t, v in seen if v == "v3"][:2]
        assert not back, "%d users went back to v1, first v3 answers: %r" % (len(back), list(back.items())[:5])
        moved = sum(1 for seen in path.values() if seen[0][1] == "v1" and seen[-1][1] == "v3")
        assert len(path) == len(USERS) and moved > 0.5 * len(USERS), (len(path), moved)


def test_two_envoys_give_each_user_the_same_version_at_the_same_time(ramp):
    clear = [p for p in ramp.pairs if step_of(p[0]) is not None and step_of(p[0]) == step_of(p[1])]
    differ = [p for p in clear if p[3] != p[4]]
    assert len(clear) > 0.8 * len(ramp.pairs) and len(clear) > 1000, (len(clear), len(ramp.pairs))
    assert not differ, "%d of %d pairs differ, e.g. %r" % (len(differ), len(clear), differ[:5])
    assert {p[3] for p in clear} == {"v1", "v3"}


def guarded(start: float) -> str:
    return json.dumps(
        config(rollout_entry(start, [(0, 50), (3600, 100)], target=TARGET, start_weights=ALL_V1, guard=GUARD))
    )


def send_over(connections, n: int) -> collections.Counter:
    """n requests over the connections in turn: {(status, cluster chosen)}."""
    with_pool = Pool(connections=connections)
    tally = collections.Counter()
    deadline = time.monotonic() + MAX_SECONDS
    for _ in range(n):
        assert time.monotonic() < deadline, "requests took longer than %.0fs" % MAX_SECONDS
        answer = with_pool.send({})
        tally[(answer.status, answer.headers.get(RESPONSE_HEADER))] += 1
    return tally


def send_until_tripped(envoy, connections) -> collections.Counter:
    tally = collections.Counter()
    for _ in range(100):
        tally += send_over(connections, 10)
        if rollout_state(envoy)["tripped"] == 1:
            return tally
    raise AssertionError("the guard did not trip: %r" % dict(tally))


@pytest.mark.parametrize("canary", ["failing", "absent"])
def test_a_broken_canary_trips_the_guard_on_every_worker(module, shell, tmp_path, canary):
    broken = {"statuses": {"v3": 503}} if canary == "failing" else {"absent": ("v3",)}
    start = float(int(time.time()) - 1)
    text = guarded(start)
    watched = str(tmp_path / "ecds")
    envoy = lab.ecds.launch(watched, text, module, concurrency=WORKERS, shell=shell, **broken)
    by_worker = connections_by_worker(envoy, per_worker=2)
    connections = [c for conns in by_worker.values() for c in conns]
    try:
        assert sorted(by_worker) == [0, 1]
        before = send_until_tripped(envoy, connections)
        v1 = lab.istio_cluster("v1")
        assert {key for key in before if key[1] == v1} <= {(200, v1)}, "stable v1 failed: %r" % before
        # (connections_by_worker's own requests count too: the guard's counter is checked below)
        assert sum(n for (status, cluster), n in before.items() if cluster == V3 and status >= 500) > 0, before
        time.sleep(3 * TICK)  # the other worker reads the trip on its next tick (a busy machine fires timers late)
        assert send_over(connections, 400) == {(200, v1): 400}
        log = envoy.log()
        assert log.count("rollout reviews tripped:") == 1, "one trip line per Envoy"
        assert "requests to the new version failed" in log and "in the last 5000 ms" in log
        state = rollout_state(envoy)
        assert state["errors"][V3] >= 20 and state["share"][V3] == 0 and state["progress"] == 0, state
        exported = envoy.admin("/stats/prometheus")
        for name, described in lab.metrics.METRICS.items():
            if name.startswith("traffic_shift_rollout_"):
                assert exported.count("# TYPE %s %s\n" % (name, described["type"])) == 1, name

        assert lab.ecds.push(envoy, watched, text, module, shell).accepted
        assert send_over(connections, 200) == {(200, v1): 200}, "the same configuration again stays tripped"

        assert lab.ecds.push(envoy, watched, guarded(start - 1), module, shell).accepted
        again = send_over(connections, 100)
        assert sum(n for (_, cluster), n in again.items() if cluster == V3) > 0, "a new config starts over: %r" % again
    finally:
        for connection in connections:
            connection.close()
        envoy.close()


PUSHES = 30  # configurations pushed one after another to show the guard's shared keys do not grow


def test_pushes_reuse_the_entrys_one_shared_key(module, shell, tmp_path):
    """Each push of a changed guarded rollout takes the entry's one shared key over (the filter names every key
    it creates or takes over in its log), so pushes add no keys; the same configuration again keeps it."""
    start = float(int(time.time()) - 1)
    watched = str(tmp_path / "ecds")
    envoy = lab.ecds.launch(watched, guarded(start), module, concurrency=WORKERS, shell=shell)
    try:
        for push in range(1, PUSHES + 1):
            assert lab.ecds.push(envoy, watched, guarded(start - push), module, shell).accepted
        assert lab.ecds.push(envoy, watched, guarded(start - PUSHES), module, shell).accepted  # the same again
        claims = [
            line.split("guard state in shared key ", 1)[1]
            for line in envoy.log().splitlines()
            if "guard state in shared key " in line
        ]
        key = "traffic-shift/rollout/reviews"
        assert claims.count(key + " (created)") == 1, claims
        assert claims.count(key + " (taken over from the previous configuration)") == PUSHES, claims
        assert len(claims) == PUSHES + 1, "only that key, once per push: %r" % claims
    finally:
        envoy.close()


RESETS = 300  # requests the client gives up on, over THREADS connections at a time
THREADS = 6


def test_requests_the_client_resets_never_trip_the_guard(module, shell):
    """v3 accepts connections and never answers; the client gives up on each such request and closes its
    connection, so Envoy resets the stream before any response. Hundreds of them must not count: the client,
    not the upstream, ended them (an attacker must not be able to roll a healthy canary back)."""
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(512)  # connections complete in the kernel; nothing ever reads or answers
        plugin = config(
            rollout_entry(
                float(int(time.time()) - 1),
                [(0, 90), (3600, 100)],
                target=TARGET,
                start_weights=ALL_V1,
                guard={**GUARD, "minRequests": 5},
            )
        )
        with lab.launch(
            plugin,
            module=module,
            shell=shell,
            concurrency=WORKERS,
            absent=("v3",),
            ports={"v3": black_hole.getsockname()[1]},
        ) as envoy:

            def one(_):
                try:
                    return lab.request(envoy.port, timeout=0.05).status
                except TimeoutError:  # socket.timeout is the same class
                    return "gave up"

            with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
                outcomes = collections.Counter(pool.map(one, range(RESETS)))
            time.sleep(3 * TICK)  # every worker publishes what it counted
            state = rollout_state(envoy)
            assert outcomes["gave up"] >= 200 and set(outcomes) <= {200, "gave up"}, outcomes
            assert state["tripped"] == 0 and state["progress"] == 90, (outcomes, state)
            assert state["errors"].get(V3, 0) == 0, state
            assert "tripped" not in envoy.log()


def test_a_finished_rollout_past_window_and_bake_time_no_longer_trips(module, shell):
    """The last step took effect 8 s ago; window 5 s + bakeTime 1 s are over: v3 answering 503 to every
    request is no longer the guard's business (it would have rolled a finished rollout back)."""
    start = float(int(time.time()) - 10)
    plugin = config(
        rollout_entry(
            start,
            [(0, 50), (2, 100)],
            target=TARGET,
            start_weights=ALL_V1,
            guard={**GUARD, "minRequests": 5, "bakeTime": "1s"},
        )
    )
    with lab.launch(plugin, module=module, shell=shell, concurrency=WORKERS, statuses={"v3": 503}) as envoy:
        by_worker = connections_by_worker(envoy, per_worker=2)
        connections = [c for conns in by_worker.values() for c in conns]
        try:
            tally = send_over(connections, 300)
            time.sleep(3 * TICK)
            assert tally == {(503, V3): 300}, tally
            state = rollout_state(envoy)
            assert (state["tripped"], state["progress"]) == (0, 100), state
            assert state["errors"].get(V3, 0) == 0, state
            assert "tripped" not in envoy.log()
        finally:
            for connection in connections:
                connection.close()
