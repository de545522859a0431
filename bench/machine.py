"""What the numbers were measured on."""

import os
import platform
import subprocess

from . import cpu


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def envoy_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    return out.strip().rsplit("version:", 1)[-1].strip() or "unknown"


def tool_version(command: list) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "missing"
    text = (result.stdout + result.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def background_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy before the bench starts anything: other work here makes numbers noisy."""
    import time

    before = cpu.core_times()
    time.sleep(seconds)
    after = cpu.core_times()
    return cpu.busy_share(before, after, list(after))


def describe(envoy_binary: str) -> dict:
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "envoy": envoy_version(envoy_binary),
        "wrk": tool_version(["wrk", "-v"]),
        "h2load": tool_version(["h2load", "--version"]),
    }
