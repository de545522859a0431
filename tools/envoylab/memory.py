"""An Envoy's memory as the kernel sees it: its RSS, and the Wasm VMs' linear memory.

Envoy 1.40 has no statistic for a Wasm VM's memory (only wasm.envoy.wasm.runtime.v8.active / created), so it
is read from /proc/<pid>/smaps: V8 reserves each Wasm memory as one region followed by a guard of several
GiB that is never accessible (`---p`); the accessible part just before that guard is the linear memory, its
size the module's current memory.size, its Rss what of it is resident. Linear memory only ever grows (in
64 KiB pages): a module that leaks, even a few bytes a request, shows as a size that keeps growing.
"""

import re

GUARD_MIN = 1 << 32  # a Wasm guard region is at least 4 GiB; nothing else in Envoy maps that much `---p`
_MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ")


def rss_bytes(pid: int) -> int:
    """The resident memory of a process (VmRSS in /proc/<pid>/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def wasm_memories(pid: int) -> list:
    """[(size, resident)] in bytes of each Wasm linear memory in the process (see the module docstring)."""
    mappings, current = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            found = _MAPPING.match(line)
            if found:
                current = [int(found.group(1), 16), int(found.group(2), 16), found.group(3), 0]
                mappings.append(current)
            elif line.startswith("Rss:") and current is not None:
                current[3] = int(line.split()[1]) * 1024
    return [
        (before[1] - before[0], before[3])
        for before, guard in zip(mappings, mappings[1:])
        if guard[2] == "---p"
        and guard[1] - guard[0] >= GUARD_MIN
        and before[1] == guard[0]
        and before[2].startswith("rw")
    ]
