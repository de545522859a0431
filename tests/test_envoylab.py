"""The harness itself, against Envoy without the filter: if these fail, the e2e results mean nothing."""

import collections

import pytest

from tools import envoylab as lab


@pytest.fixture(scope="module")
def plain():
    """Envoy without the filter; routes: cluster header on /reviews, tag mode on /tags, fixed v2 on /."""
    routes = [lab.cluster_header_route(prefix="/reviews", name="by-header")]
    routes += lab.tag_routes({v: v for v in lab.VERSIONS}, prefix="/tags", name_prefix="tag-")
    routes += [lab.cluster_route("v2", name="fixed")]
    clusters = {**lab.clusters_named(), **lab.clusters_named("{subset}")}
    with lab.launch(None, routes=routes, clusters=clusters) as envoy:
        yield envoy


def test_cluster_header_route_reaches_the_named_upstream(plain):
    for version in lab.VERSIONS:
        answer = lab.request(plain.port, headers={lab.CLUSTER_HEADER: lab.istio_cluster(version)})
        assert answer.status == 200
        assert answer.headers["x-version"] == version
        assert answer.headers["x-echo-" + lab.CLUSTER_HEADER] == lab.istio_cluster(version)
        assert ('"podname": "reviews-%s"' % version) in answer.body.decode()


def test_missing_cluster_header_is_503(plain):
    assert lab.request(plain.port).status == 503


def test_tag_routes_and_fixed_route(plain):
    assert lab.request(plain.port, path="/tags", headers={lab.TAG_HEADER: "v3"}).headers["x-version"] == "v3"
    assert lab.request(plain.port, path="/tags", headers={lab.TAG_HEADER: "v9"}).headers["x-version"] == "v2"
    assert lab.request(plain.port, path="/other").headers["x-version"] == "v2"


def test_send_requests_counts_versions_and_statuses(plain):
    tally = lab.send_requests(plain.port, 300, headers={lab.CLUSTER_HEADER: lab.istio_cluster("v1")}, connections=3)
    assert tally == lab.Tally(collections.Counter(v1=300), collections.Counter({200: 300}), 300)
    missing = lab.send_requests(plain.port, 5)
    assert missing.versions == {None: 5} and missing.statuses == {503: 5}


def test_bytes_header_values_go_on_the_wire(plain):
    answer = lab.request(plain.port, headers=[(lab.CLUSTER_HEADER, b"\xff\xfe not utf-8")])
    assert answer.status == 503  # no such cluster, but Envoy took the request


def test_send_requests_is_bounded_by_time(plain):
    with pytest.raises(TimeoutError):
        lab.send_requests(plain.port, 10**9, time_limit=0.2)


def test_stats_and_restart_keep_the_same_ports(plain):
    before = plain.stats("upstream_rq_200")
    lab.request(plain.port, headers={lab.CLUSTER_HEADER: lab.istio_cluster("v3")})
    name = "cluster.%s.upstream_rq_200" % lab.istio_cluster("v3")
    assert plain.stats("upstream_rq_200")[name] == before.get(name, 0) + 1
    pid, ports = plain.pid, dict(plain.ports)
    plain.restart()
    assert plain.pid != pid and plain.ports == ports
    assert lab.request(plain.port, path="/other").status == 200


def test_startup_failure_returns_the_log():
    bad = lab.render_bootstrap(None, routes=[lab.cluster_route("no-such-cluster")])
    log = lab.expect_startup_failure(bad)
    assert "no-such-cluster" in log


def test_startup_failure_check_fails_when_envoy_starts():
    with pytest.raises(AssertionError, match="became ready"):
        lab.expect_startup_failure(lab.render_bootstrap(None))


def test_shares_accept_a_fair_split_and_reject_a_skewed_one():
    lab.assert_shares({"v1": 510, "v3": 490}, {"v1": 1, "v3": 1})
    with pytest.raises(AssertionError):
        lab.assert_shares({"v1": 700, "v3": 300}, {"v1": 1, "v3": 1})


def test_zero_share_means_exactly_zero_and_strangers_fail():
    lab.assert_shares({"v1": 1000}, {"v1": 5, "v2": 0})
    with pytest.raises(AssertionError):
        lab.assert_shares({"v1": 999, "v2": 1}, {"v1": 5, "v2": 0})
    with pytest.raises(AssertionError):
        lab.assert_shares({"v1": 999, None: 1}, {"v1": 1})
    with pytest.raises(AssertionError):
        lab.assert_shares({}, {"v1": 1})


def test_sample_size_follows_the_5_sigma_rule():
    assert lab.sample_size(0.5, 0.05) == 2500 + 1000
    assert lab.sample_size({"v1": 1, "v3": 3}, 0.05) == 1875 + 1000
    assert lab.sample_size({"v1": 0, "v2": 1}, 0.05) == 1000


def test_check_shares_judges_every_destination_without_raising():
    problems, rows = lab.check_shares({"v1": 700, "v3": 300}, {"v1": 1, "v2": 0, "v3": 1})
    assert problems == ["v1", "v3"] and len(rows) == 3 and "v2" in rows[1]
    assert lab.check_shares({"v1": 510, "v3": 490}, {"v1": 1, "v3": 1})[0] == []
    assert lab.check_shares({}, {"v1": 1})[0] == ["no traffic"]
