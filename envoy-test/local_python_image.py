"""Build a FROM-scratch Python image from this machine's Debian python3, for machines without a registry.

Prints the image tag (image() returns it). Our Bookinfo (tools/bookinfo/) needs only the standard library, so
the image holds the interpreter at /usr/local/bin/python3 (where the official python image has it), the standard
library at /usr/lib/python3.X (tests, GUI and packaging parts left out), and the shared libraries `ldd` lists
for the interpreter and its extension modules, at the same paths as on this host.
"""

import glob
import os
import shutil
import subprocess

import local_envoy_image  # beside this file
from local_envoy_image import ImageError, image_exists, linked_files, stage_files

REPOSITORY = "traffic-shift/python-local"
INTERPRETER = "/usr/bin/python3"  # Debian's, whose standard library lives in /usr/lib/python3.X
LEFT_OUT = (
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "site-packages",
    "dist-packages",
    "__pycache__",
    "config-",
)


def version(interpreter: str) -> str:
    return subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def stage_rootfs(rootfs: str, interpreter: str = INTERPRETER) -> None:
    """Copy the interpreter, its standard library and every library they link into rootfs/."""
    stdlib = "/usr/lib/python%s" % version(interpreter)
    ignore = shutil.ignore_patterns(*(name + "*" for name in LEFT_OUT))
    shutil.copytree(stdlib, os.path.join(rootfs, stdlib.lstrip("/")), ignore=ignore, symlinks=False)
    binaries = [interpreter] + glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    libraries = {path for binary in binaries for path in _linked_or_none(binary)}
    stage_files(rootfs, sorted(libraries) + [interpreter], {interpreter: "/usr/local/bin/python3"})


def _linked_or_none(binary: str) -> list:
    try:
        return linked_files(binary)
    except (subprocess.CalledProcessError, ImageError):  # an extension without its own loader line
        return []


def image(rebuild: bool = False) -> str:
    """The image's tag, built first if it is missing (or `rebuild`)."""
    if not os.path.isfile(INTERPRETER):
        raise ImageError("no %s to build %s from (Debian: apt-get install python3)" % (INTERPRETER, REPOSITORY))
    tag = "%s:%s" % (REPOSITORY, version(INTERPRETER))
    if rebuild or not image_exists(tag):
        local_envoy_image.build(tag, "python-local.Dockerfile", stage_rootfs)
    return tag


if __name__ == "__main__":
    local_envoy_image.main(image)
