"""Did the filter's Wasm VM ever fail (trap, Rust panic)?

Envoy 1.40 has no counter for a Wasm runtime error under the default failure policy: the VM is marked failed,
one line is logged, and every later request gets a 503. Under `failure_policy: FAIL_RELOAD` a failed VM is
reloaded instead, and that moves stats: `wasm.<plugin name>.vm_reload_backoff` / `vm_reload_success` /
`vm_reload_failure` and `wasm.envoy.wasm.runtime.v8.created` (a new VM). So the hostile-input tests run the
filter with FAIL_RELOAD and check those stats exist and did not move, and that the log holds no Wasm error.
`trapping_module` builds a tiny proxy-wasm module that traps on every request: the control showing that this
check really fails on a runtime error (see test_hostile_e2e.py).
"""

import os
import re

from tools import envoylab as lab

PLUGIN_STATS = "wasm.%s." % lab.FILTER_NAME
RELOAD_COUNTERS = tuple(
    PLUGIN_STATS + name for name in ("vm_reload", "vm_reload_backoff", "vm_reload_success", "vm_reload_failure")
)
VMS_CREATED = "wasm.envoy.wasm.runtime.v8.created"
# Envoy logs a trap as "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable";
# a Rust panic first logs "panicked at ..." through the filter's own logger.
_FAILURE_LOG = re.compile(r"\[(error|critical)\]\[wasm\]|RuntimeError|panicked at")


def reloading_filter(plugin_config, module: str) -> dict:
    """The traffic-shift filter with FAIL_RELOAD, so a failed VM shows in stats."""
    wasm = lab.wasm_filter(plugin_config, module=module)
    wasm["typed_config"]["config"]["failure_policy"] = "FAIL_RELOAD"
    return wasm


def snapshot(envoy) -> dict:
    """The failure stats now; a missing one fails (a check on a stat Envoy does not have proves nothing)."""
    stats = envoy.stats(r"^wasm\.")
    missing = [name for name in RELOAD_COUNTERS + (VMS_CREATED,) if name not in stats]
    assert not missing, "Envoy has no stat %s; wasm stats: %r" % (missing, sorted(stats))
    return {name: stats[name] for name in RELOAD_COUNTERS + (VMS_CREATED,)}


def failures(envoy, baseline: dict):
    """(stats that show a failure {name: (baseline, now)}, Wasm error lines of the log). Reload counters must
    be 0; the count of VMs created must not have grown since `baseline` (a snapshot)."""
    now = snapshot(envoy)
    moved = {
        name: (baseline.get(name), value)
        for name, value in now.items()
        if value != (0 if name in RELOAD_COUNTERS else baseline.get(name))
    }
    errors = [line for line in envoy.log().splitlines() if _FAILURE_LOG.search(line)]
    return moved, errors


def assert_healthy(envoy, baseline: dict):
    moved, errors = failures(envoy, baseline)
    assert not moved and not errors, "Wasm VM failure: stats moved %r; log: %s" % (moved, "\n".join(errors[-10:]))


# -- the control: a proxy-wasm module whose proxy_on_request_headers is `unreachable` ----------------------


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _vector(items) -> bytes:
    items = list(items)
    return _uleb(len(items)) + b"".join(items)


def _section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + _uleb(len(body)) + body


def _name(text: str) -> bytes:
    return _uleb(len(text)) + text.encode()


def trapping_module(directory: str) -> str:
    """Writes trap.wasm into `directory`: the smallest module Envoy accepts as a proxy-wasm filter (ABI 0.2.1),
    answering every callback normally except request headers, which traps. Returns its path."""
    i32 = 0x7F
    signatures = [((), ()), ((i32, i32), ()), ((i32, i32), (i32,)), ((i32, i32, i32), (i32,)), ((i32,), (i32,))]
    functions = [  # (export name, signature index, body: instructions then `end`)
        ("proxy_abi_version_0_2_1", 0, b"\x0b"),
        ("proxy_on_context_create", 1, b"\x0b"),
        ("proxy_on_vm_start", 2, b"\x41\x01\x0b"),  # i32.const 1 (true)
        ("proxy_on_configure", 2, b"\x41\x01\x0b"),
        ("proxy_on_request_headers", 3, b"\x00\x0b"),  # unreachable
        ("proxy_on_memory_allocate", 4, b"\x41\x80\x08\x0b"),  # i32.const 1024
    ]
    module = b"\x00asm\x01\x00\x00\x00"
    module += _section(
        1,
        _vector(
            b"\x60" + _vector(bytes([p]) for p in params) + _vector(bytes([r]) for r in results)
            for params, results in signatures
        ),
    )
    module += _section(3, _vector(_uleb(signature) for _, signature, _ in functions))
    module += _section(5, _vector([b"\x00" + _uleb(2)]))  # one memory, 2 pages
    exports = [_name(name) + b"\x00" + _uleb(index) for index, (name, _, _) in enumerate(functions)]
    module += _section(7, _vector(exports + [_name("memory") + b"\x02\x00"]))
    module += _section(10, _vector(_uleb(len(body) + 1) + b"\x00" + body for _, _, body in functions))  # no locals
    path = os.path.join(directory, "trap.wasm")
    with open(path, "wb") as f:
        f.write(module)
    return path
