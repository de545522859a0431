"""Hostile requests never break the filter in a real Envoy, and normal routing carries on afterwards.

What a client library sends: non-UTF-8 bytes in matched headers, sticky keys and cookies; 30 KiB values;
malformed cookies and query strings. The second half of this file: what only raw bytes, HTTP/2 or a larger
header limit can carry: bytes above 0x7f in the request line and Host, 60 KiB values, hundreds of cookies,
repeated headers, HTTP/2 requests, and missing or odd authorities.
Each must get a normal answer from the entry the semantics pick (or Envoy's own refusal, pinned here, where
Envoy never lets the request reach the filter), and the Wasm VM must never fail: the filter runs with FAIL_RELOAD
so a trap or panic would show in Envoy's stats (see wasm_health.py, whose checks are shown below to fail on a
module that really traps, and on an Envoy without those stats). The first half's requests also go through the
native dynamic module, which must route them the same way.
"""

import collections
import functools
import shutil
import socket
import subprocess

import pytest

from tools import envoylab as lab

import wasm_health
from shift_configs import RESPONSE_HEADER, config, destination, entry, split

TOLERANCE = 0.06
REPEATS = 5
KIB = 1024
SPLIT = {"v1": 50, "v3": 50}
# v2 is reached only through the three matched entries; everything else splits between v1 and v3.
HOSTILE_CONFIG = config(
    entry("jason", [destination("v2")], match=[{"headers": {"end-user": {"exact": "jason"}}}]),
    entry("query", [destination("v2")], match=[{"queryParams": {"user": {"exact": "jason"}}}]),
    entry(
        "canary",
        [destination("v2")],
        match=[{"headers": {"x-canary": {"prefix": "on"}}, "withoutHeaders": {"x-beta": {"exact": "1"}}}],
    ),
    entry("sticky-header", split(SPLIT), match=[{"headers": {"x-user-id": {}}}], sticky={"header": "x-user-id"}),
    entry("sticky-cookie", split(SPLIT), match=[{"headers": {"cookie": {}}}], sticky={"cookie": "user"}),
    entry("default", split(SPLIT)),
)
# HOSTILE_CONFIG reads several values (`:path`, two sticky keys), so the Wasm filter takes the whole header
# map in one call; with only the header entries it reads one header at a time (request.rs,
# reads_several_values). The hostile headers go through both.
READ_IN_ONE_CALL, READ_ONE_AT_A_TIME = "reading request headers in one call", "reading request headers one at a time"
HEADER_ONLY_CONFIG = config(
    *(e for e in HOSTILE_CONFIG["http"] if e["name"] in ("jason", "canary", "sticky-header", "default"))
)
MATCHED = "v2"  # reached only when a matched entry applies
UNMATCHED = ("v1", "v3")

# (id, request options, where it must go: MATCHED, UNMATCHED, or "same as" other request options)
NON_UTF8 = [
    ("exact header, trailing 0xff", {"headers": [("end-user", b"jason\xff")]}, UNMATCHED),
    ("exact header, all high bytes", {"headers": [("end-user", b"\xff\xfe\xfd")]}, UNMATCHED),
    ("exact header, broken UTF-8 sequence", {"headers": [("end-user", b"ja\xc3\x28son")]}, UNMATCHED),
    ("exact header, Latin-1 look-alike", {"headers": [("end-user", b"j\xe4son")]}, UNMATCHED),
    ("prefix header, high byte first", {"headers": [("x-canary", b"\xffon")]}, UNMATCHED),
    (
        "withoutHeaders value not UTF-8 is not the value",
        {"headers": [("x-canary", b"on"), ("x-beta", b"1\xff")]},
        MATCHED,
    ),
    ("sticky header key", {"headers": [("x-user-id", b"\xc0\xaf\xff\xfe")]}, UNMATCHED),
    ("sticky cookie value", {"headers": [("cookie", b"user=\xff\xfe\x80")]}, UNMATCHED),
    (
        "cookie with non-UTF-8 names around the user",
        {"headers": [("cookie", b"\xff=\xfe; user=bob; \x80\x81")]},
        {"headers": {"cookie": "user=bob"}},
    ),
    ("query value percent-encoded high bytes", {"path": "/r?user=%ff%fe"}, UNMATCHED),
    ("path percent-encoded high bytes, query matches", {"path": "/%ff%fe/x?user=jason"}, MATCHED),
]
HUGE = [
    ("30 KiB matched header, right prefix", {"headers": {"end-user": "jason" + "x" * 30 * KIB}}, UNMATCHED),
    ("30 KiB matched header", {"headers": {"end-user": "x" * 30 * KIB}}, UNMATCHED),
    ("30 KiB sticky header key", {"headers": {"x-user-id": "u" * 30 * KIB}}, UNMATCHED),
    ("30 KiB cookie value", {"headers": {"cookie": "user=" + "u" * 30 * KIB}}, UNMATCHED),
    (
        "user cookie after a 30 KiB cookie",
        {"headers": {"cookie": "pad=" + "p" * 30 * KIB + "; user=bob"}},
        {"headers": {"cookie": "user=bob"}},
    ),
    ("30 KiB of query before the parameter", {"path": "/r?" + "a=1&" * (30 * KIB // 4) + "user=jason"}, MATCHED),
    ("30 KiB query value", {"path": "/r?user=jason" + "x" * 30 * KIB}, UNMATCHED),
]
MALFORMED = [
    ("cookie ;;;", {"headers": {"cookie": ";;;"}}, UNMATCHED),
    ("cookie =x", {"headers": {"cookie": "=x"}}, UNMATCHED),
    ("cookie without =", {"headers": {"cookie": "user"}}, UNMATCHED),
    ("cookie name only, then ;", {"headers": {"cookie": "user;"}}, UNMATCHED),
    ("cookie =;=;=", {"headers": {"cookie": "=;=;="}}, UNMATCHED),
    ("cookie value starting with =", {"headers": {"cookie": "user==x"}}, UNMATCHED),
    ("cookie lone quote", {"headers": {"cookie": 'user="'}}, UNMATCHED),
    ("cookie empty", {"headers": [("cookie", "")]}, UNMATCHED),
    (
        "user cookie among junk",
        {"headers": {"cookie": ";;=x; user ;user=alice;;="}},
        {"headers": {"cookie": "user=alice"}},
    ),
    ("query made of separators", {"path": "/r?%&&==&user"}, UNMATCHED),
    ("query with a bad escape first", {"path": "/r?user=%zz&other=1"}, UNMATCHED),
    ("query, escapes compared as sent", {"path": "/r?user=ja%73on"}, UNMATCHED),
]
HOSTILE = NON_UTF8 + HUGE + MALFORMED


def _healthy_envoy(envoy_for, module, plugin_config, read_mode):
    """The Envoy (FAIL_RELOAD) and its Wasm failure stats before the test; the test must leave them still."""
    envoy = envoy_for(plugin_config, http_filters=[wasm_health.reloading_filter(plugin_config, module)])
    assert read_mode in envoy.log(), "the filter should be " + read_mode
    baseline = wasm_health.snapshot(envoy)
    yield envoy
    wasm_health.assert_healthy(envoy, baseline)


@pytest.fixture
def hostile(envoy_for, module):
    yield from _healthy_envoy(envoy_for, module, HOSTILE_CONFIG, READ_IN_ONE_CALL)


@pytest.fixture
def hostile_one_at_a_time(envoy_for, module):
    yield from _healthy_envoy(envoy_for, module, HEADER_ONLY_CONFIG, READ_ONE_AT_A_TIME)


def _pairs(headers):
    return headers.items() if isinstance(headers, dict) else headers


def answers(envoy, request_options, repeats=REPEATS) -> collections.Counter:
    """Counter of (status, version, destination header) over `repeats` requests."""
    return collections.Counter(
        (a.status, a.headers.get("x-version"), a.headers.get(RESPONSE_HEADER))
        for a in (lab.request(envoy.port, **request_options) for _ in range(repeats))
    )


def assert_routed(envoy, got, expected):
    """Every answer in `got` came from an upstream with a matching destination header, and where `expected`
    says: MATCHED (v2), UNMATCHED (v1 or v3), ANY configured version, or (request options for lab.request)
    the one destination that clean request reaches, e.g. a sticky user."""
    assert all(status == 200 and header == lab.istio_cluster(version) for status, version, header in got), got
    versions = {version for _, version, _ in got}
    if expected == MATCHED:
        assert versions == {MATCHED}, got
    elif expected == UNMATCHED:
        assert versions <= set(UNMATCHED), got
    elif isinstance(expected, dict):
        clean = answers(envoy, expected)
        assert len(clean) == 1 and versions == {version for _, version, _ in clean}, (got, clean)
    else:
        assert expected == ANY and versions <= set(lab.VERSIONS), got


def check(envoy, request_options, expected):
    """A hostile request gets normal answers where `expected` says (see assert_routed)."""
    assert_routed(envoy, answers(envoy, request_options), expected)


@pytest.mark.parametrize("request_options,expected", [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_request_is_routed_normally(hostile, request_options, expected):
    check(hostile, request_options, expected)


# The hostile headers HEADER_ONLY_CONFIG's entries read (no cookie, no query: it has no entry for them).
HEADER_CASES = [
    c
    for c in HOSTILE
    if "path" not in c[1] and not any(name == "cookie" for name, _ in _pairs(c[1].get("headers", {})))
]


@pytest.mark.parametrize("request_options,expected", [c[1:] for c in HEADER_CASES], ids=[c[0] for c in HEADER_CASES])
def test_hostile_header_read_one_at_a_time(hostile_one_at_a_time, request_options, expected):
    check(hostile_one_at_a_time, request_options, expected)


@pytest.fixture
def native_hostile(envoy_for):
    """The same configuration in the native dynamic module; it has no VM to fail, but Envoy must stay up."""
    envoy = envoy_for(HOSTILE_CONFIG, http_filters=[lab.dynamic_module_filter(HOSTILE_CONFIG)])
    yield envoy
    assert envoy.running, "Envoy died on a hostile request to the native module"


@pytest.mark.parametrize("request_options,expected", [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_request_is_routed_normally_by_the_native_module(native_hostile, request_options, expected):
    check(native_hostile, request_options, expected)


STICKY_HOSTILE = [c for c in HOSTILE if c[0].startswith(("sticky", "30 KiB sticky", "30 KiB cookie"))]


@pytest.mark.parametrize("request_options", [c[1] for c in STICKY_HOSTILE], ids=[c[0] for c in STICKY_HOSTILE])
def test_hostile_sticky_key_still_sticks(hostile, request_options):
    assert len({version for _, version, _ in answers(hostile, request_options, repeats=20)}) == 1


def test_normal_routing_after_hostile_input(hostile):
    for _, request_options, _ in HOSTILE:
        assert lab.request(hostile.port, **request_options).status == 200
    tally = lab.send_requests(hostile.port, lab.sample_size(SPLIT, TOLERANCE))
    assert tally.statuses == {200: tally.sent}
    lab.assert_shares(tally, SPLIT)
    assert lab.send_requests(hostile.port, 50, headers={"end-user": "jason"}).versions == {MATCHED: 50}
    # and the fixture then checks that the Wasm VM never failed


# -- the failure check has teeth -----------------------------------------------------------------------------


def test_failure_check_catches_a_vm_that_traps(tmp_path):
    module = wasm_health.trapping_module(str(tmp_path))
    with lab.launch({}, http_filters=[wasm_health.reloading_filter({}, module)]) as envoy:
        baseline = wasm_health.snapshot(envoy)
        statuses = [lab.request(envoy.port).status for _ in range(3)]
        assert statuses == [503] * 3  # a trapping filter fails the requests (Envoy's default: fail closed)
        moved, errors = wasm_health.failures(envoy, baseline)
        assert moved, "a trapping VM moved none of %r" % (baseline,)
        assert errors, "a trapping VM left no error in the log"
        with pytest.raises(AssertionError):
            wasm_health.assert_healthy(envoy, baseline)


def test_failure_check_fails_when_envoy_lacks_the_stats():
    with lab.launch(None) as envoy:  # no Wasm filter: no wasm.* stats
        with pytest.raises(AssertionError, match="no stat"):
            wasm_health.snapshot(envoy)


# -- Raw bytes, HTTP/2, 60 KiB, hundreds of cookies, repeated headers, odd authorities ------------------
# This Envoy allows 96 KiB and 1000 fields of request headers (Envoy's defaults, 60 KiB and 100 fields, refuse a
# 60 KiB value with 431 and reset an HTTP/2 stream of 100 cookie crumbs) and HTTP/1.0, and closes a connection
# right after refusing a request (not 1 s later). Its filter also reads :authority (`hosts`), so every header the
# filter reads is reachable.
# HTTP/1 requests are written byte for byte on a socket (http.client refuses raw bytes in the request line);
# HTTP/2 ones (h2c, prior knowledge) go through curl, the only HTTP/2 client on the machine.

HEADER_LIMIT_KIB = 96
HEADER_LIMIT_COUNT = 1000
# An IPv6 host may be listed as "::1" or "[::1]"; either matches "[::1]:9080", "[::1]" and a bare "::1".
WIDE_CONFIG = {**HOSTILE_CONFIG, "hosts": ["reviews", "::1"]}
ANY = "any destination"  # routed normally to one of the configured destinations; which one is not pinned


class Refused(collections.namedtuple("Refused", "status")):
    """Envoy answers `status` itself and nothing is routed (None: HTTP/2 stream reset, no answer at all)."""


NOT_ROUTED = Refused(503)  # the filter ran, no entry applied (hosts did not match), so no cluster: 503


def _wide_bootstrap(module: str) -> dict:
    bootstrap = lab.render_bootstrap(WIDE_CONFIG, http_filters=[wasm_health.reloading_filter(WIDE_CONFIG, module)])
    for listener in bootstrap["static_resources"]["listeners"]:
        manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
        manager["max_request_headers_kb"] = HEADER_LIMIT_KIB  # the upstreams receive the big headers too
        manager["common_http_protocol_options"] = {"max_headers_count": HEADER_LIMIT_COUNT}
        if listener["name"] == "front":
            manager["http_protocol_options"] = {"accept_http_10": True}
            manager["delayed_close_timeout"] = "0s"
    return bootstrap


@pytest.fixture(scope="module")
def wide_envoy(module):
    for attempt in range(3):  # fresh ports if another process took one meanwhile, as lab.launch does
        envoy = lab.Envoy(_wide_bootstrap(module))
        try:
            envoy.start()
            break
        except lab.EnvoyError as failure:
            envoy.close()
            port_clash = any(s in failure.log for s in ("Address already in use", "cannot bind"))
            if not port_clash or attempt == 2:
                raise
    yield envoy
    envoy.close()


@pytest.fixture
def wide(wide_envoy):
    baseline = wasm_health.snapshot(wide_envoy)
    yield wide_envoy
    wasm_health.assert_healthy(wide_envoy, baseline)


def _fields(lines) -> dict:
    return {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if ":" in line)}


def _complete(answer: bytes) -> bool:
    """A whole HTTP/1 answer: headers, then Content-Length bytes (every answer here has one)."""
    head, done, body = answer.partition(b"\r\n\r\n")
    length = _fields(head.decode("latin-1").split("\r\n")[1:]).get("content-length")
    return bool(done) and length is not None and len(body) >= int(length)


def http1(target=b"/r", host=b"reviews:9080", headers=(), version=b"HTTP/1.1"):
    """A sender writing this request byte for byte (host None: no Host line) and reading one whole answer."""
    lines = [b"GET " + target + b" " + version] + ([b"Host: " + host] if host is not None else [])
    data = b"\r\n".join(lines + [name + b": " + value for name, value in headers]) + b"\r\nConnection: close\r\n\r\n"

    def send(envoy) -> lab.Response:
        with socket.create_connection(("127.0.0.1", envoy.port), timeout=5) as sock:
            sock.sendall(data)
            answer = b""
            while (chunk := sock.recv(1 << 16)) and not _complete(answer := answer + chunk):
                pass
        head, _, body = answer.partition(b"\r\n\r\n")
        status_line, *fields = head.decode("latin-1").split("\r\n")
        return lab.Response(int(status_line.split()[1]), _fields(fields), body)

    return send


@functools.cache
def _curl() -> str:
    curl = shutil.which("curl")
    assert curl, "curl is needed for the HTTP/2 cases (apt-get install curl)"
    features = subprocess.run([curl, "-V"], capture_output=True, text=True, check=True).stdout
    assert "HTTP2" in features, "this curl has no HTTP/2:\n" + features
    return curl


def h2(path=b"/r", host=b"reviews:9080", headers=()):
    """A sender for one HTTP/2 request (h2c with prior knowledge, through curl). Header values are raw bytes;
    host b"" sends no authority. A refused stream gives status None."""
    args = [b"-H", b"Host: " + host if host else b"Host:"]
    for name, value in headers:
        args += [b"-H", name + b": " + value]

    def send(envoy) -> lab.Response:
        url = b"http://127.0.0.1:%d" % envoy.port + path
        done = subprocess.run(
            [
                _curl().encode(),
                b"-sS",
                b"--http2-prior-knowledge",
                b"--max-time",
                b"5",
                b"-o",
                b"/dev/null",
                b"-D",
                b"-",
                *args,
                url,
            ],
            capture_output=True,
            timeout=10,
        )
        lines = done.stdout.decode("latin-1").split("\r\n")
        if done.returncode != 0 or not lines[0].startswith("HTTP/2 "):
            return lab.Response(None, {}, done.stderr)
        return lab.Response(int(lines[0].split()[1]), _fields(lines[1:]), b"")

    return send


def over_http1(**request_options):
    return lambda envoy: lab.request(envoy.port, **request_options)


def wide_answers(envoy, send, repeats=REPEATS) -> collections.Counter:
    """Counter of (status, version, destination header) over `repeats` sends."""
    return collections.Counter(
        (a.status, a.headers.get("x-version"), a.headers.get(RESPONSE_HEADER))
        for a in (send(envoy) for _ in range(repeats))
    )


def wide_check(envoy, send, expected):
    got = wide_answers(envoy, send)
    if isinstance(expected, Refused):  # Envoy's own answer, no destination chosen
        assert got == {(expected.status, None, None): REPEATS}, got
        return
    assert_routed(envoy, got, expected)


COOKIES = b"; ".join(b"c%d=v%d" % (i, i) for i in range(500))
CLEAN_BOB = {"headers": {"cookie": "user=bob"}}
V2_CLUSTER = lab.istio_cluster("v2").encode()
WIDE = [
    # Bytes above 0x7f where http.client cannot put them. Envoy's HTTP/1 parser refuses them in the request line
    # and Host, so the filter never sees them; over HTTP/2 the :path bytes do reach it.
    ("h1 :path with a raw 0xff", http1(b"/r\xff?user=jason"), Refused(400)),
    ("h1 :path with DEL", http1(b"/r\x7f"), Refused(400)),
    ("h1 Host with a raw 0xff", http1(host=b"rev\xffiews"), Refused(400)),
    ("h2 plain request", h2(), UNMATCHED),
    ("h2 matched query behind a raw 0xff in :path", h2(b"/r\xff\xfe?user=jason"), MATCHED),
    ("h2 :path all high bytes", h2(b"/\xff\xfe\x80"), UNMATCHED),
    ("h2 :authority with a raw 0xff", h2(host=b"rev\xffiews"), Refused(None)),
    ("h2 exact header, trailing 0xff", h2(headers=[(b"end-user", b"jason\xff")]), UNMATCHED),
    ("h2 exact header matches", h2(headers=[(b"end-user", b"jason")]), MATCHED),
    ("h2 sticky cookie value not UTF-8", h2(headers=[(b"cookie", b"user=\xff\xfe")]), UNMATCHED),
    ("h2 sticky header key not UTF-8", h2(headers=[(b"x-user-id", b"\xc0\xaf\xff")]), UNMATCHED),
    # 60 KiB values: past Envoy's default limit, within this Envoy's.
    ("60 KiB matched header, right prefix", over_http1(headers={"end-user": "jason" + "x" * 60 * KIB}), UNMATCHED),
    ("60 KiB sticky header key", over_http1(headers={"x-user-id": "u" * 60 * KIB}), UNMATCHED),
    (
        "60 KiB cookie before the user cookie",
        over_http1(headers={"cookie": "pad=" + "p" * 60 * KIB + "; user=bob"}),
        CLEAN_BOB,
    ),
    (
        "60 KiB unrelated header, matched header",
        over_http1(headers={"x-pad": "p" * 60 * KIB, "end-user": "jason"}),
        MATCHED,
    ),
    ("h2 60 KiB sticky header key", h2(headers=[(b"x-user-id", b"u" * 60 * KIB)]), UNMATCHED),
    ("100 KiB header, past the limit", over_http1(headers={"x-pad": "p" * 100 * KIB}), Refused(431)),
    # Hundreds of cookies, in one header (HTTP/1.1) or as separate HTTP/2 crumbs (Envoy joins those).
    ("500 cookies, user last", over_http1(headers={"cookie": COOKIES.decode() + "; user=bob"}), CLEAN_BOB),
    ("500 cookies, user first", over_http1(headers={"cookie": "user=bob; " + COOKIES.decode()}), CLEAN_BOB),
    ("500 cookies, none is the user", over_http1(headers={"cookie": COOKIES.decode()}), UNMATCHED),
    (
        "h2 300 cookie crumbs, user last",
        h2(headers=[(b"cookie", c) for c in COOKIES.split(b"; ")[:300]] + [(b"cookie", b"user=bob")]),
        CLEAN_BOB,
    ),
    # Repeated headers: a match sees every value, as Envoy's route matching does; a sticky key is the first
    # value; never one a client can use to pick the cluster.
    ("client cluster header twice", over_http1(headers=[(lab.CLUSTER_HEADER, V2_CLUSTER)] * 2), UNMATCHED),
    ("matched header twice", over_http1(headers=[("end-user", "jason"), ("end-user", "bob")]), MATCHED),
    ("matched header second", over_http1(headers=[("end-user", "bob"), ("end-user", "jason")]), MATCHED),
    ("sticky header twice", over_http1(headers=[("x-user-id", "a"), ("x-user-id", "b")]), UNMATCHED),
    ("cookie header twice", over_http1(headers=[("cookie", "a=1"), ("cookie", "user=bob")]), UNMATCHED),
    # Missing or odd authority (the filter's `hosts` reads :authority).
    ("HTTP/1.0 without Host", http1(host=None, version=b"HTTP/1.0"), Refused(400)),
    ("HTTP/1.0 with Host", http1(version=b"HTTP/1.0"), UNMATCHED),
    ("HTTP/1.1 without Host", http1(host=None), Refused(400)),
    ("h2 without :authority", h2(host=b""), Refused(None)),
    ("empty Host", http1(host=b""), NOT_ROUTED),
    # A malformed authority names no host, so `hosts` does not match it (src/hosts.rs).
    ("Host [::1] with a bad port", http1(host=b"[::1]:x"), NOT_ROUTED),
    ("Host [::1 unterminated", http1(host=b"[::1"), NOT_ROUTED),
    ("Host ::1 unbracketed", http1(host=b"::1"), UNMATCHED),  # a bare IPv6 address: host ::1, no port
    ("Host with userinfo", http1(host=b"a@reviews"), NOT_ROUTED),
    ("Host with two ports", http1(host=b"reviews:9080:1"), NOT_ROUTED),
    # "reviews." is the absolute name of a top-level domain, not a form a sidecar lists for the service.
    ("Host upper case, trailing dot", http1(host=b"REVIEWS.:9080"), NOT_ROUTED),
    (
        "Host upper case, full name with a trailing dot",
        http1(host=b"REVIEWS.Default.svc.cluster.local.:9080"),
        UNMATCHED,
    ),
]


@pytest.mark.parametrize("send,expected", [c[1:] for c in WIDE], ids=[c[0] for c in WIDE])
def test_wide_hostile_request(wide, send, expected):
    wide_check(wide, send, expected)


WIDE_STICKY = [c for c in WIDE if "sticky" in c[0] or c[2] is CLEAN_BOB]


@pytest.mark.parametrize("send", [c[1] for c in WIDE_STICKY], ids=[c[0] for c in WIDE_STICKY])
def test_wide_sticky_key_still_sticks(wide, send):
    assert len({version for _, version, _ in wide_answers(wide, send, repeats=20)}) == 1


def test_normal_routing_after_wide_hostile_input(wide):
    for _, send, _ in WIDE:
        send(wide)
    tally = lab.send_requests(wide.port, lab.sample_size(SPLIT, TOLERANCE), connections=2)
    assert tally.statuses == {200: tally.sent}
    lab.assert_shares(tally, SPLIT)
    assert wide_answers(wide, h2(headers=[(b"end-user", b"jason")]), repeats=10) == {
        (200, MATCHED, lab.istio_cluster(MATCHED)): 10
    }
    # and the fixture then checks that the Wasm VM never failed
