"""A steady client for `reviews`: one keep-alive connection, a fixed request rate, every answer time-stamped.

The stage runner later cuts the record into stages by time, so the client never needs to know about
stages. Bounded by a request count and by wall time, like every load loop here.
"""
import bisect
import http.client
import threading
import time

HOST = "reviews:9080"  # what Bookinfo's productpage calls
PATH = "/reviews/0"
VERSION_HEADER = "x-version"  # set by envoylab's reviews upstreams


class Client(threading.Thread):
    def __init__(self, port: int, rate: float, max_requests: int, max_seconds: float):
        super().__init__(name="reviews-client", daemon=True)
        self.port, self.rate = port, rate
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.started_at = []  # monotonic start time of each request, increasing
        self.answers = []  # "v1" / "v2" / "v3", or "failed: <why>"
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()
        self.join(10)

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        begin = next_at = time.monotonic()
        try:
            while len(self.answers) < self.max_requests and time.monotonic() - begin < self.max_seconds:
                pause = next_at - time.monotonic()
                if pause > 0 and self._stop_event.wait(pause):
                    break
                if self._stop_event.is_set():
                    break
                # Keep the pace but never burst to catch up after a stall.
                next_at = max(next_at + 1 / self.rate, time.monotonic() - 0.1)
                sent = time.monotonic()
                answer = self.ask(conn)
                self.started_at.append(sent)
                self.answers.append(answer)
        finally:
            conn.close()

    def ask(self, conn) -> str:
        """One request: the answer to record ("v1", … or "failed: …"); pages.py asks for product pages."""
        return _ask(conn)

    def answers_between(self, start: float, end: float) -> list:
        """Answers to the requests sent in [start, end) (monotonic times)."""
        times = self.started_at[:len(self.answers)]
        return self.answers[bisect.bisect_left(times, start):bisect.bisect_left(times, end)]


def _ask(conn, once=None) -> str:
    once = once or _once
    try:
        return once(conn)
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        conn.close()  # a kept-alive connection closed in between: reopen once, nothing was routed on it
        try:
            return once(conn)
        except (OSError, http.client.HTTPException) as error:
            return "failed: %s" % type(error).__name__
    except (OSError, http.client.HTTPException) as error:
        conn.close()
        return "failed: %s" % type(error).__name__


def _once(conn) -> str:
    conn.request("GET", PATH, headers={"Host": HOST})
    response = conn.getresponse()
    response.read()
    version = response.getheader(VERSION_HEADER)
    if response.status != 200 or not version:
        return "failed: HTTP %d" % response.status
    return version
