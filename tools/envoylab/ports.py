"""Free TCP ports on 127.0.0.1 for Envoy's admin and listeners.

The kernel picks an unused port; we remember what we handed out so one process never gets the same port
twice while an Envoy may still hold it. Another process can still take the port before Envoy binds it:
`launch()` retries with fresh ports when Envoy reports a bind failure.
"""

import socket

_handed_out = set()


def free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found on 127.0.0.1")
