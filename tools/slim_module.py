"""Removes the exports the filter does not use from the built module, in place (`make build`).

The keep-list is src/proxy_wasm/exports.txt. The proxy-wasm SDK exports every callback of the ABI, and
Envoy calls each one it finds for every request (bodies, trailers, log, done), each a call into the VM
that returns at once. binaryen's wasm-metadce removes the exports not kept and the code only they reach;
then binaryen's wasm-opt -O3 makes the module about 6% smaller, at the same instructions per request
(`make bench-instructions`; V8 compiles it with TurboFan either way). wasm-opt may inline a function into
its only caller when that function is small (ONE_CALLER_INLINE_LIMIT) but not otherwise: by default it
inlines every function that has one caller whatever its size, which merged the configuration-time code
(the regex compiler, the parser) into functions of up to 62 KB. V8 compiles every function with its
optimizing compiler when the module loads, and the memory that takes grows with the function's size and
stays with Envoy's allocator afterwards (BENCHMARKS.md "Memory"): 10 MiB less per Envoy this way.

Before that, the list is checked against the shell: every callback method defined in src/proxy_wasm/*.rs
(`fn on_…`) must be kept, and every method the list names must be defined, so a new callback cannot be
silently dropped. Usage: python3 -m tools.slim_module MODULE.wasm [--check-only] (from the repository root)
"""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile

from tools import REPO, wasm_binary

KEEP_LIST = os.path.join(REPO, "src", "proxy_wasm", "exports.txt")
SHELL_SOURCES = os.path.join(REPO, "src", "proxy_wasm", "*.rs")
CALLBACK = re.compile(r"\bfn\s+(on_\w+)\s*[<(]")
# In binaryen's size measure (about one per Wasm instruction): the request path's one-caller helpers
# are all below it, so they are inlined as before.
ONE_CALLER_INLINE_LIMIT = 500


class SlimError(RuntimeError):
    pass


def keep_list(path: str = KEEP_LIST) -> dict:
    """{export: shell method or None}, from the list's non-comment lines."""
    kept = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) > 2:
                raise SlimError("%s:%d: expected `export [method]`, got %r" % (path, number, line.strip()))
            kept[words[0]] = words[1] if len(words) == 2 else None
    return kept


def shell_callbacks(pattern: str = SHELL_SOURCES) -> set:
    methods = set()
    for path in glob.glob(pattern):
        with open(path) as f:
            methods.update(CALLBACK.findall(f.read()))
    return methods


def check_against_shell(kept: dict, implemented: set):
    listed = {method for method in kept.values() if method}
    if implemented - listed:
        raise SlimError(
            "src/proxy_wasm implements %s but %s does not keep its export: add a line there"
            % (", ".join(sorted(implemented - listed)), os.path.relpath(KEEP_LIST, REPO))
        )
    if listed - implemented:
        raise SlimError(
            "%s keeps the export of %s, which src/proxy_wasm does not implement"
            % (os.path.relpath(KEEP_LIST, REPO), ", ".join(sorted(listed - implemented)))
        )


def exports(module: bytes) -> list:
    """The export names of a Wasm binary."""
    try:
        return wasm_binary.export_names(module)
    except wasm_binary.WasmError as e:
        raise SlimError(str(e)) from None


def slim(path: str, kept: dict):
    with open(path, "rb") as f:
        before = exports(f.read())
    unknown = set(kept) - set(before)
    if unknown:
        raise SlimError(
            "%s does not export %s (named in %s)" % (path, ", ".join(sorted(unknown)), os.path.relpath(KEEP_LIST, REPO))
        )
    graph = [{"name": "export:" + name, "export": name, "root": True} for name in kept]
    with tempfile.TemporaryDirectory(prefix="slim-module-") as workdir:
        graph_path, out_path = os.path.join(workdir, "graph.json"), os.path.join(workdir, "out.wasm")
        with open(graph_path, "w") as f:
            json.dump(graph, f)
        result = subprocess.run(
            ["wasm-metadce", path, "--graph-file", graph_path, "--output", out_path], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise SlimError("wasm-metadce failed: %s" % result.stderr.strip())
        with open(out_path, "rb") as f:
            after = exports(f.read())
        if set(after) != set(kept):
            raise SlimError("after wasm-metadce the module exports %s, expected %s" % (sorted(after), sorted(kept)))
        optimized_path = os.path.join(workdir, "optimized.wasm")
        # The features to allow are read from the module's target_features section.
        result = subprocess.run(
            [
                "wasm-opt",
                "-O3",
                "--one-caller-inline-max-function-size",
                str(ONE_CALLER_INLINE_LIMIT),
                out_path,
                "-o",
                optimized_path,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise SlimError("wasm-opt failed: %s" % result.stderr.strip())
        os.replace(optimized_path, path)
    return len(before) - len(after)


def main(argv: list) -> int:
    try:
        kept = keep_list()
        check_against_shell(kept, shell_callbacks())
        if "--check-only" not in argv[1:]:
            removed = slim(argv[1], kept)
            print("slim_module: kept %d exports, removed %d (src/proxy_wasm/exports.txt)" % (len(kept), removed))
    except (SlimError, OSError, IndexError) as failure:
        print("slim_module: %s" % failure, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
