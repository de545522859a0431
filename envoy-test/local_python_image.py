"""Build a FROM-scratch Python image from this machine's Debian python3, for machines without a registry.

Prints the image tag (image() returns it). Our Bookinfo (tools/bookinfo/) needs only the standard library, so the image holds the
interpreter at /usr/local/bin/python3 (where the official python image has it), the standard library at
/usr/lib/python3.X (tests, GUI and packaging parts left out), and the shared libraries `ldd` lists for the
interpreter and its extension modules, at the same paths as on this host.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

from local_envoy_image import ImageError, image_exists, linked_files  # beside this file

HERE = os.path.dirname(os.path.abspath(__file__))

REPOSITORY = "traffic-shift/python-local"
INTERPRETER = "/usr/bin/python3"  # Debian's, whose standard library lives in /usr/lib/python3.X
LEFT_OUT = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages", "dist-packages",
            "__pycache__", "config-")


def version(interpreter: str) -> str:
    return subprocess.run([interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def stage_rootfs(rootfs: str, interpreter: str = INTERPRETER) -> None:
    """Copy the interpreter, its standard library and every library they link into rootfs/."""
    stdlib = "/usr/lib/python%s" % version(interpreter)
    ignore = shutil.ignore_patterns(*(name + "*" for name in LEFT_OUT))
    shutil.copytree(stdlib, os.path.join(rootfs, stdlib.lstrip("/")), ignore=ignore, symlinks=False)
    binaries = [interpreter] + glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    libraries = {path for binary in binaries for path in _linked_or_none(binary)}
    for path in sorted(libraries) + [interpreter]:
        target = "/usr/local/bin/python3" if path == interpreter else path
        staged = os.path.join(rootfs, target.lstrip("/"))
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        shutil.copy2(os.path.realpath(path), staged)  # the file itself, not the symlink


def _linked_or_none(binary: str) -> list:
    try:
        return linked_files(binary)
    except (subprocess.CalledProcessError, ImageError):  # an extension without its own loader line
        return []


def build(tag: str) -> None:
    context = tempfile.mkdtemp(prefix="traffic-shift-python-image-")
    try:
        stage_rootfs(os.path.join(context, "rootfs"))
        shutil.copy(os.path.join(HERE, "python-local.Dockerfile"), os.path.join(context, "Dockerfile"))
        built = subprocess.run(["docker", "build", "-t", tag, context], capture_output=True, text=True)
        if built.returncode != 0:
            raise ImageError("docker build of %s failed:\n%s%s" % (tag, built.stdout, built.stderr))
    finally:
        shutil.rmtree(context, ignore_errors=True)


def image(rebuild: bool = False) -> str:
    """The image's tag, built first if it is missing (or `rebuild`)."""
    if not os.path.isfile(INTERPRETER):
        raise ImageError("no %s to build %s from (Debian: apt-get install python3)" % (INTERPRETER, REPOSITORY))
    tag = "%s:%s" % (REPOSITORY, version(INTERPRETER))
    if rebuild or not image_exists(tag):
        build(tag)
    return tag


def main() -> None:
    try:
        print(image("--rebuild" in sys.argv))
    except ImageError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
