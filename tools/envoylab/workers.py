"""Which worker thread owns a connection: Envoy counts accepted connections per worker and listener."""


def connections_per_worker(envoy, listener_port: int = None) -> dict:
    """{worker index: connections accepted so far} on the front listener (or the listener on listener_port).
    Open one connection while no other client connects, and the counter that moved names its worker."""
    port = listener_port or envoy.port
    prefix = "listener.127.0.0.1_%d.worker_" % port
    pattern = r"^listener\.127\.0\.0\.1_%d\.worker_\d+\.downstream_cx_total$" % port
    counts = {int(name[len(prefix):].split(".")[0]): value for name, value in envoy.stats(pattern).items()}
    if not counts:
        raise RuntimeError("no per-worker listener stats for port %d" % port)
    return counts
