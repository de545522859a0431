"""Client traffic for the lab: plain http.client over keep-alive connections to 127.0.0.1.

Header values may be bytes (sent as is, so non-UTF-8 values can be tested). Every loop is bounded both by a
request count and by wall time.
"""
import collections
import dataclasses
import http.client
import time

HOST = "reviews:9080"
PATH = "/reviews/0"
VERSION_HEADER = "x-version"


@dataclasses.dataclass
class Response:
    status: int
    headers: dict  # lower-case name -> value (last one wins)
    body: bytes


@dataclasses.dataclass
class Tally:
    versions: collections.Counter  # x-version of each answer; None for answers without one (e.g. 503)
    statuses: collections.Counter
    sent: int


def _items(headers):
    return list(headers.items()) if isinstance(headers, dict) else list(headers or ())


def _send(conn, method, path, host, headers, body) -> Response:
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host)
    for name, value in headers:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    answer = conn.getresponse()
    payload = answer.read()
    return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, payload)


def _send_retrying(conn, *args) -> Response:
    # A kept-alive connection the server closed in between is reopened once; nothing was routed on it.
    try:
        return _send(conn, *args)
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        conn.close()
        return _send(conn, *args)


def request(port: int, *, path: str = PATH, method: str = "GET", host: str = HOST, headers=None,
            body: bytes = None, timeout: float = 5.0) -> Response:
    """One request on a fresh connection. headers: dict or [(name, value)], values str or bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return _send(conn, method, path, host, _items(headers), body)
    finally:
        conn.close()


def send_requests(port: int, n: int, *, path: str = PATH, method: str = "GET", host: str = HOST, headers=None,
                  body: bytes = None, connections: int = 1, time_limit: float = 60.0,
                  version_header: str = VERSION_HEADER) -> Tally:
    """n requests round-robin over `connections` keep-alive connections. Raises TimeoutError (with the partial
    tally as its second argument) if they take longer than time_limit seconds."""
    headers = _items(headers)
    pool = [http.client.HTTPConnection("127.0.0.1", port, timeout=5.0) for _ in range(connections)]
    tally = Tally(collections.Counter(), collections.Counter(), 0)
    deadline = time.monotonic() + time_limit
    try:
        for i in range(n):
            if time.monotonic() > deadline:
                raise TimeoutError("sent only %d of %d requests in %.0fs" % (i, n, time_limit), tally)
            answer = _send_retrying(pool[i % connections], method, path, host, headers, body)
            tally.versions[answer.headers.get(version_header)] += 1
            tally.statuses[answer.status] += 1
            tally.sent += 1
    finally:
        for conn in pool:
            conn.close()
    return tally
