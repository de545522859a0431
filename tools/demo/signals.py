"""SIGTERM ends the demo like Ctrl-C does, so the same cleanup (client, Envoy, files) runs for both."""

import signal


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def interrupt_on_sigterm():
    signal.signal(signal.SIGTERM, _raise_interrupt)
