"""HTTP/1.1 to 127.0.0.1 over keep-alive connections: the one client of the tests, the demo, the soak, the bench's
sanity check and the docker test.

Header values may be bytes (sent as is, so non-UTF-8 values can be tested); the Host header is sent exactly as
given. Every loop is bounded both by a request count and by wall time.
"""

import collections
import dataclasses
import http.client
import time

HOST = "reviews:9080"
PATH = "/reviews/0"
VERSION_HEADER = "x-version"
FAILURES = (OSError, http.client.HTTPException)  # what a failed request raises
# A kept-alive connection the server closed in between: reopened once, nothing was routed on it.
_CLOSED_IN_BETWEEN = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


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


class Connection:
    """One keep-alive connection to 127.0.0.1:`port`, opened on the first send(). A connection the server
    closed in between is reopened once; after any other failure it is closed, and the next send() opens a new
    one. A context manager that closes it."""

    def __init__(self, port: int, timeout: float = 5.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    @property
    def local_port(self):
        """The client side's port while open (a new value means a new connection), else None."""
        return self.conn.sock.getsockname()[1] if self.conn.sock else None

    def send(
        self, headers=None, *, path: str = PATH, method: str = "GET", host: str = HOST, body: bytes = None
    ) -> Response:
        """headers: dict or [(name, value)], values str or bytes."""
        request = (method, path, host, _items(headers), body)
        try:
            try:
                return self._send(*request)
            except _CLOSED_IN_BETWEEN:
                self.conn.close()
                return self._send(*request)
        except BaseException:
            self.conn.close()
            raise

    def _send(self, method, path, host, headers, body) -> Response:
        self.conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        self.conn.putheader("Host", host)
        for name, value in headers:
            self.conn.putheader(name, value)
        if body is not None:
            self.conn.putheader("Content-Length", str(len(body)))
        self.conn.endheaders(body)
        answer = self.conn.getresponse()
        payload = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, payload)

    def close(self):
        self.conn.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc):
        self.close()


def request(
    port: int,
    *,
    path: str = PATH,
    method: str = "GET",
    host: str = HOST,
    headers=None,
    body: bytes = None,
    timeout: float = 5.0,
) -> Response:
    """One request on a fresh connection. headers: dict or [(name, value)], values str or bytes."""
    with Connection(port, timeout) as connection:
        return connection.send(headers, path=path, method=method, host=host, body=body)


def send_requests(
    port: int,
    n: int,
    *,
    path: str = PATH,
    method: str = "GET",
    host: str = HOST,
    headers=None,
    body: bytes = None,
    connections: int = 1,
    time_limit: float = 60.0,
    version_header: str = VERSION_HEADER,
) -> Tally:
    """n requests round-robin over `connections` keep-alive connections. Raises TimeoutError (with the partial
    tally as its second argument) if they take longer than time_limit seconds."""
    headers = _items(headers)
    pool = [Connection(port) for _ in range(connections)]
    tally = Tally(collections.Counter(), collections.Counter(), 0)
    deadline = time.monotonic() + time_limit
    try:
        for i in range(n):
            if time.monotonic() > deadline:
                raise TimeoutError("sent only %d of %d requests in %.0fs" % (i, n, time_limit), tally)
            answer = pool[i % connections].send(headers, path=path, method=method, host=host, body=body)
            tally.versions[answer.headers.get(version_header)] += 1
            tally.statuses[answer.status] += 1
            tally.sent += 1
    finally:
        for connection in pool:
            connection.close()
    return tally
