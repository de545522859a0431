"""Run length and load shape, from the environment (defaults keep `make bench` under ~5 minutes)."""

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Settings:
    rounds: int  # throughput rounds; every listener runs once per round
    seconds: float  # one closed-loop run
    latency_rounds: int
    latency_seconds: float  # one fixed-rate run
    warmup_seconds: float  # per listener, before round 1 (discarded)
    connections: int  # wrk's keep-alive connections (closed loop)
    latency_connections: int  # h2load clients sharing the fixed rate
    rate: int  # fixed rate for latency; 0 = half the slowest median throughput
    memory_seconds: float  # load on each memory-measurement Envoy before reading its memory
    retry_seconds: float  # total time for measuring runs again that other work on the machine disturbed
    compare_module: str  # another build of the filter, measured as "shift-cmp" with the realistic config (A/B)
    compare_native: str  # another build of the native module (.so): "module-cmp" and "module-filter-cmp" (A/B)
    cost_model: bool  # also the plugin_configs.COST_MODEL listeners: the cost of one host read each
    instructions_requests: int  # `make bench-instructions`: requests counted per listener (after a warm-up)
    instructions_listeners: str  # `make bench-instructions`: comma-separated listener names, empty = all
    instructions_extra_headers: int  # `make bench-instructions`: headers added to each request (a mesh request's)


def from_environment() -> Settings:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")

    def number(name, default, kind=float):
        value = os.environ.get(name)
        return kind(value) if value else default

    return Settings(
        rounds=number("BENCH_ROUNDS", 1 if quick else 10, int),
        seconds=number("BENCH_SECONDS", 2.0 if quick else 3.0),
        latency_rounds=number("BENCH_LATENCY_ROUNDS", 1 if quick else 3, int),
        latency_seconds=number("BENCH_LATENCY_SECONDS", 2.0 if quick else 5.0),
        warmup_seconds=1.0 if quick else 2.0,
        connections=number("BENCH_CONNECTIONS", 32, int),
        latency_connections=8,
        rate=number("BENCH_RATE", 0, int),
        memory_seconds=1.0 if quick else 2.0,
        retry_seconds=number("BENCH_RETRY_SECONDS", 20.0 if quick else 60.0),
        compare_module=os.path.abspath(os.environ["BENCH_COMPARE_MODULE"])
        if os.environ.get("BENCH_COMPARE_MODULE")
        else "",
        compare_native=os.path.abspath(os.environ["BENCH_COMPARE_NATIVE"])
        if os.environ.get("BENCH_COMPARE_NATIVE")
        else "",
        cost_model=os.environ.get("BENCH_COST_MODEL", "") not in ("", "0"),
        instructions_requests=number("BENCH_INSTRUCTIONS_REQUESTS", 2000, int),
        instructions_listeners=os.environ.get("BENCH_INSTRUCTIONS_LISTENERS", ""),
        instructions_extra_headers=number("BENCH_EXTRA_HEADERS", 0, int),
    )
