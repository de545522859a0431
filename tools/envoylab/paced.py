"""A paced client: one keep-alive connection, a fixed request rate, every answer time-stamped.

Whoever reads the record later cuts it by time (the demo's stages, a test's rollout steps), so the client never
needs to know about them. Bounded by a request count and by wall time, like every load loop here.
"""

import bisect
import threading
import time

from .traffic import FAILURES, HOST, PATH, VERSION_HEADER, Connection


class PacedClient(threading.Thread):
    """Asks `reviews` `rate` times a second and records what answered ("v1", …, or "failed: <why>"); a
    subclass asks something else by its own path, host and answer_of()."""

    path, host = PATH, HOST

    def __init__(self, port: int, rate: float, max_requests: int, max_seconds: float, name: str = "reviews-client"):
        super().__init__(name=name, daemon=True)
        self.port, self.rate = port, rate
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.started_at = []  # monotonic start time of each request, increasing
        self.answers = []  # "v1" / "v2" / "v3", or "failed: <why>"
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()
        self.join(10)

    def run(self):
        begin = next_at = time.monotonic()
        with Connection(self.port) as connection:
            while len(self.answers) < self.max_requests and time.monotonic() - begin < self.max_seconds:
                pause = next_at - time.monotonic()
                if pause > 0 and self._stop_event.wait(pause):
                    break
                if self._stop_event.is_set():
                    break
                # Keep the pace but never burst to catch up after a stall.
                next_at = max(next_at + 1 / self.rate, time.monotonic() - 0.1)
                sent = time.monotonic()
                answer = self.ask(connection)
                self.started_at.append(sent)
                self.answers.append(answer)

    def ask(self, connection: Connection) -> str:
        """One request: the answer to record."""
        try:
            response = connection.send(path=self.path, host=self.host)
        except FAILURES as error:
            return "failed: %s" % type(error).__name__
        if response.status != 200:
            return "failed: HTTP %d" % response.status
        return self.answer_of(response)

    def answer_of(self, response) -> str:
        """What a 200 answer says: the version that answered."""
        return response.headers.get(VERSION_HEADER) or "failed: HTTP 200"  # no version: not a reviews answer

    def answers_between(self, start: float, end: float) -> list:
        """Answers to the requests sent in [start, end) (monotonic times)."""
        times = self.started_at[: len(self.answers)]
        return self.answers[bisect.bisect_left(times, start) : bisect.bisect_left(times, end)]
