"""Per-user traffic: requests that each carry their own headers, over chosen keep-alive connections, and
connections pinned to known Envoy worker threads.

lab.send_requests sends one header set n times; sticky tests need a different user on every request and,
for the multi-worker check, to know which worker owns each connection.
"""

import time

from tools import envoylab as lab

MAX_SECONDS = 60.0  # every loop here is bounded by count and by this much wall time


class Pool:
    """Keep-alive connections (lab.Connection) used in turn; a context manager that closes them."""

    def __init__(self, port: int = None, size: int = 1, connections: list = None):
        self.connections = connections if connections is not None else [lab.Connection(port) for _ in range(size)]
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


def connections_by_worker(envoy, per_worker: int) -> dict:
    """{worker index: [lab.Connection]} with `per_worker` open connections on every worker."""

    def open_one():
        connection = lab.Connection(envoy.port)
        assert connection.send({}).status in (200, 500, 503)  # accepted and served (a canary may fail)
        return connection

    found, _ = lab.on_every_worker(envoy, per_worker, open_one, lab.Connection.close)
    return found
