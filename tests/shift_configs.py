"""Plugin configurations for the routing e2e tests (the filter's JSON shape), and a check that a request
ends where a configuration says.

"Labelled" configurations give every http entry its own lone destination whose subset is the entry's name and
whose cluster is named after it (`clusterName: "{subset}"`), so the response header names the entry that
applied, and one Envoy can check many match rules at once. A configuration Envoy must refuse is checked by the
one error line it logs (assert_refused_naming).
"""

import collections
import re

from tools import envoylab as lab
from tools.envoylab.configs import REVIEWS_HOST as ISTIO_HOST
from tools.envoylab.configs import destination, split

RESPONSE_HEADER = "x-traffic-shift-destination"
TOLERANCE = 0.05
SPLITS = {
    "50/50": {"v1": 50, "v3": 50},
    "20/30/50": {"v1": 20, "v2": 30, "v3": 50},
    "relative 1:3": {"v1": 1, "v3": 3},
    "zero weight gets nothing": {"v1": 0, "v2": 1, "v3": 1},
}


def shift(weights: dict, host=ISTIO_HOST, **top) -> dict:
    """Plugin config with one `reviews-shift` entry: {subset: weight} (weight None = no weight key)."""
    return {**top, "http": [{"name": "reviews-shift", "route": split(weights, host)}]}


def check_split(envoy, weights: dict, tolerance: float = TOLERANCE, **request_options) -> lab.Tally:
    """A 5-sigma sample of requests (sized for `tolerance`) all answered 200, in the shares of `weights`."""
    tally = lab.send_requests(envoy.port, lab.sample_size(weights, tolerance), **request_options)
    assert tally.statuses == {200: tally.sent}
    lab.assert_shares(tally, weights)
    return tally


def entry(name: str, route: list, *, match: list = None, sticky: dict = None) -> dict:
    item = {"name": name}
    if match is not None:
        item["match"] = match
    if sticky is not None:
        item["sticky"] = sticky
    item["route"] = route
    return item


def config(*entries, **top) -> dict:
    """A plugin configuration that reports its choice in RESPONSE_HEADER."""
    return {"responseHeader": RESPONSE_HEADER, **top, "http": list(entries)}


def labelled(rules: dict, **top):
    """rules: {label: match list or None}, in order. Returns (plugin config, clusters {label: version})."""
    entries = [entry(label, [destination(label)], match=match) for label, match in rules.items()]
    clusters = {label: lab.VERSIONS[i % len(lab.VERSIONS)] for i, label in enumerate(rules)}
    return config(*entries, clusterName="{subset}", **top), clusters


def expect_route(envoy, label, clusters: dict, n: int = 10, **request_options):
    """n requests all reach cluster `label` (and that cluster's upstream), or, for label None, none is routed:
    every answer is a 503 without a destination header."""
    tally = collections.Counter()
    for _ in range(n):
        answer = lab.request(envoy.port, **request_options)
        tally[(answer.status, answer.headers.get(RESPONSE_HEADER), answer.headers.get("x-version"))] += 1
    wanted = (503, None, None) if label is None else (200, label, clusters[label])
    assert tally == {wanted: n}, "%r: expected %d x %r, got %r" % (request_options, n, wanted, dict(tally))


def assert_refused_naming(module, config, path, words=(), shell="wasm"):
    """Envoy refuses to start with `config`, after one traffic-shift error naming `path` (and `words`)."""
    log = lab.expect_startup_failure(lab.render_bootstrap(config, module=module, shell=shell))
    messages = re.findall(r"traffic-shift: invalid configuration at (.*)", log)
    assert len(messages) == 1, "expected one traffic-shift configuration error, got %r" % messages
    message = messages[0]
    assert message.startswith(path), message
    for word in words:
        assert word in message, message
