"""Linked canaries (`sticky.cohort`), end to end: two Envoys stand for two services of one release, each with
its own canary share, and place thousands of users (a cookie) by the cohort alone.

Envoy A is "reviews" (the VirtualService shape, reviews v1 -> v3), Envoy B is "ratings" (the HTTPRoute shape,
Services ratings-v1 -> ratings-v2, the newer one given `version: v2`): other cluster names, other version names,
another shape. A header picks one of two entries of the same cohort on each Envoy, so one pair of Envoys shows
four shares. The users on each newer version are nested as the shares are, and the same users at equal shares.
During a rollout on both (wasm only: the native shell refuses rollouts), every pair of answers a user gets from
the two Envoys in a known step keeps the nesting, and no user leaves a new version.
"""

import collections
import time

import pytest

from tools import envoylab as lab
from tools.envoylab.rollout import next_second, rfc3339

from conftest import BOTH_SHELLS
from shift_configs import RESPONSE_HEADER
from user_traffic import MAX_SECONDS, Pool

COHORT = "release-2026-12"
STICKY = {"cookie": "user", "cohort": COHORT}
USERS = ["someone-%d@example.com" % i for i in range(2000)]
REVIEWS = "reviews.default.svc.cluster.local"


def ratings_cluster(version: str) -> str:
    return "outbound|9080||ratings-%s.default.svc.cluster.local" % version


# Envoy B's clusters: Istio's names for the Services ratings-v1 and ratings-v2, served by upstreams v1 and v2.
RATINGS_CLUSTERS = {ratings_cluster("v1"): "v1", ratings_cluster("v2"): "v2"}


def reviews_entry(share: int, rollout: dict = None) -> dict:
    """An http entry for requests with `x-share: <share>`: reviews v1 / v3 at 100 - share / share."""
    entry = {
        "name": "reviews-%d" % share,
        "match": [{"headers": {"x-share": {"exact": str(share)}}}],
        "sticky": STICKY,
        "route": [
            {"destination": {"host": REVIEWS, "subset": subset, "port": {"number": 9080}}, "weight": w}
            for subset, w in (("v1", 100 - share), ("v3", share))
        ],
    }
    if rollout:
        entry["rollout"] = rollout
    return entry


def ratings_rule(share: int, rollout: dict = None) -> dict:
    """An HTTPRoute rule for `x-share: <share>`: Services ratings-v1 / ratings-v2 at 100 - share / share."""
    rule = {
        "name": "ratings-%d" % share,
        "matches": [{"headers": [{"name": "x-share", "value": str(share)}]}],
        "sticky": STICKY,
        "backendRefs": [
            {"name": "ratings-v1", "port": 9080, "weight": 100 - share},
            {"name": "ratings-v2", "port": 9080, "weight": share, "version": "v2"},
        ],
    }
    if rollout:
        rule["rollout"] = rollout
    return rule


def reviews(*entries) -> dict:
    return {"responseHeader": RESPONSE_HEADER, "http": list(entries)}


def ratings(*rules) -> dict:
    return {"responseHeader": RESPONSE_HEADER, "rules": list(rules)}


def cookie(user: str) -> dict:
    return {"cookie": "theme=dark; user=%s" % user}


def ask(pool: Pool, user: str, share: int) -> str:
    answer = pool.send({**cookie(user), "x-share": str(share)})
    assert answer.status == 200, "%s at %d%%: status %d" % (user, share, answer.status)
    return answer.headers.get("x-version")


# --- Fixed shares -------------------------------------------------------------------------------------------------

REVIEWS_SHARES = (10, 40)
RATINGS_SHARES = (10, 25)


@pytest.fixture(scope="module")
def on_newer(module, shell) -> dict:
    """{(service, share): set of users on the newer version}, from the two Envoys running side by side."""
    plans = [
        ("reviews", reviews(*map(reviews_entry, REVIEWS_SHARES)), {}, REVIEWS_SHARES, "v3"),
        ("ratings", ratings(*map(ratings_rule, RATINGS_SHARES)), {"clusters": RATINGS_CLUSTERS}, RATINGS_SHARES, "v2"),
    ]
    envoys = [lab.launch(config, module=module, shell=shell, **options) for _, config, options, _, _ in plans]
    try:
        sets = {}
        for envoy, (service, _, _, shares, newer) in zip(envoys, plans):
            with Pool(envoy.port, 2) as pool:
                for share in shares:
                    versions = {user: ask(pool, user, share) for user in USERS}
                    assert set(versions.values()) == {"v1", newer}, (
                        service,
                        share,
                        collections.Counter(versions.values()),
                    )
                    lab.assert_shares(collections.Counter(versions.values()), {"v1": 100 - share, newer: share})
                    sets[(service, share)] = {user for user, version in versions.items() if version == newer}
        return sets
    finally:
        for envoy in envoys:
            envoy.close()


@BOTH_SHELLS
def test_equal_shares_put_the_same_users_on_both_new_versions(on_newer):
    assert on_newer[("reviews", 10)] == on_newer[("ratings", 10)]


@BOTH_SHELLS
def test_the_users_on_each_new_version_are_nested_by_share(on_newer):
    by_share = sorted(on_newer, key=lambda key: key[1])  # 10, 10, 25, 40
    for smaller, larger in zip(by_share, by_share[1:]):
        assert on_newer[smaller] <= on_newer[larger], "%r not within %r: %d users" % (
            smaller,
            larger,
            len(on_newer[smaller] - on_newer[larger]),
        )
    # Independent draws would put only 2.5% on both at 10% and 25%: here all of the 10% are.
    assert len(on_newer[("ratings", 10)]) > 0.05 * len(USERS)


# --- A rollout on both --------------------------------------------------------------------------------------------

# (seconds after start, progress); both ramp from all-old to all-new: reviews 20 -> 40 -> 60 -> 100%,
# ratings 10 -> 40 -> 80 -> 100%: ratings behind, then equal, then ahead.
REVIEWS_STEPS = [(0, 20), (2, 40), (4, 60), (6, 100)]
RATINGS_STEPS = [(0, 10), (2, 40), (4, 80), (6, 100)]
BEFORE, AFTER = 1.0, 1.2
# An answer this near a step's instant may meet either side: wider than test_rollout_e2e's (0.02, 0.1), since a
# busy machine fires the step timer late and one late side can invert the order of the two shares.
EDGE = (0.05, 0.5)
RAMP_USERS = USERS[:500]
RAMP_SHARE = 0  # the entries' x-share value during the rollout


def rollout(start: float, steps) -> dict:
    return {
        "from": [100, 0],
        "start": rfc3339(start),
        "steps": [{"at": "%dms" % (1000 * at), "progress": progress} for at, progress in steps],
    }


def step_at(offsets, steps):
    """The step index in force over the offsets (seconds after start; -1 before it), None near an edge."""
    found = set()
    for offset in offsets:
        if any(-EDGE[0] <= offset - at < EDGE[1] for at, _ in steps):
            return None
        found.add(sum(offset >= at for at, _ in steps) - 1)
    return found.pop() if len(found) == 1 else None


def share_at(step: int, steps) -> int:
    return steps[step][1] if step >= 0 else 0


@pytest.fixture(scope="module")
def ramp_pairs(module) -> list:
    """[(user, reviews step, reviews version, ratings step, ratings version)], steps None near an edge."""
    start = next_second(4.0 + BEFORE)
    # The rollouts grow the last destination from weight 0 to its target 100 (all new).
    entry = reviews_entry(RAMP_SHARE, rollout(start, REVIEWS_STEPS))
    entry["route"][0]["weight"], entry["route"][1]["weight"] = 0, 100
    rule = ratings_rule(RAMP_SHARE, rollout(start, RATINGS_STEPS))
    rule["backendRefs"][0]["weight"], rule["backendRefs"][1]["weight"] = 0, 100
    envoys = []
    try:
        envoys.append(lab.launch(reviews(entry), module=module))
        envoys.append(lab.launch(ratings(rule), module=module, clusters=RATINGS_CLUSTERS))
        time.sleep(max(0.0, start - BEFORE - time.time()))
        end = start + REVIEWS_STEPS[-1][0] + AFTER
        pairs, turn, deadline = [], 0, time.monotonic() + MAX_SECONDS
        with Pool(envoys[0].port) as pool_a, Pool(envoys[1].port) as pool_b:
            while time.time() < end and time.monotonic() < deadline:
                user = RAMP_USERS[turn % len(RAMP_USERS)]
                turn += 1
                sent = time.time() - start
                version_a = ask(pool_a, user, RAMP_SHARE)
                middle = time.time() - start
                version_b = ask(pool_b, user, RAMP_SHARE)
                answered = time.time() - start
                pairs.append(
                    (
                        user,
                        step_at((sent, middle), REVIEWS_STEPS),
                        version_a,
                        step_at((middle, answered), RATINGS_STEPS),
                        version_b,
                    )
                )
        return pairs
    finally:
        for envoy in envoys:
            envoy.close()


def test_during_a_rollout_on_both_the_new_versions_stay_nested_at_every_step(ramp_pairs):
    known = [p for p in ramp_pairs if p[1] is not None and p[3] is not None]
    broken, per_step = [], collections.Counter()
    for user, step_a, version_a, step_b, version_b in known:
        share_a, share_b = share_at(step_a, REVIEWS_STEPS), share_at(step_b, RATINGS_STEPS)
        new_a, new_b = version_a == "v3", version_b == "v2"
        if (share_a <= share_b and new_a and not new_b) or (share_b <= share_a and new_b and not new_a):
            broken.append((user, share_a, version_a, share_b, version_b))
        if step_a == step_b:
            per_step[step_a] += 1
    assert not broken, "%d of %d pairs not nested, e.g. %r" % (len(broken), len(known), broken[:5])
    # Every step was seen by both Envoys together, the equal one (step 1, 40%) included.
    assert sorted(per_step) == [-1, 0, 1, 2, 3], per_step
    assert all(per_step[step] >= 50 for step in range(3)), per_step


def test_during_a_rollout_no_user_leaves_a_new_version(ramp_pairs):
    for side, newer in ((2, "v3"), (4, "v2")):
        seen = collections.defaultdict(list)
        for pair in ramp_pairs:
            seen[pair[0]].append(pair[side])
        back = [
            user for user, versions in seen.items() if newer in versions and "v1" in versions[versions.index(newer) :]
        ]
        assert not back, "%d users went back to v1 on %s, e.g. %r" % (len(back), newer, back[:5])
        last_step = [p[side] for p in ramp_pairs if p[side - 1] == len(REVIEWS_STEPS) - 1]
        assert last_step and set(last_step) == {newer}, collections.Counter(last_step)
        moved = sum(1 for versions in seen.values() if versions[0] == "v1" and versions[-1] == newer)
        assert moved > 0.5 * len(seen), (moved, len(seen))
