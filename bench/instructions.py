"""`make bench-instructions`: instructions per request of each bench listener, counted by valgrind's callgrind.

Throughput on this shared 2-core machine wanders by ±10% per round; the guest instructions Envoy executes per
request do not, so small changes are compared here. One measured Envoy (concurrency 1) runs under callgrind
(`--smc-check=all-non-file`: V8 writes the code it runs) with every listener of listeners.variants(); per
listener: WARMUP_REQUESTS discarded, counters zeroed, settings.instructions_requests on one keep-alive
connection (h2load), counters dumped. Kernel time (syscalls, loopback networking) is not counted, so the
ratios here overstate throughput differences; `make bench` measures those.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

from tools import envoylab

from . import envoys, listeners, load, report, sanity
from .measure import BenchError
from .plugin_configs import REQUEST_PATH

RESULTS = os.path.join(listeners.REPO, "target", "bench", "instructions.json")
WARMUP_REQUESTS = 300  # connections, upstream pools, LuaJIT traces: not what a request costs
READY_SECONDS = 600.0  # Envoy and V8 compiling the modules, all under valgrind
CONTROL_SECONDS = 120.0  # one callgrind_control command (a dump writes a few MB)
SECONDS_PER_REQUEST = 0.05  # bound on one request under callgrind (a few ms in practice)
WARMUP_TIMEOUT_SECONDS = 120.0  # a listener's first request under callgrind (seconds on a loaded machine)
# Every throughput ratio of report.RATIOS, as instructions: `ratio_vs_floor` -> `instructions_vs_floor`.
RATIOS = {name.replace("ratio_", "instructions_", 1): pair for name, pair in report.RATIOS.items()}
SUMMARY = tuple(name.replace("ratio_", "instructions_", 1) for name in report.SUMMARY)


def parse_dump(text: str) -> int:
    """The Ir (instructions executed) total of one callgrind dump: its `totals:` line, else `summary:`."""
    events = re.search(r"^events:\s*(.+)$", text, re.MULTILINE)
    column = events.group(1).split().index("Ir") if events and "Ir" in events.group(1).split() else 0
    for key in ("totals", "summary"):
        line = re.search(r"^%s:\s*(.+)$" % key, text, re.MULTILINE)
        if line:
            return int(line.group(1).split()[column])
    raise BenchError("callgrind dump without a totals or summary line:\n" + text[:500])


def select(variants: list, names: str) -> list:
    """The listeners named in the comma-separated `names` (all when empty), in table order."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(wanted) - {v.name for v in variants})
    if unknown:
        raise BenchError(
            "BENCH_INSTRUCTIONS_LISTENERS: no listener %s (there are: %s)"
            % (", ".join(unknown), ", ".join(v.name for v in variants))
        )
    return [v for v in variants if not wanted or v.name in wanted]


class Callgrind:
    """A temp dir holding the wrapper that execs valgrind on the real Envoy, its dumps and vgdb's FIFOs."""

    def __init__(self, envoy: str):
        self.workdir = tempfile.mkdtemp(prefix="bench-callgrind-")
        self.vgdb_prefix = "--vgdb-prefix=" + os.path.join(self.workdir, "vgdb")
        self.wrapper = os.path.join(self.workdir, "envoy-callgrind")
        valgrind = load.require("valgrind", "make bench-instructions")
        self.control = load.require("callgrind_control", "make bench-instructions")
        with open(self.wrapper, "w") as f:
            f.write(
                '#!/bin/sh\nexec %s --tool=callgrind --smc-check=all-non-file %s --callgrind-out-file=%s %s "$@"\n'
                % (valgrind, self.vgdb_prefix, os.path.join(self.workdir, "callgrind.out.%p"), envoy)
            )
        os.chmod(self.wrapper, os.stat(self.wrapper).st_mode | stat.S_IXUSR)

    def _command(self, pid: int, option: str):
        result = subprocess.run(
            [self.control, self.vgdb_prefix, option, str(pid)], capture_output=True, text=True, timeout=CONTROL_SECONDS
        )
        if result.returncode != 0:
            raise BenchError("callgrind_control %s %d failed: %s%s" % (option, pid, result.stdout, result.stderr))

    def _dumps(self) -> set:
        return {name for name in os.listdir(self.workdir) if name.startswith("callgrind.out.")}

    def zero(self, pid: int):
        self._command(pid, "-z")

    def dump(self, pid: int) -> int:
        """Instructions since the last zero (all of Envoy's threads); the dump files are removed."""
        before = self._dumps()
        self._command(pid, "-d")
        new = sorted(self._dumps() - before)
        if not new:
            raise BenchError("callgrind_control -d %d wrote no dump into %s" % (pid, self.workdir))
        total = 0
        for name in new:
            path = os.path.join(self.workdir, name)
            with open(path) as f:
                total += parse_dump(f.read())
            os.remove(path)
        return total

    def close(self):
        shutil.rmtree(self.workdir, ignore_errors=True)


def _requests(envoy, variant, count: int, headers=()):
    answered = load.counted(envoy.ports[variant.name], variant.host, count, 30 + count * SECONDS_PER_REQUEST, headers)
    if answered != count:
        raise BenchError(
            "%s: %d of %d requests answered 2xx under callgrind: the listener is broken\n%s"
            % (variant.name, answered, count, envoy.log()[-3000:])
        )


def measure(envoy, callgrind: Callgrind, variants: list, requests: int, progress, headers=()) -> dict:
    """{listener: instructions per request}."""
    per_request = {}
    for variant in variants:
        _requests(envoy, variant, WARMUP_REQUESTS, headers)
        callgrind.zero(envoy.pid)
        _requests(envoy, variant, requests, headers)
        per_request[variant.name] = callgrind.dump(envoy.pid) / requests
        progress("%-15s %9.0f instructions/request" % (variant.name, per_request[variant.name]))
    return per_request


def ratios(per_request: dict) -> dict:
    """Each of RATIOS whose listeners both ran: instructions(a) / instructions(b), lower is better."""
    return {
        name: per_request[a] / per_request[b]
        for name, (a, b) in RATIOS.items()
        if a in per_request and b in per_request
    }


def cost_steps(per_request: dict) -> list:
    """[(what, instructions per request)] for the report.COST_STEPS whose listeners ran."""
    return [
        (what, per_request[a] - per_request[b])
        for what, a, b in report.COST_STEPS
        if a in per_request and b in per_request
    ]


def _thousands(n: float) -> str:
    return "%.1fk" % (n / 1000)


def table(result: dict) -> str:
    per_request = {v["name"]: v["instructions_per_request"] for v in result["variants"]}
    native, floor = per_request.get("native"), per_request.get("floor")
    lines = [
        "| listener | what runs before the router | instructions/req | vs native | vs floor |",
        "|---|---|---:|---:|---:|",
    ]
    for v in result["variants"]:
        count = v["instructions_per_request"]
        lines.append(
            "| %s | %s | %s | %s | %s |"
            % (
                v["name"],
                v["what"],
                _thousands(count),
                "-" if native is None or v["name"] == "native" else "%+.1fk" % ((count - native) / 1000),
                "-" if floor is None else "%.3f" % (count / floor),
            )
        )
    lines.append("")
    lines.append(
        "callgrind, one Envoy worker, %d requests per listener after %d of warm-up, %d extra headers each; "
        "user-space instructions of all Envoy threads (kernel time not counted)"
        % (result["requests"], result["warmup_requests"], result.get("extra_headers", 0))
    )
    if "instructions_cmp_vs_shift" in result["ratios"]:
        lines.append(
            "BENCH_COMPARE_MODULE vs traffic_shift.wasm (same config): instructions ratio %.3f, %+.0f "
            "instructions/req"
            % (result["ratios"]["instructions_cmp_vs_shift"], per_request["shift-cmp"] - per_request["shift"])
        )
    for what, count in result["cost_steps"]:
        lines.append("cost model: %s: %+.0f instructions/req" % (what, count))
    return "\n".join(lines)


def final_lines(result: dict) -> list:
    """Every instructions ratio the run has, one a line, then the summary ones on the last line; instructions
    of the first listener over the second, so lower is better (unlike the throughput ratios of `make bench`)."""
    present = result["ratios"]
    own = ["%s=%.3f" % (name, value) for name, value in present.items() if name not in SUMMARY]
    last = " ".join("%s=%.3f" % (name, present[name]) for name in SUMMARY if name in present)
    return own + ([last] if last else [])


def run(settings, progress) -> dict:
    module = envoylab.module_path()
    if settings.compare_module and not os.path.isfile(settings.compare_module):
        raise BenchError("BENCH_COMPARE_MODULE: no file %s" % settings.compare_module)
    if settings.compare_native:
        listeners.install_compare_native(settings.compare_native)
    variants = select(
        listeners.variants(module, settings.compare_module, settings.cost_model, settings.compare_native),
        settings.instructions_listeners,
    )
    load.require("h2load")
    callgrind = Callgrind(envoylab.envoy_binary())
    upstream = envoys.start(listeners.upstream_bootstrap)
    try:
        ports = listeners.upstream_ports(upstream)
        progress("starting Envoy under callgrind (a minute or two)")
        measured = envoys.start(
            lambda: listeners.measured_bootstrap(variants, ports), envoy=callgrind.wrapper, ready_timeout=READY_SECONDS
        )
        try:
            # The first requests under callgrind wait while valgrind translates Envoy's code (seconds on
            # a loaded machine): one per listener, with time to spare, before the sanity check's.
            for variant in variants:
                envoylab.request(
                    measured.ports[variant.name], host=variant.host, path=REQUEST_PATH, timeout=WARMUP_TIMEOUT_SECONDS
                )
            sanity.check(measured, variants)
            progress("%d listeners x %d requests" % (len(variants), settings.instructions_requests))
            per_request = measure(
                measured,
                callgrind,
                variants,
                settings.instructions_requests,
                progress,
                load.extra_headers(settings.instructions_extra_headers),
            )
        finally:
            measured.close()
    finally:
        upstream.close()
        callgrind.close()
    return summary(per_request, variants, settings)


def summary(per_request: dict, variants: list, settings) -> dict:
    """What instructions.json holds and table() prints."""
    return {
        "requests": settings.instructions_requests,
        "warmup_requests": WARMUP_REQUESTS,
        "extra_headers": settings.instructions_extra_headers,
        "settings": settings.__dict__,
        "variants": [
            {"name": v.name, "what": v.what, "instructions_per_request": per_request[v.name]} for v in variants
        ],
        "ratios": ratios(per_request),
        "cost_steps": cost_steps(per_request),
    }


def main(settings, progress) -> int:
    try:
        result = run(settings, progress)
    except (BenchError, load.LoadError, envoylab.EnvoyError, subprocess.TimeoutExpired) as failure:
        print("bench-instructions failed: %s" % failure, file=sys.stderr)
        return 1
    report.save(result, RESULTS)
    print(table(result))
    print("(all numbers: %s)" % os.path.relpath(RESULTS))
    for line in final_lines(result):
        print(line)
    return 0
