"""The load generators, both from Debian (tools/debian_tools.sh).

Closed loop: wrk, the usual HTTP/1.1 generator, and cheap per request, so the pinned Envoy (not the client)
saturates. Fixed rate: wrk cannot pace (wrk2 is not packaged), so h2load in HTTP/1.1 mode with --rps does,
and its --log-file gives every request's latency, from which we take exact percentiles.
"""

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile

from tools.envoylab.loadgen import LoadError, Throughput, parse_wrk, require

from .plugin_configs import REQUEST_PATH


@dataclasses.dataclass
class Latency:
    target_rps: int
    achieved_rps: float
    requests: int
    bad: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    foreign_cores: float = 0.0  # other work on the machine meanwhile (set by measure.py)


def _url(port: int) -> str:
    return "http://127.0.0.1:%d%s" % (port, REQUEST_PATH)


def closed_loop(port: int, host: str, seconds: float, connections: int) -> Throughput:
    """wrk, one thread, `connections` keep-alive connections, as fast as answers come back."""
    command = [
        require("wrk"),
        "-t1",
        "-c%d" % connections,
        "-d%ds" % max(1, round(seconds)),
        "-H",
        "Host: " + host,
        _url(port),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    if result.returncode != 0:
        raise LoadError("wrk failed (%d): %s%s" % (result.returncode, result.stdout, result.stderr))
    return parse_wrk(result.stdout)


def _percentile(sorted_values: list, q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def parse_h2load_log(text: str, target_rps: int, seconds: float) -> Latency:
    """h2load --log-file lines: start (us since epoch), status, microseconds to the end of the response."""
    durations, bad = [], 0
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        status, micros = int(fields[1]), int(fields[2])
        if not 200 <= status < 300:
            bad += 1
        durations.append(micros / 1000.0)
    if not durations:
        raise LoadError("h2load logged no requests")
    durations.sort()
    return Latency(
        target_rps,
        len(durations) / seconds,
        len(durations),
        bad,
        _percentile(durations, 0.50),
        _percentile(durations, 0.99),
        _percentile(durations, 0.999),
    )


def fixed_rate(port: int, host: str, rate: int, seconds: float, clients: int) -> Latency:
    """h2load over HTTP/1.1: `clients` connections, each paced at rate/clients requests per second, after a
    1 s warm-up (not logged). h2load sends the Host header from `:authority` (a `host:` header is ignored)."""
    per_client = max(1, round(rate / clients))
    workdir = tempfile.mkdtemp(prefix="bench-h2load-")
    log_path = os.path.join(workdir, "requests.tsv")
    duration = max(1, round(seconds))
    command = [
        require("h2load"),
        "--h1",
        "-c%d" % clients,
        "--rps=%d" % per_client,
        "-D",
        str(duration),
        "--warm-up-time=1",
        "--log-file=" + log_path,
        "-H",
        ":authority: " + host,
        _url(port),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 40)
        if result.returncode != 0:
            raise LoadError("h2load failed (%d): %s%s" % (result.returncode, result.stdout, result.stderr))
        with open(log_path) as f:
            return parse_h2load_log(f.read(), per_client * clients, duration)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_h2load_summary(text: str) -> tuple:
    """(requests h2load was asked for, answers with a 2xx status) from its closing summary."""
    total = re.search(r"^requests: (\d+) total", text, re.MULTILINE)
    statuses = re.search(r"^status codes: (\d+) 2xx", text, re.MULTILINE)
    if not total or not statuses:
        raise LoadError("unexpected h2load output:\n" + text)
    return int(total.group(1)), int(statuses.group(1))


def extra_headers(count: int) -> list:
    """`count` request headers of 40-byte values, standing for what a mesh request carries besides the
    bench's bare ones (user-agent, accept, tracing, x-forwarded-*...)."""
    return ["x-bench-extra-%02d: %s" % (i, "v" * 40) for i in range(count)]


def counted(port: int, host: str, requests: int, timeout: float, headers=()) -> int:
    """h2load over HTTP/1.1, one keep-alive connection, exactly `requests` requests one after another (no
    pacing), with `headers` ("name: value") added; returns how many were answered 2xx. Bounded by `timeout`
    seconds."""
    command = [require("h2load"), "--h1", "-c1", "-n%d" % requests, "-H", ":authority: " + host]
    command += [arg for header in headers for arg in ("-H", header)] + [_url(port)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise LoadError("h2load failed (%d): %s%s" % (result.returncode, result.stdout, result.stderr))
    return parse_h2load_summary(result.stdout)[1]
