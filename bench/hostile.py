"""python -m bench.hostile (`make bench-hostile`): requests carrying a 60 KiB header that realistic regexes
must scan, through traffic-shift, next to an Envoy route doing the same `safe_regex` header matches with RE2
and no filter.

One measured Envoy (concurrency 1, pinned to its own core as in `make bench`) carries:
- `re2`: no filter; routes match the header with Envoy's `safe_regex` (RE2), in the same order, else 50/50;
- `shift-hostile`: traffic-shift with the same regexes as `headers` matches, routing by `cluster_header`;
- `shift-hostile-cmp` (with BENCH_COMPARE_MODULE=x.wasm): that build of the filter, same configuration.
Every request carries `x-session`: 60 KiB of text that matches neither regex, so both must scan all of it.
The header is removed before the upstream (`request_headers_to_remove`) in every listener alike. Rounds
alternate the listeners; the ratio is the median over rounds of shift-hostile / re2 within a round. Then one
Envoy per listener under the same load gives its RSS. Knobs: BENCH_ROUNDS (default 6), BENCH_SECONDS (3),
BENCH_CONNECTIONS (8), BENCH_COMPARE_MODULE.
"""

import collections
import json
import os
import statistics
import subprocess
import sys

from tools import envoylab
from tools.envoylab.configs import destination, split

from . import envoys, instructions, listeners
from . import settings as bench_settings
from .cpu import Placement, process_seconds
from .load import LoadError, parse_wrk, require
from .plugin_configs import REQUEST_HOST, REQUEST_PATH, V1, V2, V3

HEADER = "x-session"
# Realistic patterns an operator writes for a header: a 32-hex-digit session id anywhere in it, a JWT.
PATTERNS = ((".*[0-9a-f]{32}.*", "v3"), (r"Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", "v2"))
VALUE_BYTES = 60 * 1024
# Text with hex letters in it, but never 32 in a row: the first regex has to read to the end.
VALUE = ("lorem ipsum dolor sit amet, consectetur adipiscing elit " * (VALUE_BYTES // 56 + 1))[:VALUE_BYTES]
MAX_REQUEST_HEADERS_KB = 96  # Envoy's default (60) would answer 431 before any filter runs
RESULTS = os.path.join(listeners.REPO, "target", "bench", "hostile.json")
CLUSTERS = {"v1": V1, "v2": V2, "v3": V3}


HOSTILE_CONFIG = {
    "hosts": ["reviews"],
    "http": [
        {
            "name": "regex-%d" % i,
            "match": [{"headers": {HEADER: {"regex": pattern}}}],
            "route": [destination(subset, 100)],
        }
        for i, (pattern, subset) in enumerate(PATTERNS)
    ]
    + [{"name": "reviews-shift", "route": split({"v1": 50, "v3": 50})}],
}


def _re2_routes() -> list:
    regex_routes = [
        {
            "match": {"prefix": "/", "headers": [{"name": HEADER, "string_match": {"safe_regex": {"regex": pattern}}}]},
            "route": {"cluster": CLUSTERS[subset]},
        }
        for pattern, subset in PATTERNS
    ]
    split = {"weighted_clusters": {"clusters": [{"name": V1, "weight": 50}, {"name": V3, "weight": 50}]}}
    return regex_routes + [{"match": {"prefix": "/"}, "route": split}]


def _shift_routes() -> list:
    return [{"match": {"prefix": "/"}, "route": {"cluster_header": envoylab.CLUSTER_HEADER}}]


def variants(module: str, compare_module: str) -> list:
    """(name, http filters, routes)."""
    found = [
        ("re2", [], _re2_routes()),
        ("shift-hostile", [envoylab.wasm_filter(HOSTILE_CONFIG, module=module)], _shift_routes()),
    ]
    if compare_module:
        found.append(
            ("shift-hostile-cmp", [envoylab.wasm_filter(HOSTILE_CONFIG, module=compare_module)], _shift_routes())
        )
    return found


def _listener(name: str, filters: list, routes: list) -> dict:
    for route in routes:
        route["request_headers_to_remove"] = [HEADER]  # the upstream never sees the 60 KiB
    listener = envoylab.http_listener(
        name, envoylab.ports.free_port(), {"name": name, "domains": ["*"], "routes": routes}, filters
    )
    listener["filter_chains"][0]["filters"][0]["typed_config"]["max_request_headers_kb"] = MAX_REQUEST_HEADERS_KB
    return listener


def bootstrap(chosen: list, upstream_ports: dict) -> dict:
    boot = listeners.measured_bootstrap([], upstream_ports)
    boot["static_resources"]["listeners"] = [_listener(*v) for v in chosen]
    return boot


def _port(envoy, name: str) -> int:
    return envoy.ports[name]


def run_wrk(port: int, seconds: float, connections: int):
    command = [
        require("wrk", "make bench-hostile"),
        "-t1",
        "-c%d" % connections,
        "-d%ds" % max(1, round(seconds)),
        "-H",
        "Host: " + REQUEST_HOST,
        "-H",
        "%s: %s" % (HEADER, VALUE),
        "http://127.0.0.1:%d%s" % (port, REQUEST_PATH),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise LoadError("wrk failed (%d): %s%s" % (result.returncode, result.stdout, result.stderr))
    done = parse_wrk(result.stdout)
    if done.bad or done.socket_errors or not done.requests:
        raise LoadError(
            "wrk saw %d non-2xx answers and %d socket errors on port %d:\n%s"
            % (done.bad, done.socket_errors, port, result.stdout)
        )
    return done


def check(envoy, chosen):
    """Each listener answers 200 from v1 and v3 (the split), never v2/v3 by a regex that should not match."""
    for name, _, _ in chosen:
        tally = envoylab.send_requests(
            _port(envoy, name), 40, host=REQUEST_HOST, path=REQUEST_PATH, headers={HEADER: VALUE}, time_limit=60.0
        )
        seen = {v for v, n in tally.versions.items() if n}
        if tally.statuses != {200: 40} or seen != {"v1", "v3"}:
            raise LoadError(
                "listener %s: statuses %s, versions %s\n%s"
                % (name, dict(tally.statuses), dict(tally.versions), envoy.log()[-3000:])
            )


Listener = collections.namedtuple("Listener", "name host")


def main_instructions(settings) -> int:
    """`python -m bench.hostile --instructions`: the same listeners under callgrind (bench/instructions.py),
    instructions per request, deterministic on a shared machine. BENCH_INSTRUCTIONS_REQUESTS (here default 100)."""
    requests = int(os.environ.get("BENCH_INSTRUCTIONS_REQUESTS") or 100)
    chosen = variants(envoylab.module_path(), settings.compare_module)
    callgrind = instructions.Callgrind(envoylab.envoy_binary())
    upstream = envoys.start(listeners.upstream_bootstrap)
    try:
        ports = listeners.upstream_ports(upstream)
        print("  starting Envoy under callgrind", file=sys.stderr, flush=True)
        measured = envoys.start(
            lambda: bootstrap(chosen, ports), envoy=callgrind.wrapper, ready_timeout=instructions.READY_SECONDS
        )
        try:
            per_request = {}
            for name, _, _ in chosen:
                try:
                    per_request.update(
                        instructions.measure(
                            measured,
                            callgrind,
                            [Listener(name, REQUEST_HOST)],
                            requests,
                            lambda message: print("  " + message, file=sys.stderr, flush=True),
                            ["%s: %s" % (HEADER, VALUE)],
                        )
                    )
                except subprocess.TimeoutExpired:
                    # regex-lite's Pike VM takes about 50x longer than the others: too slow under callgrind.
                    print("  %s: too slow under callgrind, skipped" % name, file=sys.stderr, flush=True)
        finally:
            measured.close()
    except (LoadError, envoylab.EnvoyError, instructions.BenchError) as failure:
        print("bench-hostile failed: %s" % failure, file=sys.stderr)
        return 1
    finally:
        upstream.close()
        callgrind.close()
    for name, count in per_request.items():
        print("%s: %.1fk instructions per request" % (name, count / 1000))
    for name in [n for n in per_request if n != "re2" and "re2" in per_request]:
        print(
            "hostile_ratio_by_instructions[%s] = %.3f (re2's instructions per request / %s's)"
            % (name, per_request["re2"] / per_request[name], name)
        )
    return 0


def main() -> int:
    settings = bench_settings.from_environment()
    if sys.argv[1:] == ["--instructions"]:
        return main_instructions(settings)
    rounds = int(os.environ.get("BENCH_ROUNDS") or 6)
    seconds = float(os.environ.get("BENCH_SECONDS") or 3)
    connections = int(os.environ.get("BENCH_CONNECTIONS") or 8)
    module = envoylab.module_path()
    chosen = variants(module, settings.compare_module)
    placement = Placement()
    placement.pin_self()
    upstream = envoys.start(listeners.upstream_bootstrap)
    rps = {name: [] for name, _, _ in chosen}
    cpu_us = {name: [] for name, _, _ in chosen}  # the measured Envoy's CPU per answered request
    memory = {}
    try:
        ports = listeners.upstream_ports(upstream)
        measured = envoys.start(lambda: bootstrap(chosen, ports))
        try:
            placement.pin_process(measured.pid)
            check(measured, chosen)
            for name, _, _ in chosen:
                run_wrk(_port(measured, name), 1, connections)  # warm-up, discarded
            for round_index in range(rounds):
                order = chosen[round_index % len(chosen) :] + chosen[: round_index % len(chosen)]
                for name, _, _ in order:
                    before = process_seconds(measured.pid)
                    done = run_wrk(_port(measured, name), seconds, connections)
                    rps[name].append(done.rps)
                    cpu_us[name].append((process_seconds(measured.pid) - before) * 1e6 / done.requests)
                print(
                    "  round %d: %s"
                    % (round_index + 1, ", ".join("%s %.0f" % (name, rps[name][-1]) for name, _, _ in chosen)),
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            measured.close()
        for variant in chosen:
            alone = envoys.start(lambda variant=variant: bootstrap([variant], ports))
            try:
                placement.pin_process(alone.pid)
                run_wrk(_port(alone, variant[0]), 2, connections)
                memory[variant[0]] = envoylab.rss_bytes(alone.pid)
            finally:
                alone.close()
    except (LoadError, envoylab.EnvoyError) as failure:
        print("bench-hostile failed: %s" % failure, file=sys.stderr)
        return 1
    finally:
        upstream.close()
    result = {
        "rps": rps,
        "cpu_us_per_request": cpu_us,
        "rss": memory,
        "value_bytes": VALUE_BYTES,
        "patterns": [p for p, _ in PATTERNS],
        "module_bytes": os.path.getsize(module),
    }
    print(
        "| listener | req/s (median of %d rounds) | Envoy CPU us/req (median) | Envoy RSS MiB (alone, after load) |"
        % rounds
    )
    print("|---|---:|---:|---:|")
    for name, _, _ in chosen:
        print(
            "| %s | %.0f | %.1f | %.1f |"
            % (name, statistics.median(rps[name]), statistics.median(cpu_us[name]), memory[name] / 2**20)
        )
    for name in [n for n, _, _ in chosen if n != "re2"]:
        ratios = sorted(a / b for a, b in zip(rps[name], rps["re2"]))
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        key = "hostile_ratio" if name == "shift-hostile" else "hostile_ratio_cmp"
        result[key] = statistics.median(ratios)
        print(
            "%s = %.3f (%s / re2, median of %d rounds; quartiles %.3f-%.3f)"
            % (key, statistics.median(ratios), name, len(ratios), quartiles[0], quartiles[2])
        )
        # The same comparison from the Envoy's CPU per request: what its throughput would be on an otherwise
        # idle core, less disturbed by other work on a shared machine than requests per second.
        by_cpu = sorted(b / a for a, b in zip(cpu_us[name], cpu_us["re2"]))
        result[key + "_by_cpu"] = statistics.median(by_cpu)
        print(
            "%s_by_cpu = %.3f (re2's Envoy CPU per request / %s's, median of %d rounds; range %.3f-%.3f)"
            % (key, statistics.median(by_cpu), name, len(by_cpu), by_cpu[0], by_cpu[-1])
        )
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
