"""Is an observed split consistent with the configured weights? A 5-sigma bound per destination.

With n requests and expected share p, a destination's count is Binomial(n, p): we accept |count - n p| within
sigmas * sqrt(n p (1-p)). A share of 0 must get exactly 0 hits, a share of 1 exactly all. Sizing follows
gRPC's weighted-routing tests: n = p(1-p) * sigmas^2 / tol^2 + 1000, so a bound of `tol` (absolute share)
holds at 5 sigma and a correct filter fails about once in 1.7 million checks.
"""

import math


def normalise(weights: dict) -> dict:
    """{destination: weight} -> {destination: share}; weights are relative (1:3 is 25%/75%)."""
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("weights must not all be zero: %r" % (weights,))
    return {k: w / total for k, w in weights.items()}


def sample_size(p, tol: float = 0.05, sigmas: float = 5.0) -> int:
    """Requests needed so `sigmas` standard deviations stay within `tol` of share p. p may also be a
    {destination: weight} dict: then the share nearest 1/2 (the widest) decides."""
    if isinstance(p, dict):
        p = min(normalise(p).values(), key=lambda share: abs(share - 0.5))
    return math.ceil(p * (1 - p) * sigmas**2 / tol**2) + 1000


def check_shares(counts, weights: dict, *, sigmas: float = 5.0) -> tuple:
    """(destinations off their share, one line per destination: expected, got, allowed). counts: {destination:
    hits} (a Counter, or a Tally whose .versions is used); weights: {destination: weight}. Any destination not
    in weights must get no hits at all (that includes None: no version); no hits at all is a problem too."""
    counts = getattr(counts, "versions", counts)
    n = sum(counts.values())
    expected = normalise(weights)
    problems, rows = [], []
    destinations = sorted(set(expected) | {k for k, v in counts.items() if v}, key=str)
    width = max(len(str(dest)) for dest in destinations)
    for dest in destinations:
        p, hits = expected.get(dest, 0.0), counts.get(dest, 0)
        bound = sigmas * math.sqrt(n * p * (1 - p))
        off = abs(hits - n * p) > bound or (p == 0 and hits) or (p == 1 and hits != n)
        if off:
            problems.append(dest)
        rows.append(
            "  %-*s  expected %6.2f%%  got %6d (%6.2f%%)  allowed ±%-4.0f %s"
            % (width, dest, 100 * p, hits, 100 * hits / n if n else 0, bound, "OFF" if off else "ok")
        )
    return (problems if n else ["no traffic"]), rows


def assert_shares(counts, weights: dict, *, sigmas: float = 5.0):
    """check_shares, raising AssertionError with its lines if any destination is off its share."""
    problems, rows = check_shares(counts, weights, sigmas=sigmas)
    if problems:
        n = sum(getattr(counts, "versions", counts).values())
        raise AssertionError("split off for %s over %d requests:\n%s" % (problems, n, "\n".join(rows)))
