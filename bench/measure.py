"""The measurement rounds: every listener once per round, order rotated, so slow drifts hit all alike.

A run during which other work kept more than FOREIGN_LIMIT of a core busy (a shared machine: builds, other
tests) is repeated after a pause, at most RETRIES times and while the whole bench's retry time lasts
(settings.retry_seconds); what it finally measured is kept, and flagged."""

import dataclasses
import statistics
import time

from . import cpu, load

FOREIGN_LIMIT = 0.2  # cores of other work tolerated during a run
RETRIES = 2
PAUSE_SECONDS = 3.0


@dataclasses.dataclass
class Run:
    variant: str
    round: int
    rps: float
    cpu_us_per_request: float  # measured Envoy's own CPU time per answered request
    others_busy: float  # share of the generator/upstream core(s) in use: near 1.0 means they limited it
    foreign_cores: float  # other work on the machine during the run, in cores
    socket_errors: int = 0


class BenchError(RuntimeError):
    pass


def rotated(items: list, by: int) -> list:
    by %= len(items)
    return items[by:] + items[:by]


class Retries:
    """The time the whole bench may spend measuring disturbed runs again (keeps `make bench` bounded)."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> bool:
        return time.monotonic() < self.deadline


def _undisturbed(measure_once, meter: cpu.Meter, retries: Retries, label: str, progress):
    """(result, foreign cores) of measure_once(), repeated while other work disturbed it. A run whose
    connections stalled (socket errors, e.g. timeouts of a starved process) is never kept."""
    for attempt in range(RETRIES + 1):
        meter.start()
        result = measure_once()
        foreign = meter.foreign_cores()
        stalled = getattr(result, "socket_errors", 0)
        last = attempt == RETRIES or not retries.left()
        if stalled and last:
            raise BenchError(
                "%s: %d socket errors (timeouts), with %.2f cores of other work: the machine is "
                "too busy or Envoy stalls" % (label, stalled, foreign)
            )
        if not stalled and (foreign <= FOREIGN_LIMIT or last):
            return result, foreign
        progress(
            "%s: %s, measuring again"
            % (label, "%d socket errors" % stalled if stalled else "%.2f cores of other work meanwhile" % foreign)
        )
        time.sleep(PAUSE_SECONDS)
    raise AssertionError("unreachable")


def _throughput_once(envoy, placement, variant, seconds: float, connections: int, round_no: int) -> Run:
    cores_before, cpu_before = cpu.core_times(), cpu.process_seconds(envoy.pid)
    result = load.closed_loop(envoy.ports[variant.name], variant.host, seconds, connections)
    cores_after, cpu_after = cpu.core_times(), cpu.process_seconds(envoy.pid)
    if result.bad or not result.requests:
        raise BenchError(
            "%s: %d of %d answers were errors: the listener is broken, its numbers would lie"
            % (variant.name, result.bad, result.requests)
        )
    return Run(
        variant.name,
        round_no,
        result.rps,
        (cpu_after - cpu_before) / result.requests * 1e6,
        cpu.busy_share(cores_before, cores_after, placement.others),
        0.0,
        result.socket_errors,
    )


def throughput_rounds(envoy, placement, meter, retries, variants, settings, progress) -> list:
    for variant in variants:  # warm-up: connections, VM caches, upstream pools; discarded
        load.closed_loop(envoy.ports[variant.name], variant.host, settings.warmup_seconds, settings.connections)
    runs = []
    for round_no in range(settings.rounds):
        for variant in rotated(list(variants), round_no):
            run, run.foreign_cores = _undisturbed(
                lambda variant=variant, round_no=round_no: _throughput_once(
                    envoy, placement, variant, settings.seconds, settings.connections, round_no
                ),
                meter,
                retries,
                variant.name,
                progress,
            )
            progress(
                "round %d/%d  %-11s %8.0f req/s  %5.1f us CPU/req%s"
                % (
                    round_no + 1,
                    settings.rounds,
                    variant.name,
                    run.rps,
                    run.cpu_us_per_request,
                    "  (disturbed: %.2f cores of other work)" % run.foreign_cores
                    if run.foreign_cores > FOREIGN_LIMIT
                    else "",
                )
            )
            runs.append(run)
    return runs


def latency_rounds(envoy, meter, retries, variants, rate: int, settings, progress) -> dict:
    """{variant name: [Latency per round]} at a fixed rate; each Latency also gets .foreign_cores."""
    results = {v.name: [] for v in variants}
    for round_no in range(settings.latency_rounds):
        for variant in rotated(list(variants), round_no):
            latency, foreign = _undisturbed(
                lambda variant=variant: load.fixed_rate(
                    envoy.ports[variant.name],
                    variant.host,
                    rate,
                    settings.latency_seconds,
                    settings.latency_connections,
                ),
                meter,
                retries,
                variant.name,
                progress,
            )
            if latency.bad:
                raise BenchError("%s: %d errors at %d req/s" % (variant.name, latency.bad, rate))
            latency.foreign_cores = foreign
            progress(
                "latency %d/%d %-11s %6.0f req/s  p50 %.3f ms  p99 %.3f ms"
                % (
                    round_no + 1,
                    settings.latency_rounds,
                    variant.name,
                    latency.achieved_rps,
                    latency.p50_ms,
                    latency.p99_ms,
                )
            )
            results[variant.name].append(latency)
    return results


def medians(runs: list, field: str) -> dict:
    by_variant = {}
    for run in runs:
        by_variant.setdefault(run.variant, []).append(getattr(run, field))
    return {name: statistics.median(values) for name, values in by_variant.items()}


def quartiles(values: list) -> tuple:
    """(first quartile, third quartile); both the value itself when there is only one."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def spread(runs: list, variant: str) -> float:
    """Interquartile range / median of a variant's throughput over the rounds."""
    values = [r.rps for r in runs if r.variant == variant]
    q1, q3 = quartiles(values)
    return (q3 - q1) / statistics.median(values)


def round_ratios(runs: list, numerator: str, denominator: str) -> list:
    """throughput(numerator) / throughput(denominator) within each round."""
    per_round = {}
    for run in runs:
        per_round.setdefault(run.round, {})[run.variant] = run.rps
    return [r[numerator] / r[denominator] for r in per_round.values() if numerator in r and denominator in r]


def round_cpu_difference(runs: list, variant: str, baseline: str) -> float:
    """Median over rounds of (Envoy CPU per request of variant - that of baseline), within each round."""
    per_round = {}
    for run in runs:
        per_round.setdefault(run.round, {})[run.variant] = run.cpu_us_per_request
    return statistics.median(r[variant] - r[baseline] for r in per_round.values() if variant in r and baseline in r)


def round_ratio(runs: list, numerator: str, denominator: str) -> float:
    """Median over rounds of the within-round ratio: drift that hits a whole round cancels out."""
    return statistics.median(round_ratios(runs, numerator, denominator))
