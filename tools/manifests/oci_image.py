"""Build the OCI image Istio's WasmPlugin pulls, without docker: the "compat" variant of the Wasm image
spec, which Istio's pkg/wasm reads from the image's last layer when that layer has the standard
application/vnd.oci.image.layer.v1.tar+gzip media type and holds a file named plugin.wasm.

Writes, under --out (default target/oci):
  <name>/                  an OCI image layout (oci-layout, index.json, blobs/sha256/...), tagged <tag>:
                           skopeo copy oci:<out>/<name>:<tag> docker://REGISTRY/<name>:<tag>
  <name>-<tag>.tar         the same layout plus docker's manifest.json in one tar: docker load -i,
                           skopeo docker-archive:/oci-archive:, crane push
  <name>-<tag>.digest      sha256:<manifest digest>, what WasmPlugin spec.sha256 takes (hex part)

Reproducible: fixed timestamps (SOURCE_DATE_EPOCH if set, else 0), owner and gzip header, so the same
module always gives the same digest.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"  # Istio's types.OCILayer, the compat variant
WASM_FILE = "plugin.wasm"  # the file name Istio's extractWasmPluginBinary looks for
VARIANT_ANNOTATION = {"module.wasm.image/variant": "compat"}  # the spec asks for it with the OCI layer type


def _epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def _json_bytes(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _descriptor(media_type: str, data: bytes, **extra) -> dict:
    return dict({"mediaType": media_type, "digest": _digest(data), "size": len(data)}, **extra)


def layer_tar(module: bytes, mtime: int) -> bytes:
    """A tar with plugin.wasm alone: FROM scratch + COPY plugin.wasm, with fixed metadata."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(WASM_FILE)
        info.size, info.mode, info.mtime = len(module), 0o644, mtime
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(module))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def build_blobs(module: bytes, name: str, tag: str) -> dict:
    """{'config': bytes, 'layer': bytes, 'manifest': bytes, 'index': bytes, 'docker_manifest': bytes}"""
    epoch = _epoch()
    uncompressed = layer_tar(module, epoch)
    layer = gzip_bytes(uncompressed)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    # linux/amd64, as `docker build` of FROM scratch gives: Istio ignores the platform of an image
    # manifest, and container tools expect one.
    config = _json_bytes(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [_digest(uncompressed)]},
            "history": [{"created": created, "created_by": "make oci: %s %s" % (WASM_FILE, tag)}],
        }
    )
    manifest = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": _descriptor(CONFIG_TYPE, config),
            "layers": [_descriptor(LAYER_TYPE, layer)],
            "annotations": dict(
                VARIANT_ANNOTATION, **{"org.opencontainers.image.title": name, "org.opencontainers.image.version": tag}
            ),
        }
    )
    index = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                _descriptor(
                    MANIFEST_TYPE,
                    manifest,
                    annotations={
                        "org.opencontainers.image.ref.name": tag,  # what oci:DIR:TAG (skopeo, oras) looks up
                        "io.containerd.image.name": "docker.io/library/%s:%s" % (name, tag),  # docker load's name
                    },
                )
            ],
        }
    )
    docker_manifest = _json_bytes(
        [
            {  # docker's save format, for docker engines without OCI load
                "Config": "blobs/sha256/" + _digest(config)[7:],
                "RepoTags": ["%s:%s" % (name, tag)],
                "Layers": ["blobs/sha256/" + _digest(layer)[7:]],
            }
        ]
    )
    return {"config": config, "layer": layer, "manifest": manifest, "index": index, "docker_manifest": docker_manifest}


def layout_files(blobs: dict) -> dict:
    """{path inside the layout: bytes}"""
    files = {"oci-layout": _json_bytes({"imageLayoutVersion": "1.0.0"}), "index.json": blobs["index"]}
    for key in ("config", "layer", "manifest"):
        files["blobs/sha256/" + _digest(blobs[key])[7:]] = blobs[key]
    return files


def write_archive(path: str, files: dict, mtime: int):
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for member in sorted(files):
            info = tarfile.TarInfo(member)
            info.size, info.mode, info.mtime = len(files[member]), 0o644, mtime
            tar.addfile(info, io.BytesIO(files[member]))


def build(module_path: str, name: str, tag: str, out: str) -> dict:
    """Write the layout, the archive and the digest file; return their paths and the digest."""
    with open(module_path, "rb") as f:
        module = f.read()
    if module[:4] != b"\0asm":
        raise ValueError("%s is not a Wasm module (no \\0asm magic)" % module_path)
    blobs = build_blobs(module, name, tag)
    files = layout_files(blobs)
    layout = os.path.join(out, name)
    shutil.rmtree(layout, ignore_errors=True)  # one tag per layout: no stale blobs from older builds
    for rel, data in files.items():
        path = os.path.join(layout, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    archive = os.path.join(out, "%s-%s.tar" % (name, tag))
    write_archive(archive, dict(files, **{"manifest.json": blobs["docker_manifest"]}), _epoch())
    digest = _digest(blobs["manifest"])
    digest_file = os.path.join(out, "%s-%s.digest" % (name, tag))
    with open(digest_file, "w") as f:
        f.write(digest + "\n")
    return {
        "layout": layout,
        "archive": archive,
        "digest_file": digest_file,
        "digest": digest,
        "module_sha256": hashlib.sha256(module).hexdigest(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", required=True, help="the built .wasm")
    parser.add_argument("--name", default="traffic-shift")
    parser.add_argument("--tag", required=True, help="image tag, e.g. the crate version")
    parser.add_argument("--out", default="target/oci")
    args = parser.parse_args(argv)
    result = build(args.module, args.name, args.tag, args.out)
    print(
        "OCI image %s:%s (Wasm image compat variant: one %s layer holding %s)"
        % (args.name, args.tag, LAYER_TYPE, WASM_FILE)
    )
    print("  layout   %s   (skopeo/oras: oci:%s:%s)" % (result["layout"], result["layout"], args.tag))
    print("  archive  %s   (docker load -i / skopeo docker-archive: / crane push)" % result["archive"])
    print("  module   sha256:%s" % result["module_sha256"])
    print("  digest   %s   (manifest digest, also in %s)" % (result["digest"], result["digest_file"]))
    print("WasmPlugin: url: oci://REGISTRY/%s:%s  sha256: %s" % (args.name, args.tag, result["digest"][7:]))
    print(
        "push keeping this digest: skopeo copy --preserve-digests oci:%s:%s docker://REGISTRY/%s:%s"
        % (result["layout"], args.tag, args.name, args.tag)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
