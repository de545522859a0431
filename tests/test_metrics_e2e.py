"""The split as labelled Prometheus series, in a real Envoy.

With the tag regexes every Envoy config of ours carries (tools/envoylab/metrics.py, the form Istio generates
for `extraStatTags`), Envoy 1.40's /stats/prometheus shows one `traffic_shift_requests_total` series per
destination, labelled entry/destination/host/subset, while plain /stats keeps the full names with the same
counts. A live configuration change that renames an entry starts new series and leaves the old ones as they
were. The shipped filter-config/envoy/envoy.yaml gives the same labels.
"""

import collections
import json
import os

import pytest
import yaml

from tools import envoylab as lab
from tools.envoylab.ports import free_port
from tools.manifests import kit

import istio_bootstrap
from shift_configs import ISTIO_HOST, config, entry, split

SPLIT = {"v1": 20, "v2": 30, "v3": 50}
ENTRY = "reviews"
METRICS = lab.metrics


def labels(version: str, entry_name: str = ENTRY) -> dict:
    return {"entry": entry_name, "destination": lab.istio_cluster(version), "host": ISTIO_HOST, "subset": version}


def upstream_requests(envoy) -> collections.Counter:
    """What each upstream listener itself answered, from its own HTTP connection manager stats."""
    stats = envoy.stats(r"^http\.upstream-v[0-9]\.downstream_rq_total$")
    return collections.Counter({v: stats["http.upstream-%s.downstream_rq_total" % v] for v in lab.VERSIONS})


@pytest.fixture(scope="module")
def after_split(envoy_for):
    """An Envoy (two workers) that has served one sample of the 20/30/50 split: (envoy, tally, upstreams)."""
    envoy = envoy_for(config(entry(ENTRY, split(SPLIT))), concurrency=2)
    before = upstream_requests(envoy)
    tally = lab.send_requests(envoy.port, lab.sample_size(SPLIT), connections=4)
    return envoy, tally, upstream_requests(envoy) - before


def test_one_labelled_series_per_destination_counting_what_the_upstreams_saw(after_split):
    envoy, tally, upstreams = after_split
    assert tally.statuses == {200: tally.sent}
    assert upstreams == tally.versions
    lab.assert_shares(tally, SPLIT)

    samples = METRICS.prometheus(envoy)
    requests = [s for s in samples if s.name == METRICS.REQUESTS]
    assert all(list(s.labels) == METRICS.METRICS[METRICS.REQUESTS]["labels"] for s in requests)
    assert sorted((sorted(s.labels.items()), s.value) for s in requests) == sorted(
        (sorted(labels(v).items()), upstreams[v]) for v in SPLIT
    )
    assert [(s.labels, s.value) for s in samples if s.name == METRICS.UNMATCHED] == [({}, 0)]


def test_each_metric_is_one_prometheus_family(after_split):
    envoy = after_split[0]
    text = envoy.admin("/stats/prometheus")
    for name, described in METRICS.METRICS.items():
        if name.startswith("traffic_shift_rollout_"):
            continue  # only rollout entries have them (test_rollout_e2e.py checks them)
        assert text.count("# TYPE %s %s\n" % (name, described["type"])) == 1, name
    # Without the tag regexes the labels would be baked into long names such as traffic_shift_entry___…
    assert "traffic_shift_entry" not in text


def test_plain_stats_still_carry_the_counts(after_split):
    envoy, _, upstreams = after_split
    plain = envoy.stats("^" + METRICS.inclusion_prefix().replace(".", r"\."))
    by_labels = {}
    for name, value in plain.items():
        rest, tags = METRICS.tags_of(name)
        by_labels[(rest, tuple(sorted(tags.items())))] = value
    expected = {
        ("wasmcustom.traffic_shift.requests_total", tuple(sorted(labels(v).items()))): upstreams[v] for v in SPLIT
    }
    expected[("wasmcustom.traffic_shift.unmatched_requests_total", ())] = 0
    assert by_labels == expected


def test_our_label_names_are_not_envoys(after_split):
    """Envoy's default tags (envoy_cluster_name, envoy_response_code, ...) never take one of our names."""
    envoy = after_split[0]
    theirs = {
        label
        for s in METRICS.parse_prometheus(envoy.admin("/stats/prometheus"))
        if s.name not in METRICS.METRICS
        for label in s.labels
    }
    assert "envoy_cluster_name" in theirs  # the default tags are on
    assert theirs.isdisjoint(METRICS.TAGS)


def test_with_istios_bootstrap_our_mesh_settings_give_the_labels(module):
    """What a sidecar with filter-config/istio/metrics/ applied does, including the caveat the README states:
    Istio's unanchored `cache.` regex adds a label to a destination whose name contains `cache.`."""
    cache = "redis-cache.default.svc.cluster.local"
    plugin = config(entry(ENTRY, split({"v1": 1}) + split({"v3": 1}, host=cache)))
    clusters = {lab.istio_cluster("v1"): "v1", lab.istio_cluster("v3", cache): "v3"}
    bootstrap = lab.render_bootstrap(plugin, clusters=clusters, module=module)
    bootstrap["stats_config"] = istio_bootstrap.stats_config(METRICS.istio_proxy_config())
    with lab.Envoy(bootstrap) as sidecar:
        tally = lab.send_requests(sidecar.port, 200)
        samples = METRICS.prometheus(sidecar)
        everything = sidecar.admin("/stats/prometheus")
    assert "envoy_cluster_upstream_rq_total" not in everything  # the matcher drops what it does not keep
    series = {(frozenset(s.labels.items()), s.value) for s in samples if s.name == METRICS.REQUESTS}
    assert series == {
        (frozenset(labels("v1").items()), tally.versions["v1"]),
        (
            frozenset(
                {
                    **labels("v3"),
                    "destination": lab.istio_cluster("v3", cache),
                    "host": cache,
                    "cache": "default",
                }.items()
            ),
            tally.versions["v3"],
        ),
    }
    assert [s.labels for s in samples if s.name == METRICS.UNMATCHED] == [{}]


FORGER = "a;.;subset=.=v9;.;destination=.=x"  # an entry name shaped like the tags that follow it


def test_an_entry_name_cannot_forge_labels(envoy_for):
    envoy = envoy_for(config(entry(FORGER, split({"v2": 1}))))
    lab.send_requests(envoy.port, 5)
    series = [(s.labels, s.value) for s in METRICS.prometheus(envoy) if s.name == METRICS.REQUESTS]
    # ";" and "=" are written %3B and %3D, so the name stays one label and the real subset is kept.
    assert series == [(labels("v2", entry_name="a%3B.%3Bsubset%3D.%3Dv9%3B.%3Bdestination%3D.%3Dx"), 5)]


RENAMED = "reviews-canary"
RENAMED_HEADER = "x-renamed-destination"  # tells which configuration answered a request


def test_renaming_an_entry_live_starts_new_series_and_keeps_the_old(module, tmp_path):
    watched = str(tmp_path / "ecds")
    old = config(entry(ENTRY, split(SPLIT)))
    new = config(entry(RENAMED, split(SPLIT)), responseHeader=RENAMED_HEADER)
    envoy = lab.ecds.launch(watched, json.dumps(old), module)
    try:
        first = lab.send_requests(envoy.port, 300)
        before_swap = METRICS.requests(envoy, by=("entry", "subset"))
        assert lab.ecds.push(envoy, watched, json.dumps(new), module).accepted
        answered_by = collections.Counter()  # (entry whose configuration answered, version)
        for _ in range(1000):  # until the worker serves the new configuration, then 300 more
            answer = lab.request(envoy.port)
            assert answer.status == 200
            renamed = RENAMED_HEADER in answer.headers
            answered_by[(RENAMED if renamed else ENTRY, answer.headers["x-version"])] += 1
            if sum(n for (name, _), n in answered_by.items() if name == RENAMED) == 300:
                break
        after = METRICS.requests(envoy, by=("entry", "subset"))
        samples = METRICS.prometheus(envoy)
    finally:
        envoy.close()
    assert before_swap == {(ENTRY, v): first.versions[v] for v in SPLIT}
    expected = collections.Counter({(ENTRY, v): first.versions[v] for v in SPLIT})
    expected.update(answered_by)
    # Old series keep counting until the swap took effect, then stay; the renamed entry has its own.
    assert set(after) == {(name, v) for name in (ENTRY, RENAMED) for v in SPLIT}
    assert +after == +expected
    names = [s.name for s in samples]
    assert names.count(METRICS.REQUESTS) == 2 * len(SPLIT) and names.count(METRICS.UNMATCHED) == 1


def _on_free_ports(node, ports: dict):
    """The same config with every port_value moved to a free port (one new port per old one, so clusters
    still point at the listeners they named)."""
    if isinstance(node, dict):
        return {
            key: ports.setdefault(value, free_port()) if key == "port_value" else _on_free_ports(value, ports)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_on_free_ports(item, ports) for item in node]
    return node


def test_the_shipped_standalone_envoy_yaml_exports_the_labels(module):
    """filter-config/envoy/envoy.yaml as shipped (only its ports and module path changed) gives the labels."""
    with open(os.path.join(kit.KIT, "envoy", "envoy.yaml")) as f:
        shipped = yaml.safe_load(f.read().replace(kit.LOCAL_MODULE, module))
    stage = kit.load_stage(kit.STANDALONE_STAGE)
    host, port = stage.service()
    weights = {d["destination"]["subset"]: d["weight"] for d in stage.config["http"][0]["route"]}
    with lab.Envoy(_on_free_ports(shipped, {})) as envoy:
        tally = lab.send_requests(
            envoy.ports["outbound"],
            400,
            host="%s:%d" % (kit.short_host(host), port),
            version_header=stage.config["responseHeader"],
        )
        series = {
            (frozenset(s.labels.items()), s.value) for s in METRICS.prometheus(envoy) if s.name == METRICS.REQUESTS
        }
    assert tally.statuses == {200: 400}
    assert series == {
        (
            frozenset(
                {
                    "entry": stage.config["http"][0]["name"],
                    "destination": lab.istio_cluster(subset, host, port),
                    "host": host,
                    "subset": subset,
                }.items()
            ),
            tally.versions[lab.istio_cluster(subset, host, port)],
        )
        for subset in weights
    }
