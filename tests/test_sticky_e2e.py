"""Sticky destinations (`http[].sticky`) in a real Envoy.

With the key (a header or a cookie) present, the destination is a fixed hash of the key: each user keeps one
destination across requests, connections, worker threads and restarts; across many users the shares follow the
weights; and when one destination's weight grows, no user leaves it. Without the key the choice is random.
Every test runs once for a header key and once for a cookie key.
"""

import collections
import dataclasses

import pytest

from tools import envoylab as lab

from conftest import BOTH_SHELLS
from shift_configs import RESPONSE_HEADER, config, entry, split
from user_traffic import Pool, connections_by_worker, destinations, only_destination

pytestmark = BOTH_SHELLS

TOLERANCE = 0.06
REPEATS = 5
USERS = ["user-%d" % i for i in range(200)]
# Other cookies around the user's, in a different place each round: the user must not notice.
COOKIE_FRAMES = ["user=%s", "theme=dark; user=%s", "user=%s; lang=en", "a=1;user=%s ;b=2", "s=xyz; user=%s; o=user"]


@dataclasses.dataclass
class StickyKey:
    sticky: dict
    weights: dict  # the split
    ramped: dict  # the split after v3 grew to 80
    headers: callable  # (user, round) -> request headers

    def config(self, weights=None) -> dict:
        return config(entry("sticky", split(weights or self.weights), sticky=self.sticky))


KEYS = {
    "header": StickyKey(
        {"header": "x-user-id"}, {"v1": 50, "v3": 50}, {"v1": 20, "v3": 80}, lambda user, round_: {"x-user-id": user}
    ),
    "cookie": StickyKey(
        {"cookie": "user"},
        {"v1": 20, "v2": 30, "v3": 50},
        {"v1": 8, "v2": 12, "v3": 80},
        lambda user, round_: {"cookie": COOKIE_FRAMES[round_ % len(COOKIE_FRAMES)] % user},
    ),
}


@pytest.fixture(scope="module", params=KEYS.keys())
def key(request) -> StickyKey:
    return KEYS[request.param]


def assignment(envoy, key: StickyKey, users=USERS, repeats: int = 1, connections: int = 4) -> dict:
    """{user: the one version that user reached}; fails if any user reached two."""
    with Pool(envoy.port, connections) as pool:
        return only_destination(destinations(pool, users, key.headers, repeats))


def many_users(weights) -> list:
    return ["someone-%d@example.com" % i for i in range(lab.sample_size(weights, TOLERANCE))]


def test_each_user_keeps_one_destination(envoy_for, key):
    envoy = envoy_for(key.config())
    chosen = assignment(envoy, key, repeats=REPEATS)
    assert set(chosen.values()) == set(key.weights)  # 200 users all on one side: odds below 2^-100


def test_response_header_names_the_users_cluster(envoy_for, key):
    envoy = envoy_for(key.config())
    with Pool(envoy.port) as pool:
        for user in USERS[:50]:
            answer = pool.send(key.headers(user, 0))
            assert answer.headers[RESPONSE_HEADER] == lab.istio_cluster(answer.headers["x-version"])


def test_shares_across_users_follow_the_weights(envoy_for, key):
    envoy = envoy_for(key.config())
    chosen = assignment(envoy, key, users=many_users(key.weights))
    lab.assert_shares(collections.Counter(chosen.values()), key.weights)


def test_requests_without_the_key_are_split_at_random(envoy_for, key):
    envoy = envoy_for(key.config())
    # For the cookie key: other cookies, but not `user`.
    headers = {"cookie": "theme=dark; username=x; users=y"} if "cookie" in key.sticky else {"x-user": "u1"}
    tally = lab.send_requests(envoy.port, lab.sample_size(key.weights, TOLERANCE), headers=headers)
    assert tally.statuses == {200: tally.sent}
    lab.assert_shares(tally, key.weights)


def test_same_assignment_after_restart(envoy_for, key):
    envoy = envoy_for(key.config())
    before = assignment(envoy, key)
    envoy.restart()
    assert assignment(envoy, key) == before


def test_same_assignment_on_every_worker_thread(envoy_for, key):
    reference = assignment(envoy_for(key.config()), key)  # one worker
    envoy = envoy_for(key.config(), concurrency=2)
    by_worker = connections_by_worker(envoy, per_worker=2)
    assert sorted(by_worker) == [0, 1]
    # Each user asks 4 times in a row over the 4 connections in turn: twice on each worker.
    with Pool(connections=[c for conns in by_worker.values() for c in conns]) as pool:
        assert only_destination(destinations(pool, USERS, key.headers, repeats=4)) == reference


def test_ramp_is_monotone(envoy_for, key):
    users = many_users(key.ramped)
    before = assignment(envoy_for(key.config()), key, users=users)
    after = assignment(envoy_for(key.config(key.ramped)), key, users=users)
    left = {user: (before[user], after[user]) for user in users if after[user] not in (before[user], "v3")}
    assert not left, "%d users moved other than onto the growing v3, e.g. %r" % (len(left), list(left.items())[:5])
    lab.assert_shares(collections.Counter(after.values()), key.ramped)
    assert sum(before[u] != after[u] for u in users) > 0.1 * len(users)  # the ramp moved users (about 30%)
