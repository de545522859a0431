"""Which http entry applies to a request (Istio's HTTPMatchRequest), in a real Envoy.

One Envoy carries many labelled entries (each its own lone destination, see shift_configs.labelled), keyed on
separate headers, paths, methods and authorities so each case can reach exactly one of them; a case names the
entry a request must reach, or None: no entry applies, so the filter leaves the cluster header unset and the
cluster_header route answers 503.
"""

import re

import pytest

from tools import envoylab as lab

from conftest import BOTH_SHELLS
from shift_configs import RESPONSE_HEADER, expect_route, labelled

pytestmark = BOTH_SHELLS

MATCH_RULES = {
    # first-match order: "1" matches both, the earlier entry wins
    "first": [{"headers": {"x-order": {"exact": "1"}}}],
    "second": [{"headers": {"x-order": {}}}],
    "exact": [{"headers": {"end-user": {"exact": "jason"}}}],
    "prefix": [{"headers": {"end-user": {"prefix": "admin-"}}}],
    "present": [{"headers": {"x-canary": {}}}],
    "and-or": [{"headers": {"x-a": {"exact": "1"}, "x-b": {"exact": "2"}}}, {"headers": {"x-c": {"exact": "3"}}}],
    "uri-exact": [{"uri": {"exact": "/exact/page"}}],
    "uri-prefix": [{"uri": {"prefix": "/prefix/"}}],
    "uri-nocase": [{"uri": {"prefix": "/NoCase/"}, "ignoreUriCase": True}],
    "method": [{"method": {"exact": "PUT"}}],
    "query-exact": [{"queryParams": {"user": {"exact": "j%20son"}}}],
    "query-prefix": [{"queryParams": {"ver": {"prefix": "2."}}}],
    "query-present": [{"queryParams": {"debug": {}}}],
    "without-any": [{"headers": {"x-tenant": {"exact": "t1"}}, "withoutHeaders": {"x-beta": {}}}],
    "without-value": [{"headers": {"x-tenant": {"exact": "t2"}}, "withoutHeaders": {"x-env": {"exact": "prod"}}}],
    "authority": [{"authority": {"exact": "ratings:9080"}}],
    "authority-prefix": [{"authority": {"prefix": "details"}}],
    "scheme-https": [{"scheme": {"exact": "https"}, "headers": {"x-scheme": {}}}],
    "scheme-http": [{"scheme": {"exact": "http"}, "headers": {"x-scheme": {}}}],
    "route-exact": [{"routeName": {"exact": "named-route"}}],
    "route-prefix": [{"routeName": {"prefix": "canary-"}}],
    "regex-header": [{"headers": {"x-group": {"regex": "beta-(a|b)"}}}],
    "regex-uri": [{"uri": {"regex": "/items/[0-9]+"}}],
}
MATCH_CONFIG, MATCH_CLUSTERS = labelled(MATCH_RULES)
MATCH_ROUTES = [  # every route sends to the cluster the filter names; only their names differ
    lab.cluster_header_route(prefix="/named-extra", name="named-route-extra"),
    lab.cluster_header_route(prefix="/named", name="named-route"),
    lab.cluster_header_route(prefix="/canary", name="canary-route-1"),
    lab.cluster_header_route(prefix="/", name="default-route"),
]

# (case id, entry the request must reach or None, request options)
CASES = [
    # headers: exact vs prefix vs presence
    ("exact value", "exact", {"headers": {"end-user": "jason"}}),
    ("exact is not a prefix", None, {"headers": {"end-user": "jasonx"}}),
    ("exact is case-sensitive", None, {"headers": {"end-user": "Jason"}}),
    ("prefix", "prefix", {"headers": {"end-user": "admin-7"}}),
    ("prefix alone", "prefix", {"headers": {"end-user": "admin-"}}),
    ("shorter than the prefix", None, {"headers": {"end-user": "admin"}}),
    ("presence, any value", "present", {"headers": {"x-canary": "yes"}}),
    ("presence, empty value", "present", {"headers": [("x-canary", "")]}),
    ("no header at all", None, {}),
    # fields in a block ANDed, blocks ORed
    ("block 1 complete", "and-or", {"headers": {"x-a": "1", "x-b": "2"}}),
    ("block 1 without x-b", None, {"headers": {"x-a": "1"}}),
    ("block 1 without x-a", None, {"headers": {"x-b": "2"}}),
    ("block 1 with wrong x-b", None, {"headers": {"x-a": "1", "x-b": "3"}}),
    ("block 2", "and-or", {"headers": {"x-c": "3"}}),
    ("block 2 with half of block 1", "and-or", {"headers": {"x-a": "1", "x-c": "3"}}),
    # uri: the path without its query; exact and prefix; ignoreUriCase
    ("uri exact", "uri-exact", {"path": "/exact/page"}),
    ("uri exact ignores the query", "uri-exact", {"path": "/exact/page?x=1"}),
    ("uri exact, longer path", None, {"path": "/exact/page/"}),
    ("uri exact, shorter path", None, {"path": "/exact/pag"}),
    ("uri prefix", "uri-prefix", {"path": "/prefix/"}),
    ("uri prefix, deeper", "uri-prefix", {"path": "/prefix/a/b"}),
    ("uri prefix, without its slash", None, {"path": "/prefix"}),
    ("uri prefix, only in the query", None, {"path": "/other?next=/prefix/"}),
    ("uri case differs, case ignored", "uri-nocase", {"path": "/nocase/1"}),
    ("uri upper case, case ignored", "uri-nocase", {"path": "/NOCASE/1"}),
    # regex: RE2 syntax, matching the whole value (as Envoy's safe_regex)
    ("regex header", "regex-header", {"headers": {"x-group": "beta-b"}}),
    ("regex must match the whole value", None, {"headers": {"x-group": "beta-bc"}}),
    ("regex on non-UTF-8 bytes", None, {"headers": {"x-group": b"beta-\xff"}}),
    ("regex uri ignores the query", "regex-uri", {"path": "/items/42?x=1"}),
    ("regex uri is anchored", None, {"path": "/items/42/reviews"}),
    # method
    ("method", "method", {"method": "PUT"}),
    ("other method", None, {"method": "DELETE"}),
    # queryParams, on values as sent (Envoy 1.40 does not percent-decode them)
    ("query exact, as sent", "query-exact", {"path": "/q?user=j%20son"}),
    ("query exact among others", "query-exact", {"path": "/q?a=1&user=j%20son&b"}),
    ("query name not decoded", None, {"path": "/q?us%65r=j%20son"}),
    ("query other value", None, {"path": "/q?user=jason"}),
    ("query longer value", None, {"path": "/q?user=j%20sonny"}),
    ("query name is case-sensitive", None, {"path": "/q?User=j%20son"}),
    ("query prefix", "query-prefix", {"path": "/q?ver=2.14"}),
    ("query prefix, other value", None, {"path": "/q?ver=1.2"}),
    ("query present, no value", "query-present", {"path": "/q?debug"}),
    ("query present, empty value", "query-present", {"path": "/q?debug="}),
    ("query present, a value", "query-present", {"path": "/q?x=1&debug=0"}),
    ("query absent, similar name", None, {"path": "/q?nodebug=1"}),
    ("query absent, in the path", None, {"path": "/q/debug"}),
    # withoutHeaders: absent, or not matching the given value
    ("without: header absent", "without-any", {"headers": {"x-tenant": "t1"}}),
    ("without: header present", None, {"headers": {"x-tenant": "t1", "x-beta": "1"}}),
    ("without: empty header is present", None, {"headers": [("x-tenant", "t1"), ("x-beta", "")]}),
    ("without value: absent", "without-value", {"headers": {"x-tenant": "t2"}}),
    ("without value: other value", "without-value", {"headers": {"x-tenant": "t2", "x-env": "staging"}}),
    ("without value: value with that prefix", "without-value", {"headers": {"x-tenant": "t2", "x-env": "production"}}),
    ("without value: the value", None, {"headers": {"x-tenant": "t2", "x-env": "prod"}}),
    # authority and scheme
    ("authority exact", "authority", {"host": "ratings:9080"}),
    ("authority exact includes the port", None, {"host": "ratings"}),
    ("authority prefix", "authority-prefix", {"host": "details.default:9080"}),
    ("scheme of plain HTTP", "scheme-http", {"headers": {"x-scheme": "1"}}),
    # routeName: Envoy's route name
    ("route name exact", "route-exact", {"path": "/named/1"}),
    ("route name, longer name", None, {"path": "/named-extra/1"}),
    ("route name prefix", "route-prefix", {"path": "/canary/1"}),
    # first applying entry wins
    ("first of two applying entries", "first", {"headers": {"x-order": "1"}}),
    ("only the second applies", "second", {"headers": {"x-order": "2"}}),
    ("only the second applies, empty value", "second", {"headers": [("x-order", "")]}),
]


@pytest.fixture
def matching(envoy_for):
    return envoy_for(MATCH_CONFIG, clusters=MATCH_CLUSTERS, routes=MATCH_ROUTES)


@pytest.mark.parametrize("label,request_options", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_match_rule(matching, label, request_options):
    expect_route(matching, label, MATCH_CLUSTERS, **request_options)


@pytest.mark.parametrize("spoofed", ["exact", "method", lab.istio_cluster("v2")])
def test_no_match_leaves_the_header_unset_even_if_the_client_sets_it(matching, spoofed):
    # "exact" and "method" name real clusters of this Envoy: honouring the client's header would reach them.
    expect_route(matching, None, MATCH_CLUSTERS, headers={lab.CLUSTER_HEADER: spoofed})
    expect_route(matching, None, MATCH_CLUSTERS, path="/q?user=nobody", headers={lab.CLUSTER_HEADER: spoofed})


def test_matched_request_replaces_a_spoofed_header(matching):
    expect_route(matching, "exact", MATCH_CLUSTERS, headers={"end-user": "jason", lab.CLUSTER_HEADER: "method"})


# -- hosts: entries apply only to these authorities (port removed, case ignored, Kubernetes short forms) ---------

HOSTS_CONFIG, HOSTS_CLUSTERS = labelled({"in-hosts": None}, hosts=["reviews", "details.default.svc.cluster.local"])
AUTHORITIES = {
    "reviews:9080": "in-hosts",
    "reviews": "in-hosts",
    "REVIEWS:9080": "in-hosts",
    "reviews.default:9080": "in-hosts",
    "reviews.default.svc:9080": "in-hosts",
    "reviews.default.svc.cluster.local:9080": "in-hosts",
    "reviews.default.svc.cluster.local": "in-hosts",
    "details:9080": "in-hosts",  # long name in hosts, short authority
    "details.default:80": "in-hosts",
    "Details.Default.Svc.Cluster.Local:9080": "in-hosts",
    "ratings:9080": None,
    "reviewsx:9080": None,
    "reviews.example.com:9080": None,
    "details.prod:9080": None,
    "127.0.0.1:9080": None,
}


@pytest.mark.parametrize("authority,label", AUTHORITIES.items(), ids=AUTHORITIES.keys())
def test_hosts(envoy_for, authority, label):
    envoy = envoy_for(HOSTS_CONFIG, clusters=HOSTS_CLUSTERS)
    expect_route(envoy, label, HOSTS_CLUSTERS, host=authority)


def test_hosts_outside_the_list_ignore_a_spoofed_header(envoy_for):
    envoy = envoy_for(HOSTS_CONFIG, clusters=HOSTS_CLUSTERS)
    expect_route(envoy, None, HOSTS_CLUSTERS, host="ratings:9080", headers={lab.CLUSTER_HEADER: "in-hosts"})


# -- an invalid regex is refused when Envoy loads the configuration ---------------------------------------

REGEX_FIELDS = {
    "header": ({"headers": {"end-user": {"regex": "ja(.*"}}}, "http[0].match[0].headers.end-user.regex"),
    "uri": ({"uri": {"regex": "/r[.*"}}, "http[0].match[0].uri.regex"),
}


@pytest.mark.parametrize("block,path", REGEX_FIELDS.values(), ids=REGEX_FIELDS.keys())
def test_an_invalid_regex_is_refused_naming_the_field(module, shell, block, path):
    config, _ = labelled({"regex": [block]})
    log = lab.expect_startup_failure(lab.render_bootstrap(config, module=module, shell=shell))
    messages = re.findall(r"traffic-shift: invalid configuration at (.*)", log)
    assert len(messages) == 1, "expected one traffic-shift configuration error, got %r" % messages
    assert messages[0].startswith(path) and "regex" in messages[0][len(path) :], messages[0]


def test_the_response_header_names_only_routed_requests(matching):
    assert lab.request(matching.port, headers={"end-user": "jason"}).headers[RESPONSE_HEADER] == "exact"
    assert RESPONSE_HEADER not in lab.request(matching.port).headers
