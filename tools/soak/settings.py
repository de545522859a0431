"""Run length from the environment: SOAK_SCALE multiplies the request and push counts (1 = the full soak)."""

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Settings:
    steady_requests: int  # at least this many requests in the steady phase
    steady_max_seconds: float  # ... or fail when they take longer
    round_seconds: float  # one wrk + h2load round (connections are opened anew each round)
    pushes: int  # ECDS pushes in the storm (every BAD_EVERY-th one invalid)
    storm_max_seconds: float
    sample_seconds: float  # memory sampling period
    warmup_share: float  # leading share of the steady requests left out of the slope


def from_environment() -> Settings:
    scale = float(os.environ.get("SOAK_SCALE") or 1.0)
    if not 0 < scale <= 10:
        raise ValueError("SOAK_SCALE must be in (0, 10], got %r" % scale)
    requests = max(20_000, round(1_000_000 * scale))
    return Settings(
        steady_requests=requests,
        steady_max_seconds=60 + requests / 2000,  # fails below ~2,000 requests/s: a stall, not a slow machine
        round_seconds=20.0 if scale >= 0.5 else 3.0,
        pushes=max(20, round(200 * scale)),
        storm_max_seconds=60 + max(20, round(200 * scale)) * 2.0,
        sample_seconds=1.0 if scale >= 0.5 else 0.25,
        warmup_share=0.2,
    )
