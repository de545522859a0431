"""What every Bookinfo service shares: an HTTP/1.1 server answering a few paths, and the sidecar client.

The server keeps connections alive (Envoy pools them) and logs nothing per request. Outbound calls go to the
sidecar with the service's name in Host, one kept-alive connection per thread, bounded by a timeout.
"""

import http.client
import http.server
import json
import sys
import threading

TIMEOUT = 3.0  # seconds for one outbound call; Bookinfo's productpage uses a few seconds too


class Answer:
    def __init__(self, status: int, body, content_type: str = "application/json", headers: dict = None):
        self.status, self.content_type, self.headers = status, content_type, headers or {}
        self.body = (
            body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )


def _handler(routes: dict):
    """routes: {path or prefix ending in '/': function(path) -> Answer}; /health is always there."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: without this, a 40 ms delayed ACK each

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            route = routes.get(path) or next(
                (f for p, f in routes.items() if p.endswith("/") and path.startswith(p)), None
            )
            if path == "/health":
                answer = Answer(200, {"status": "ok"})
            elif route is None:
                answer = Answer(404, {"error": "no such path: %s" % path})
            else:
                answer = route(path)
            self.send_response(answer.status)
            self.send_header("content-type", answer.content_type)
            self.send_header("content-length", str(len(answer.body)))
            self.send_header("cache-control", "no-store")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args):  # one line per request would drown the demo's output
            pass

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # as Envoy does: a port in TIME_WAIT is free


def bind(host: str, port: int, routes: dict) -> Server:
    return Server((host, port), _handler(routes))


def serve(name: str, host: str, port: int, routes: dict):
    """Bind, say where (the line stack.py waits for), serve until interrupted."""
    server = bind(host, port, routes)
    print("bookinfo %s listening on %s:%d" % (name, host, server.server_address[1]), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


class Sidecar:
    """Calls another service through Envoy: GET http://<sidecar><path> with Host <service>:9080."""

    def __init__(self, address: str):
        host, _, port = address.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        return conn

    def get(self, service: str, path: str):
        """(status, headers {lower name: value}, parsed JSON or None); status 0 when the call failed."""
        for attempt in range(2):  # a kept-alive connection closed in between is reopened once
            conn = self._connection()
            try:
                conn.request("GET", path, headers={"Host": "%s:9080" % service})
                response = conn.getresponse()
                body = response.read()
                headers = {k.lower(): v for k, v in response.getheaders()}
                try:
                    data = json.loads(body) if response.status == 200 else None
                except ValueError:
                    data = None
                return response.status, headers, data
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                self._local.conn = None
                if attempt or not isinstance(
                    error, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
                ):
                    print(
                        "bookinfo: %s%s through %s:%d failed: %s" % (service, path, self.host, self.port, error),
                        file=sys.stderr,
                    )
                    return 0, {}, None
        return 0, {}, None
