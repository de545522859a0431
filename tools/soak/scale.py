"""Configuration scale: configure time, module memory and per-request cost with 10, 1,000 and 10,000 entries,
keyed by authority (the filter's authority index) and by a header (a first-match scan), each pushed over ECDS
to one running Envoy with 2 workers; then a configuration of several MiB and hostile JSON (deep nesting, huge
values), which must be refused with the filter's one-line reason or served, and never break a VM.

Per configuration: `accept_ms` is Envoy's ECDS verdict (the main thread compiles the configuration first),
`in_force_ms` until a request for the last entry is answered by it on fresh connections (the workers compile
it too), `wasm_mib` the largest Wasm linear memory of a VM afterwards (it never shrinks, so it is the high-water
mark of parsing plus the compiled router), `rps` a short wrk run on the last entry (noisy on a shared machine).
"""

import json
import re
import shutil
import subprocess
import tempfile
import time

from tools import envoylab
from tools.envoylab import loadgen

from . import configs, memory
from . import envoy as soak_envoy

SIZES = (10, 1000, 10000)
BIG_ENTRIES = 50000  # ~16 MiB of JSON
WRK_SECONDS = 3
IN_FORCE_TIMEOUT = 60.0


def header_entries(n: int) -> dict:
    return {
        "http": [
            {
                "name": "tenant-%d" % i,
                "match": [{"headers": {"x-tenant": {"exact": "t-%d" % i}}}],
                "route": [envoylab.configs.destination("v1")],
            }
            for i in range(n)
        ]
    }


def _target(keyed: str, n: int):
    """(Host header, extra headers) of a request only the last entry matches."""
    if keyed == "authority":
        return envoylab.configs.authority(n - 1), {}
    return envoylab.traffic.HOST, {"x-tenant": "t-%d" % (n - 1)}


def _status(port: int, host: str, headers: dict) -> int:
    return envoylab.request(port, host=host, headers=headers, timeout=10).status


def _wrk(port: int, host: str, headers: dict) -> dict:
    command = [loadgen.require("wrk"), "-t1", "-c8", "-d%ds" % WRK_SECONDS, "-H", "Host: " + host]
    for name, value in headers.items():
        command += ["-H", "%s: %s" % (name, value)]
    result = subprocess.run(
        command + ["http://127.0.0.1:%d%s" % (port, envoylab.traffic.PATH)],
        capture_output=True,
        text=True,
        timeout=WRK_SECONDS + 30,
    )
    throughput = loadgen.parse_wrk(result.stdout)
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s)", result.stdout)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {
        "rps": round(throughput.rps),
        "failed": throughput.bad + throughput.socket_errors,
        "avg_ms": round(float(latency.group(1)) * scale[latency.group(2)], 3) if latency else None,
    }


def _measure(envoy, watched_dir: str, label: str, config: dict, target=None) -> dict:
    text = json.dumps(config)
    rss_before = memory.rss_bytes(envoy.pid)
    outcome = soak_envoy.push(envoy, watched_dir, text)
    row = {
        "config": label,
        "json_kib": len(text) // 1024,
        "verdict": outcome.verdict,
        "accept_ms": round(1000 * outcome.seconds),
    }
    if not outcome.accepted:
        row["reason"] = outcome.reason
        return row
    if target:
        host, headers = target
        while _status(envoy.port, host, headers) != 200 or _status(envoy.port, host, headers) != 200:
            if time.monotonic() - outcome.renamed > IN_FORCE_TIMEOUT:
                row["problem"] = "not in force after %.0fs" % IN_FORCE_TIMEOUT
                return row
            time.sleep(0.01)
        row["in_force_ms"] = round(1000 * (time.monotonic() - outcome.renamed))
    row["wasm_mib"] = round(max(size for size, _ in memory.wasm_memories(envoy.pid)) / memory.MIB, 1)
    row["rss_delta_mib"] = round((memory.rss_bytes(envoy.pid) - rss_before) / memory.MIB, 1)
    if target:
        row.update(_wrk(envoy.port, *target))
    return row


def hostile() -> list:
    """(label, raw configuration text, what the refusal must name)."""
    deep = '{"http": [{"name": "deep", "match": [' + "[" * 200 + "]" * 200 + "]}]}"
    huge_number = '{"http": [{"route": [{"destination": {"host": "a"}, "weight": 1e999}]}]}'
    huge_name = json.dumps({"http": [{"name": "n" * (1 << 20), "route": [{"destination": {"host": "a"}}]}]})
    return [
        ("nesting 200 deep", deep, "http[0].match"),
        ("weight 1e999", huge_number, "http[0].route[0].weight"),
        ("1 MiB entry name", huge_name, "http[0].name"),
    ]


def _on_fresh_envoy(label: str, config: dict, target, module: str) -> dict:
    """Each size on its own Envoy: linear memory only grows, so a VM that served a larger configuration
    before would hide this one's high-water mark."""
    watched_dir = tempfile.mkdtemp(prefix="soak-scale-")
    envoy = soak_envoy.start(watched_dir, configs.text(configs.realistic()), module)
    try:
        row = _measure(envoy, watched_dir, label, config, target)
        if row["verdict"] != "accepted" and _status(envoy.port, envoylab.traffic.HOST, {}) != 200:
            row["problem"] = "the previous configuration stopped serving"
        return row
    finally:
        envoy.close()
        shutil.rmtree(watched_dir, ignore_errors=True)


def run(module: str = None) -> dict:
    rows, refusals, problems = [], [], []
    for keyed, build in (("authority", envoylab.configs.authority_entries), ("header", header_entries)):
        for n in SIZES:
            row = _on_fresh_envoy("%d %s-keyed" % (n, keyed), build(n), _target(keyed, n), module)
            rows.append(row)
            if row["verdict"] != "accepted" or row.get("problem") or row.get("failed"):
                problems.append("%s: %r" % (row["config"], row))
    big = _on_fresh_envoy(
        "%d authority-keyed" % BIG_ENTRIES,
        envoylab.configs.authority_entries(BIG_ENTRIES),
        _target("authority", BIG_ENTRIES),
        module,
    )
    rows.append(big)
    if big.get("problem") or (big["verdict"] != "accepted" and "invalid configuration" not in big["reason"]):
        problems.append("%s: %r" % (big["config"], big))
    watched_dir = tempfile.mkdtemp(prefix="soak-hostile-")
    envoy = soak_envoy.start(watched_dir, configs.text(configs.realistic()), module)
    try:
        for label, text, path in hostile():
            outcome = soak_envoy.push(envoy, watched_dir, text)
            refusals.append(
                {
                    "config": label,
                    "verdict": outcome.verdict,
                    "ms": round(1000 * outcome.seconds),
                    "reason": outcome.reason[:160],
                }
            )
            if outcome.verdict != "rejected" or ("invalid configuration at " + path) not in outcome.reason:
                problems.append(
                    "%s: %s, %r (expected a refusal at %s)" % (label, outcome.verdict, outcome.reason[:200], path)
                )
        if not envoy.running or _status(envoy.port, envoylab.traffic.HOST, {}) != 200:
            problems.append("Envoy no longer serves its configuration after the hostile ones")
    finally:
        envoy.close()
        shutil.rmtree(watched_dir, ignore_errors=True)
    return {"rows": rows, "refusals": refusals, "problems": problems}
