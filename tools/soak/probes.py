"""Probe connections: one HTTP/1.1 keep-alive connection (http.client) and one HTTP/2 connection (httpx over
h2c, prior knowledge) on every Envoy worker, opened before the load starts and kept open for the whole storm.
A probe request carries PROBE_HEADER, so the probe entry of the configuration in force answers it; the answer's
x-version says which configuration that is. Each answer is checked to come over the connection first opened:
a reopened connection would hide exactly the bug (weights that stop applying to long-lived connections)."""
import dataclasses
import http.client
import time

import envoylab
import httpx

from bench.plugin_configs import REQUEST_HOST, REQUEST_PATH
from .configs import PROBE_HEADER


class ProbeError(AssertionError):
    pass


class Http1:
    protocol = "http/1.1"

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
        self.conn.connect()
        self.local_port = self.conn.sock.getsockname()[1]

    def get(self, headers: dict):
        self.conn.request("GET", REQUEST_PATH, headers={"Host": REQUEST_HOST, **headers})
        answer = self.conn.getresponse()
        answer.read()
        if self.conn.sock is None or self.conn.sock.getsockname()[1] != self.local_port:
            raise ProbeError("the HTTP/1.1 probe connection was closed and reopened")
        return answer.status, answer.getheader("x-version")

    def close(self):
        self.conn.close()


class Http2:
    protocol = "h2"

    def __init__(self, port: int):
        # http1=False: HTTP/2 with prior knowledge on a cleartext connection (h2c), as a mesh's sidecars speak
        self.client = httpx.Client(base_url="http://127.0.0.1:%d" % port, http1=False, http2=True, timeout=5.0,
                                   limits=httpx.Limits(max_connections=1, keepalive_expiry=None))
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


def open_probes(envoy, max_connections: int = 32) -> list:
    """One Probe per (worker, protocol). Call before any other client connects: the per-worker accept
    counters tell which worker took each new connection."""
    probes, spare = {}, []
    workers = envoylab.connections_per_worker(envoy)
    try:
        for kind in (Http1, Http2):
            for _ in range(max_connections):
                if all((w, kind.protocol) in probes for w in workers):
                    break
                before = envoylab.connections_per_worker(envoy)
                connection = kind(envoy.port)
                if kind is Http1:
                    connection.get({})
                after = envoylab.connections_per_worker(envoy)
                grown = [w for w in after if after[w] != before.get(w, 0)]
                if len(grown) != 1:
                    connection.close()
                    raise ProbeError("could not tell the worker of a new connection: %r -> %r" % (before, after))
                key = (grown[0], kind.protocol)
                if key in probes:
                    spare.append(connection)
                else:
                    probes[key] = Probe(grown[0], connection)
        missing = [(w, k.protocol) for w in workers for k in (Http1, Http2) if (w, k.protocol) not in probes]
        if missing:
            raise ProbeError("no probe connection landed on %r after %d tries" % (missing, max_connections))
    except BaseException:
        close(probes.values())
        raise
    finally:
        close(spare)
    return sorted(probes.values(), key=lambda p: (p.worker, p.connection.protocol))


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
                raise ProbeError("%s answered %s, neither %s (new) nor %s (previous)"
                                 % (probe.name, answer, version, previous))
        if pending and time.monotonic() - since > timeout:
            raise ProbeError("after %.1fs still on %s: %s" % (timeout, previous, [p.name for p in pending]))
    return seen
