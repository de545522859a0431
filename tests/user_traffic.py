"""Per-user traffic: requests that each carry their own headers, over chosen keep-alive connections, and
connections pinned to known Envoy worker threads.

lab.send_requests sends one header set n times; sticky tests need a different user on every request and,
for the multi-worker check, to know which worker owns each connection.
"""
import http.client
import time

from tools import envoylab as lab

MAX_SECONDS = 60.0  # every loop here is bounded by count and by this much wall time


class Connection:
    """One keep-alive connection to Envoy's front listener."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)

    def send(self, headers, *, path=lab.traffic.PATH, host=lab.traffic.HOST) -> lab.Response:
        for attempt in (1, 2):
            try:
                self.conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
                self.conn.putheader("Host", host)
                for name, value in (headers.items() if isinstance(headers, dict) else headers):
                    self.conn.putheader(name, value)
                self.conn.endheaders()
                answer = self.conn.getresponse()
                body = answer.read()
                return lab.Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, body)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection closed by Envoy in between; nothing was routed on it.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        self.conn.close()


class Pool:
    """Keep-alive connections used in turn; a context manager that closes them."""

    def __init__(self, port: int = None, size: int = 1, connections: list = None):
        self.connections = connections if connections is not None else [Connection(port) for _ in range(size)]
        self.turn = 0

    def send(self, headers, **options) -> lab.Response:
        connection = self.connections[self.turn % len(self.connections)]
        self.turn += 1
        return connection.send(headers, **options)

    def close(self):
        for connection in self.connections:
            connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def destinations(pool: Pool, users, headers_for, repeats: int = 1, **options) -> dict:
    """{user: [version of each answer]}: each user asks `repeats` times in a row, so with k connections in the
    pool a user's requests go over min(k, repeats) different ones; headers_for(user, round) gives that
    request's headers. Any answer other than 200 fails."""
    seen = {user: [] for user in users}
    deadline = time.monotonic() + MAX_SECONDS
    for user in users:
        for round_ in range(repeats):
            assert time.monotonic() < deadline, "per-user traffic took longer than %.0fs" % MAX_SECONDS
            answer = pool.send(headers_for(user, round_), **options)
            assert answer.status == 200, "user %r round %d: status %d" % (user, round_, answer.status)
            seen[user].append(answer.headers.get("x-version"))
    return seen


def only_destination(seen: dict) -> dict:
    """{user: its one version}; fails naming the users who saw more than one."""
    fickle = {user: versions for user, versions in seen.items() if len(set(versions)) != 1}
    assert not fickle, "%d users moved between destinations, e.g. %r" % (len(fickle), list(fickle.items())[:5])
    return {user: versions[0] for user, versions in seen.items()}


def worker_connection_counts(envoy) -> dict:
    """{worker index: connections accepted} on the front listener (Envoy's per-worker listener stats)."""
    return lab.connections_per_worker(envoy)


def connections_by_worker(envoy, per_worker: int, max_connections: int = 64) -> dict:
    """{worker index: [Connection]} with at least `per_worker` open connections on every worker. The kernel
    picks the worker of each new connection; the per-worker accept counters tell which one it picked."""
    found = {worker: [] for worker in worker_connection_counts(envoy)}
    spare = []
    for _ in range(max_connections):
        if all(len(conns) >= per_worker for conns in found.values()):
            break
        before = worker_connection_counts(envoy)
        connection = Connection(envoy.port)
        assert connection.send({}).status in (200, 500, 503)  # accepted and served (a canary may fail)
        after = worker_connection_counts(envoy)
        grown = [worker for worker in after if after[worker] != before.get(worker, 0)]
        assert len(grown) == 1, "could not tell the worker of a new connection: %r -> %r" % (before, after)
        (found[grown[0]] if len(found[grown[0]]) < per_worker else spare).append(connection)
    for connection in spare:
        connection.close()
    short = {worker: len(conns) for worker, conns in found.items() if len(conns) < per_worker}
    if short:
        for conns in found.values():
            for connection in conns:
                connection.close()
        raise AssertionError("after %d connections some workers had too few: %r" % (max_connections, short))
    return found
