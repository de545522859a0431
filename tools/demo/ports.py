"""The ports `make run` and `make demo` open: each wanted port if it is free, else a free one, said aloud."""

import socket

from tools.envoylab.ports import free_port

PRODUCTPAGE, FRONT, ADMIN = 9080, 10000, 9901  # Bookinfo's productpage, the sidecar listener, Envoy's admin


def busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Envoy does: TIME_WAIT is not busy
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def pick(wanted: dict, say=print) -> dict:
    """{role: wanted port} -> {role: port}: a free one instead of each busy (or 0) port, told with `say`."""
    picked = {}
    for role, port in wanted.items():
        if port and not busy(port) and port not in picked.values():
            picked[role] = port
            continue
        picked[role] = free_port()
        if port:
            say("port %d (%s) on 127.0.0.1 is taken: using %d instead" % (port, role, picked[role]))
    return picked
