"""Which worker thread owns a connection: Envoy counts accepted connections per worker and listener."""


def connections_per_worker(envoy, listener_port: int = None) -> dict:
    """{worker index: connections accepted so far} on the front listener (or the listener on listener_port).
    Open one connection while no other client connects, and the counter that moved names its worker."""
    port = listener_port or envoy.port
    prefix = "listener.127.0.0.1_%d.worker_" % port
    pattern = r"^listener\.127\.0\.0\.1_%d\.worker_\d+\.downstream_cx_total$" % port
    counts = {int(name[len(prefix) :].split(".")[0]): value for name, value in envoy.stats(pattern).items()}
    if not counts:
        raise RuntimeError("no per-worker listener stats for port %d" % port)
    return counts


def on_every_worker(envoy, per_worker: int, open_one, close, max_tries: int = 64) -> tuple:
    """({worker index: [per_worker connections]}, [spare ones, closed]). open_one() opens a connection to the
    front listener and has one request answered on it, while no other client connects: the per-worker accept
    counters then tell which worker took it. One whose worker has enough already is closed with close(); on
    failure all of them are."""
    found = {worker: [] for worker in connections_per_worker(envoy)}
    spare = []
    try:
        for _ in range(max_tries):
            if all(len(opened) >= per_worker for opened in found.values()):
                return found, spare
            before = connections_per_worker(envoy)
            connection = open_one()
            after = connections_per_worker(envoy)
            grown = [worker for worker in after if after[worker] != before.get(worker, 0)]
            if len(grown) != 1:
                close(connection)
                raise AssertionError("could not tell the worker of a new connection: %r -> %r" % (before, after))
            if len(found[grown[0]]) < per_worker:
                found[grown[0]].append(connection)
            else:
                close(connection)
                spare.append(connection)
        short = {worker: len(opened) for worker, opened in found.items() if len(opened) < per_worker}
        raise AssertionError("after %d connections some workers had too few: %r" % (max_tries, short))
    except BaseException:
        for opened in found.values():
            for connection in opened:
                close(connection)
        raise
