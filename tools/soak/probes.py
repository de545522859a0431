"""Probe connections: one HTTP/1.1 keep-alive connection (envoylab.Connection) and one HTTP/2 connection (httpx over
h2c, prior knowledge) on every Envoy worker, opened before the load starts and kept open for the whole storm.
A probe request carries PROBE_HEADER, so the probe entry of the configuration in force answers it; the answer's
x-version says which configuration that is. Each answer is checked to come over the connection first opened:
a reopened connection would hide exactly the bug (weights that stop applying to long-lived connections)."""

import dataclasses
import time

import httpx

from tools import envoylab
from tools.envoylab.traffic import HOST as REQUEST_HOST
from tools.envoylab.traffic import PATH as REQUEST_PATH

from .configs import PROBE_HEADER


class ProbeError(AssertionError):
    pass


class Http1:
    protocol = "http/1.1"

    def __init__(self, port: int):
        self.connection = envoylab.Connection(port)
        self.local_port = None
        self.get({})

    def get(self, headers: dict):
        answer = self.connection.send(headers)
        if self.local_port is None:
            self.local_port = self.connection.local_port
        elif self.connection.local_port != self.local_port:
            raise ProbeError("the HTTP/1.1 probe connection was closed and reopened")
        return answer.status, answer.headers.get("x-version")

    def close(self):
        self.connection.close()


class Http2:
    protocol = "h2"

    def __init__(self, port: int):
        # http1=False: HTTP/2 with prior knowledge on a cleartext connection (h2c), as a mesh's sidecars speak
        self.client = httpx.Client(
            base_url="http://127.0.0.1:%d" % port,
            http1=False,
            http2=True,
            timeout=5.0,
            limits=httpx.Limits(max_connections=1, keepalive_expiry=None),
        )
        self.local_port = None
        self.get({})

    def get(self, headers: dict):
        answer = self.client.get(REQUEST_PATH, headers={"Host": REQUEST_HOST, **headers})
        if answer.http_version != "HTTP/2":
            raise ProbeError("the h2 probe spoke %s" % answer.http_version)
        local = answer.extensions["network_stream"].get_extra_info("client_addr")[1]
        if self.local_port is None:
            self.local_port = local
        elif local != self.local_port:
            raise ProbeError("the HTTP/2 probe connection was closed and reopened")
        return answer.status_code, answer.headers.get("x-version")

    def close(self):
        self.client.close()


@dataclasses.dataclass
class Probe:
    worker: int
    connection: object  # Http1 | Http2

    @property
    def name(self) -> str:
        return "%s on worker %d" % (self.connection.protocol, self.worker)

    def version(self) -> str:
        status, version = self.connection.get({PROBE_HEADER: "1"})
        if status != 200:
            raise ProbeError("%s: probe answered %d" % (self.name, status))
        return version


def open_probes(envoy) -> list:
    """One Probe per (worker, protocol). Call before any other client connects: the per-worker accept
    counters tell which worker took each new connection."""
    probes = []
    try:
        for kind in (Http1, Http2):
            found, _ = envoylab.on_every_worker(envoy, 1, lambda kind=kind: kind(envoy.port), kind.close, max_tries=32)
            probes += [Probe(worker, connection) for worker, (connection,) in found.items()]
    except BaseException:
        close(probes)
        raise
    return sorted(probes, key=lambda p: (p.worker, p.connection.protocol))


def close(probes):
    for probe in probes:
        getattr(probe, "connection", probe).close()


def wait_for(probes: list, version: str, previous: str, since: float, timeout: float) -> dict:
    """Ask every probe until it answers `version`; {probe name: seconds since `since`}. Any other answer
    than `previous` or `version` fails, and so does a probe still on `previous` after `timeout`."""
    pending = list(probes)
    seen = {}
    while pending:
        for probe in list(pending):
            answer = probe.version()
            now = time.monotonic()
            if answer == version:
                seen[probe.name] = now - since
                pending.remove(probe)
            elif answer != previous:
                raise ProbeError(
                    "%s answered %s, neither %s (new) nor %s (previous)" % (probe.name, answer, version, previous)
                )
        if pending and time.monotonic() - since > timeout:
            raise ProbeError("after %.1fs still on %s: %s" % (timeout, previous, [p.name for p in pending]))
    return seen
