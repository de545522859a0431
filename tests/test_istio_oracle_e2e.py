"""Istio's match semantics as Envoy 1.40 applies them: the same VirtualService match run by a plain Envoy route
built the way Istio's pilot translates it (pilot/pkg/networking/core/route/route.go: TranslateRouteMatch), the
oracle, and by the filter; both must give the answer the table expects.

One Envoy per build of the filter carries three listeners:
- "oracle": no filter; one route per case, Istio's translation of the case's match plus `x-case: <case>`,
  answering "yes" directly; anything else answers "no".
- "front": the filter with one entry per case (the same match plus `x-case: <case>`) and an entry reading
  `:authority` and `:method`, so the Wasm filter takes the whole header map in one call.
- "single": the same entries for the cases that read no pseudo-header but `:path`, so the Wasm filter reads
  headers one at a time (and a repeated header's later values through the whole map, on demand).
A filter answer is "yes" when the request reached the case's own cluster, "no" when no entry applied (503).
"""

import copy
import re

import pytest

from tools import envoylab as lab
from tools.envoylab.bootstrap import http_listener, shift_filter
from tools.envoylab.ports import free_port

from conftest import BOTH_SHELLS
from shift_configs import RESPONSE_HEADER

pytestmark = BOTH_SHELLS

CASE_HEADER = "x-case"

# case -> one VirtualService match block (without the x-case condition every case gets)
BLOCKS = {
    # A repeated header matches when any of its values does (headers and withoutHeaders alike).
    "any-exact": {"headers": {"x-env": {"exact": "prod"}}},
    "any-prefix": {"headers": {"x-env": {"prefix": "pro"}}},
    "any-regex": {"headers": {"x-env": {"regex": "p.*d"}}},
    "not-joined": {"headers": {"x-env": {"exact": "staging,prod"}}},
    "without-any": {"withoutHeaders": {"x-env": {"exact": "prod"}}},
    # withoutHeaders with a value: a missing header reads as "" (treat_missing_header_as_empty).
    "without-empty": {"withoutHeaders": {"x-beta": {"exact": ""}}},
    "without-dotstar": {"withoutHeaders": {"x-beta": {"regex": ".*"}}},
    "without-prefix": {"withoutHeaders": {"x-beta": {"prefix": "x"}}},
    # withoutHeaders `{}` and Istio's `regex: "*"`: absent (an inverted presence match).
    "without-star": {"withoutHeaders": {"x-beta": {"regex": "*"}}},
    "without-present": {"withoutHeaders": {"x-beta": {}}},
    # headers: `{}` is presence; an empty exact is a value.
    "present": {"headers": {"x-p": {}}},
    "exact-empty": {"headers": {"x-p": {"exact": ""}}},
    # Query parameters: name and value as sent, no percent-decoding; the first of a repeated one.
    "query-raw": {"queryParams": {"u": {"exact": "j%20son"}}},
    "query-decoded": {"queryParams": {"u": {"exact": "j son"}}},
    "query-name-raw": {"queryParams": {"us%20er": {}}},
    "query-name-decoded": {"queryParams": {"us er": {}}},
    "query-first": {"queryParams": {"u": {"exact": "a"}}},
    "query-second": {"queryParams": {"u": {"exact": "b"}}},
    "query-plus": {"queryParams": {"u": {"exact": "a+b"}}},
    "query-empty": {"queryParams": {"u": {"exact": ""}}},
    # ignoreUriCase: exact and prefix only (Envoy's case_sensitive does not apply to safe_regex).
    "nocase-regex": {"uri": {"regex": "/items/[0-9]+"}, "ignoreUriCase": True},
    "nocase-prefix": {"uri": {"prefix": "/NoCase/"}, "ignoreUriCase": True},
    "nocase-exact": {"uri": {"exact": "/Exact"}, "ignoreUriCase": True},
    # Header names in any case (Envoy matches names case-insensitively).
    "upper-name": {"headers": {"X-Upper": {"exact": "1"}}},
    "upper-without": {"withoutHeaders": {"X-Upper": {}}},
    # Pseudo-headers.
    "method-prefix": {"method": {"prefix": "P"}},
    "authority-exact": {"authority": {"exact": "ratings:9080"}},
}

# (row, case, request options, expected answer)
ROWS = [
    ("repeated, second value matches", "any-exact", {"headers": [("x-env", "staging"), ("x-env", "prod")]}, True),
    ("repeated, first value matches", "any-exact", {"headers": [("x-env", "prod"), ("x-env", "staging")]}, True),
    ("repeated, no value matches", "any-exact", {"headers": [("x-env", "dev"), ("x-env", "staging")]}, False),
    (
        "repeated, prefix on the second",
        "any-prefix",
        {"headers": [("x-env", "staging"), ("x-env", "production")]},
        True,
    ),
    ("repeated, regex on the second", "any-regex", {"headers": [("x-env", "a"), ("x-env", "prod")]}, True),
    ("repeated values are not joined", "not-joined", {"headers": [("x-env", "staging"), ("x-env", "prod")]}, False),
    (
        "without, one repeated value matches",
        "without-any",
        {"headers": [("x-env", "staging"), ("x-env", "prod")]},
        False,
    ),
    ("without, no repeated value matches", "without-any", {"headers": [("x-env", "staging"), ("x-env", "dev")]}, True),
    ("without, absent", "without-any", {}, True),
    ("without exact empty, absent", "without-empty", {}, False),
    ("without exact empty, empty", "without-empty", {"headers": [("x-beta", "")]}, False),
    ("without exact empty, a value", "without-empty", {"headers": [("x-beta", "x")]}, True),
    ("without regex .*, absent", "without-dotstar", {}, False),
    ("without regex .*, a value", "without-dotstar", {"headers": [("x-beta", "1")]}, False),
    ("without prefix, absent", "without-prefix", {}, True),
    ("without prefix, matching", "without-prefix", {"headers": [("x-beta", "xy")]}, False),
    ("without regex *, absent", "without-star", {}, True),
    ("without regex *, empty", "without-star", {"headers": [("x-beta", "")]}, False),
    ("without regex *, a value", "without-star", {"headers": [("x-beta", "1")]}, False),
    ("without {}, absent", "without-present", {}, True),
    ("without {}, present", "without-present", {"headers": [("x-beta", "1")]}, False),
    ("present, empty value", "present", {"headers": [("x-p", "")]}, True),
    ("present, absent", "present", {}, False),
    ("exact empty, empty", "exact-empty", {"headers": [("x-p", "")]}, True),
    ("exact empty, a value", "exact-empty", {"headers": [("x-p", "foo")]}, False),
    ("exact empty, absent", "exact-empty", {}, False),
    ("query value as sent", "query-raw", {"path": "/r?u=j%20son"}, True),
    ("query value not decoded", "query-decoded", {"path": "/r?u=j%20son"}, False),
    ("query name as sent", "query-name-raw", {"path": "/r?us%20er=1"}, True),
    ("query name not decoded", "query-name-decoded", {"path": "/r?us%20er=1"}, False),
    ("query, the first of a repeated one", "query-first", {"path": "/r?u=a&u=b"}, True),
    ("query, not the second", "query-second", {"path": "/r?u=a&u=b"}, False),
    ("query plus kept", "query-plus", {"path": "/r?u=a+b"}, True),
    ("query without =", "query-empty", {"path": "/r?u"}, True),
    ("query with empty value", "query-empty", {"path": "/r?u="}, True),
    ("ignoreUriCase leaves a regex alone", "nocase-regex", {"path": "/ITEMS/1"}, False),
    ("regex, its own case", "nocase-regex", {"path": "/items/1"}, True),
    ("ignoreUriCase prefix", "nocase-prefix", {"path": "/nocase/x"}, True),
    ("ignoreUriCase exact", "nocase-exact", {"path": "/EXACT?q=1"}, True),
    ("upper-case header name", "upper-name", {"headers": [("x-upper", "1")]}, True),
    ("upper-case name, sent in mixed case", "upper-name", {"headers": [("X-uPPer", "1")]}, True),
    ("upper-case withoutHeaders name", "upper-without", {"headers": [("x-upper", "1")]}, False),
    ("method prefix", "method-prefix", {"method": "POST"}, True),
    ("method prefix, other", "method-prefix", {"method": "GET"}, False),
    ("authority exact", "authority-exact", {"host": "ratings:9080"}, True),
    ("authority exact, other", "authority-exact", {"host": "ratings"}, False),
]

READS_ONLY_PATH = {"headers", "withoutHeaders", "queryParams", "uri", "ignoreUriCase"}
SINGLE_CASES = [case for case, block in BLOCKS.items() if set(block) <= READS_ONLY_PATH]


# -- Istio's translation of a match block into an Envoy RouteMatch (route.go, TranslateRouteMatch) -------------


def _present(match: dict) -> bool:
    # canBeConvertedToPresentMatch: no match type, or Istio's `regex: "*"`.
    return not match or match.get("regex") == "*"


def _string_matcher(match: dict) -> dict:
    ((kind, value),) = match.items()
    return {"safe_regex": {"regex": value}} if kind == "regex" else {kind: value}


def _header_matcher(name: str, match: dict) -> dict:
    if _present(match):
        return {"name": name, "present_match": True}
    return {"name": name, "string_match": _string_matcher(match)}


def istio_route_match(block: dict) -> dict:
    out = {"prefix": "/", "headers": []}
    for name, match in block.get("headers", {}).items():
        out["headers"].append(_header_matcher(name, match))
    for name, match in block.get("withoutHeaders", {}).items():
        matcher = _header_matcher(name, match)
        matcher["invert_match"] = True
        if not _present(match):
            matcher["treat_missing_header_as_empty"] = True
        out["headers"].append(matcher)
    uri = block.get("uri")
    if uri:
        ((kind, value),) = uri.items()
        del out["prefix"]
        out[{"exact": "path", "prefix": "prefix", "regex": "safe_regex"}[kind]] = (
            {"regex": value} if kind == "regex" else value
        )
    out["case_sensitive"] = not block.get("ignoreUriCase", False)
    for field in ("method", "authority", "scheme"):
        if field in block:
            out["headers"].append(_header_matcher(":" + field, block[field]))
    queries = []
    for name, match in block.get("queryParams", {}).items():
        queries.append(
            {"name": name, "present_match": True}
            if _present(match)
            else {"name": name, "string_match": _string_matcher(match)}
        )
    if queries:
        out["query_parameters"] = queries
    return out


# -- the Envoy ---------------------------------------------------------------------------------------------


def _with_case(case: str, block: dict) -> dict:
    tagged = copy.deepcopy(block)
    tagged.setdefault("headers", {})[CASE_HEADER] = {"exact": case}
    return tagged


def _entry(case: str) -> dict:
    return {
        "name": case,
        "match": [_with_case(case, BLOCKS[case])],
        "route": [{"destination": {"host": "reviews", "subset": case}}],
    }


def _plugin_config(cases, *, whole_map: bool) -> dict:
    entries = [_entry(case) for case in cases]
    if whole_map:  # reads :authority and :method, never applies: the Wasm filter takes the map in one call
        entries.append(
            {
                "name": "whole-map",
                "match": [{"authority": {"exact": "never"}, "method": {"exact": "NEVER"}}],
                "route": [{"destination": {"host": "reviews", "subset": "whole-map"}}],
            }
        )
    return {"clusterName": "{subset}", "responseHeader": RESPONSE_HEADER, "http": entries}


def _oracle_host() -> dict:
    routes = [
        {
            "match": {**istio_route_match(_with_case(case, block))},
            "direct_response": {"status": 200, "body": {"inline_string": "yes"}},
        }
        for case, block in BLOCKS.items()
    ]
    routes.append({"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "no"}}})
    return {"name": "oracle", "domains": ["*"], "routes": routes}


@pytest.fixture(scope="module")
def envoy(module, shell):
    clusters = {case: lab.VERSIONS[i % len(lab.VERSIONS)] for i, case in enumerate(list(BLOCKS) + ["whole-map"])}
    bootstrap = lab.render_bootstrap(
        _plugin_config(BLOCKS, whole_map=True), module=module, shell=shell, clusters=clusters
    )
    single = shift_filter(_plugin_config(SINGLE_CASES, whole_map=False), shell=shell, module=module)
    vhost = {"name": "single", "domains": ["*"], "routes": [lab.cluster_header_route()]}
    bootstrap["static_resources"]["listeners"] += [
        http_listener("single", free_port(), vhost, [single]),
        http_listener("oracle", free_port(), _oracle_host(), []),
    ]
    with lab.Envoy(bootstrap) as started:
        yield started


def _oracle(envoy, case, options) -> bool:
    answer = _ask(envoy.ports["oracle"], case, options)
    assert answer.status == 200, answer
    return answer.body == b"yes"


def _filter(envoy, listener, case, options) -> bool:
    answer = _ask(envoy.ports[listener], case, options)
    routed = (answer.status, answer.headers.get(RESPONSE_HEADER))
    assert routed in ((200, case), (503, None)), "%s: %r" % (listener, routed)
    return answer.status == 200


def _ask(port, case, options):
    options = dict(options)
    headers = [(CASE_HEADER, case)] + list(options.pop("headers", []))
    return lab.request(port, headers=headers, **options)


@pytest.mark.parametrize("case,options,expected", [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_filter_matches_as_envoy_with_istios_translation(envoy, case, options, expected):
    assert _oracle(envoy, case, options) is expected, "the oracle (plain Envoy) disagrees with the table"
    assert _filter(envoy, "front", case, options) is expected, "the filter, whole header map"
    if case in SINGLE_CASES:
        assert _filter(envoy, "single", case, options) is expected, "the filter, headers one at a time"


def test_each_listener_reads_headers_as_intended(envoy, shell):
    modes = re.findall(
        r"configured \d+ http entr(?:y|ies).*reading request headers (in one call|one at a time)", envoy.log()
    )
    # The Wasm filter has the two read modes; the native module reads each header in place, and says nothing.
    assert sorted(set(modes)) == (["in one call", "one at a time"] if shell == "wasm" else []), modes


def test_every_case_has_rows(shell):
    assert {row[1] for row in ROWS} == set(BLOCKS)
    assert SINGLE_CASES, "the one-at-a-time listener must carry cases"
