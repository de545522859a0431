"""A gRPC service through the filter. Real gRPC on both sides (grpcio: HTTP/2, content-type
application/grpc, POST /pkg.Service/Method, grpc-status in trailers): one grpcio server per version behind
Envoy (HTTP/2 upstream clusters), one grpcio channel (one HTTP/2 connection) to Envoy's front listener.

The configuration shifts by a match on the method path (`/pkg.Reviews/Canary` all to v2) and by weight (every
other method 30/70 v1/v2); a method that fails answers FAILED_PRECONDITION, and the client must see exactly
that status and message whichever version answered.
"""

import collections
import concurrent.futures
import json

import grpc
import pytest

from tools import envoylab as lab

SERVICE = "pkg.Reviews"
VERSIONS = ("v1", "v2")
WEIGHTS = {"v1": 30, "v2": 70}
REFUSAL = "reviews %s: no such review"


def _servicer(version: str):
    def answer(request, context):
        context.send_initial_metadata((("x-version", version),))
        return version.encode() + b":" + request

    def fail(request, context):
        context.set_trailing_metadata((("x-version", version),))
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, REFUSAL % version)

    handlers = {"Get": answer, "Canary": answer, "Fail": fail}
    return grpc.method_handlers_generic_handler(  # bytes in, bytes out: no protobuf classes needed
        SERVICE, {name: grpc.unary_unary_rpc_method_handler(h) for name, h in handlers.items()}
    )


@pytest.fixture(scope="module")
def upstreams():
    """{version: port} of one running grpcio server per version, on 127.0.0.1."""
    servers, ports = [], {}
    try:
        for version in VERSIONS:
            server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
            server.add_generic_rpc_handlers((_servicer(version),))
            ports[version] = server.add_insecure_port("127.0.0.1:0")
            server.start()
            servers.append(server)
        yield ports
    finally:
        for server in servers:
            server.stop(grace=None)


def _grpc_bootstrap(module: str, upstream_ports: dict) -> dict:
    """envoylab's front listener with the filter; clusters grpc-<version> speaking HTTP/2 to the servers."""
    config = {
        "clusterName": "grpc-{subset}",
        "http": [
            {
                "name": "canary-method",
                "match": [{"uri": {"exact": "/%s/Canary" % SERVICE}}],
                "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
            },
            {
                "name": "grpc-split",
                "match": [{"uri": {"prefix": "/%s/" % SERVICE}}],
                "route": [{"destination": {"host": "reviews", "subset": v}, "weight": w} for v, w in WEIGHTS.items()],
            },
        ],
    }
    bootstrap = lab.render_bootstrap(
        json.dumps(config), module=module, versions=VERSIONS, clusters={"grpc-" + v: v for v in VERSIONS}
    )
    for cluster in bootstrap["static_resources"]["clusters"]:
        version = cluster["name"][len("grpc-") :]
        endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        endpoint["address"]["socket_address"]["port_value"] = upstream_ports[version]
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return bootstrap


@pytest.fixture(scope="module")
def channel(module, upstreams):
    with lab.Envoy(_grpc_bootstrap(module, upstreams)) as envoy:
        with grpc.insecure_channel("127.0.0.1:%d" % envoy.port) as grpc_channel:
            yield grpc_channel


def _call(channel, method: str, n: int):
    """n unary calls; Counter of (version, status code, details)."""
    stub = channel.unary_unary("/%s/%s" % (SERVICE, method))
    seen = collections.Counter()
    for i in range(n):
        try:
            reply, call = stub.with_call(b"%d" % i, timeout=5)
            version = dict(call.initial_metadata()).get("x-version")
            assert reply == version.encode() + b":%d" % i, reply
            seen[(version, call.code(), "")] += 1
        except grpc.RpcError as error:
            version = dict(error.trailing_metadata() or ()).get("x-version")
            seen[(version, error.code(), error.details())] += 1
    return seen


def test_grpc_calls_are_shifted_by_weight_with_status_ok(channel):
    seen = _call(channel, "Get", lab.sample_size(WEIGHTS))
    assert {(code, details) for _, code, details in seen} == {(grpc.StatusCode.OK, "")}, seen
    lab.assert_shares(collections.Counter({version: n for (version, _, _), n in seen.items()}), WEIGHTS)


def test_grpc_method_path_match_sends_every_call_to_its_version(channel):
    assert _call(channel, "Canary", 200) == {("v2", grpc.StatusCode.OK, ""): 200}


def test_grpc_non_ok_status_and_message_reach_the_client_unchanged(channel):
    seen = _call(channel, "Fail", 300)
    wrong = {key: n for key, n in seen.items() if key[1:] != (grpc.StatusCode.FAILED_PRECONDITION, REFUSAL % key[0])}
    assert not wrong, "status or message changed on the way: %r" % wrong
    assert {version for version, _, _ in seen} == set(VERSIONS), seen  # both versions answered, by weight
