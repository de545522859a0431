"""What the person running the demo sees.

In a terminal: a block redrawn every second with the stage, and one bar per `reviews` version showing its
share of the last second's answers, with Bookinfo's stars (v1 none, v2 black, v3 red), and what the filter's
own counter (traffic_shift_requests_total on /stats/prometheus) counted since the stage settled. Otherwise
(CI, pipes, tests): one plain line per stage. Both end with the summary printed by the caller.
"""

import shutil
import sys

from . import pages as pages_mod

RESET, BOLD, DIM, RED, GREEN, GREY = "\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[90m"
VERSIONS = ("v1", "v2", "v3")
STARS = {"v1": ("", "no stars"), "v2": (GREY, "★★★★★"), "v3": (RED, "★★★★★")}


def make(stream=None):
    stream = stream or sys.stdout
    return LiveDisplay(stream) if stream.isatty() else PlainDisplay(stream)


def describe_split(counts, total: int) -> str:
    return ", ".join(
        "%s %.1f%% (%d)" % (v, 100 * counts.get(v, 0) / total if total else 0, counts.get(v, 0)) for v in VERSIONS
    )


def describe_filter_counts(counts: dict) -> str:
    return "the filter counted %s (traffic_shift_requests_total)" % ", ".join(
        "%s %d" % (v, counts.get(v, 0)) for v in VERSIONS
    )


def stage_line(result: dict, index: int, total: int) -> str:
    """Every request of the stage's window: the answered ones split by version, plus the failed ones; then
    what the filter's own counter saw once the stage had settled (a window it names)."""
    answered = sum(result["answered"].values())
    shown = "; the product page showed %s" % pages_mod.describe(result["pages"]) if "pages" in result else ""
    return "stage %d/%d %s: %s; %d requests, %d failed; split of the %d answered: %s%s; %s since the stage settled" % (
        index,
        total,
        result["name"],
        result["applied"],
        result["requests"],
        result["failed"],
        answered,
        describe_split(result["answered"], answered),
        shown,
        describe_filter_counts(result["filter_counts"]),
    )


def verdict_line(stage, outcome, serving: str) -> str:
    if outcome.accepted:
        return "%s applied live in %.0f ms" % (stage.name, 1000 * outcome.seconds)
    return "%s REFUSED by Envoy (%s): %s; still serving %s" % (stage.name, outcome.verdict, outcome.reason, serving)


class PlainDisplay:
    """One line per stage, for logs."""

    def __init__(self, stream):
        self.out = stream

    def say(self, text: str):
        print(text, file=self.out, flush=True)

    def applied(self, stage, index: int, total: int, outcome, serving: str):
        if not outcome.accepted:
            self.say("stage %d/%d: %s" % (index, total, verdict_line(stage, outcome, serving)))

    def second(
        self, stage, index: int, total: int, counts, failed: int, elapsed: float, filter_counts: dict, pages=None
    ):
        pass

    def finished(self, result: dict, index: int, total: int):
        self.say(stage_line(result, index, total))


class LiveDisplay(PlainDisplay):
    """Bars redrawn in place once a second."""

    def __init__(self, stream):
        super().__init__(stream)
        self.drawn = 0  # lines of the live block on screen
        self.serving = None  # the stage whose configuration Envoy serves

    def _erase(self):
        if self.drawn:
            self.out.write("\x1b[%dF\x1b[J" % self.drawn)  # up to the block's first line, clear to the end
            self.drawn = 0

    def say(self, text: str):
        self._erase()
        super().say(text)

    def applied(self, stage, index: int, total: int, outcome, serving: str):
        colour = GREEN if outcome.accepted else RED + BOLD
        self.serving = serving
        self.say("%s%s%s" % (colour, verdict_line(stage, outcome, serving), RESET))

    def second(
        self, stage, index: int, total: int, counts, failed: int, elapsed: float, filter_counts: dict, pages=None
    ):
        answered = sum(counts.get(v, 0) for v in VERSIONS)
        width = max(10, min(50, shutil.get_terminal_size().columns - 30))
        name = stage.name if self.serving == stage.name else "%s (refused: still %s)" % (stage.name, self.serving)
        lines = [
            "%sstage %d/%d  %s%s   %2.0fs   %d req/s   %s%d failed%s"
            % (BOLD, index, total, name, RESET, elapsed, answered + failed, RED if failed else "", failed, RESET)
        ]
        for version in VERSIONS:
            share = counts.get(version, 0) / answered if answered else 0.0
            filled = round(share * width)
            colour, stars = STARS[version]
            lines.append(
                "  %s %s%-9s%s %s%s%s%s %3.0f%%"
                % (
                    version,
                    colour or DIM,
                    stars,
                    RESET,
                    colour,
                    "█" * filled,
                    RESET,
                    "░" * (width - filled),
                    100 * share,
                )
            )
        lines.append("  %s%s since the stage settled%s" % (DIM, describe_filter_counts(filter_counts), RESET))
        if pages is not None:
            lines.append("  product page, last 5 s: %s" % pages_mod.describe(pages))
        self._erase()
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self.drawn = len(lines)

    def finished(self, result: dict, index: int, total: int):
        self.say(BOLD + stage_line(result, index, total) + RESET)
