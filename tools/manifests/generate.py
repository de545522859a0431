"""Write (or check) every generated file of the deployment kit from filter-config/plugin/*.json (and the
metrics' Istio settings from filter-config/metrics.json).

  generate.py                      rewrite filter-config/istio/, filter-config/envoy/, filter-config/gateway-api/
  generate.py --check              exit 1 if a committed file differs from what would be generated
  generate.py --image REF --sha256 HEX --out DIR
                                   render deploy-ready copies (real image and digest) into DIR instead
"""

import argparse
import os
import re
import sys

from tools.manifests import ambient_yaml, envoy_yaml, gateway_yaml, istio_yaml, kit, metrics_yaml


def outputs(image: str = kit.PLACEHOLDER_IMAGE, sha256=None) -> dict:
    """{path relative to filter-config/: text} of every generated file."""
    files = istio_yaml.render(image, sha256)
    files.update(ambient_yaml.render(image, sha256))
    files.update(envoy_yaml.render())
    files.update(gateway_yaml.render())
    files.update(metrics_yaml.render())
    return files


def existing(root: str) -> set:
    """Files now under the generated folders of root (relative paths)."""
    found = set()
    for folder in kit.GENERATED_DIRS:
        for parent, _, names in os.walk(os.path.join(root, folder)):
            found.update(os.path.relpath(os.path.join(parent, name), root) for name in names)
    return found


def differences(root: str = kit.KIT) -> list:
    """What --check reports: stale, missing and unexpected files."""
    wanted = outputs()
    problems = []
    for rel, text in sorted(wanted.items()):
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            problems.append("missing: %s" % rel)
        else:
            with open(path) as f:
                if f.read() != text:
                    problems.append("stale: %s" % rel)
    problems += [
        "not generated (remove it or add it to the generator): %s" % rel for rel in sorted(existing(root) - set(wanted))
    ]
    return problems


def write(files: dict, root: str):
    for rel, text in sorted(files.items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        print("wrote", os.path.relpath(path))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--image", default=kit.PLACEHOLDER_IMAGE, help="registry/name:tag, without oci://")
    parser.add_argument("--sha256", help="manifest digest printed by make oci (64 hex digits, 'sha256:' optional)")
    parser.add_argument("--out", help="output folder for deploy-ready copies (required with --image/--sha256)")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences()
        for problem in problems:
            print(problem)
        print(
            "generated files: %s"
            % ("%d problem(s); run `make manifests`" % len(problems) if problems else "up to date")
        )
        return 1 if problems else 0
    sha256 = args.sha256[len("sha256:") :] if args.sha256 and args.sha256.startswith("sha256:") else args.sha256
    if sha256 and not re.fullmatch(r"[a-f0-9]{64}", sha256):
        parser.error("--sha256 must be 64 lowercase hex digits")
    customized = args.image != kit.PLACEHOLDER_IMAGE or sha256
    if customized and not args.out:
        parser.error("--image/--sha256 render deploy copies: give --out DIR (the committed files keep placeholders)")
    if args.image.startswith("oci://"):
        args.image = args.image[len("oci://") :]
    write(outputs(args.image, sha256), args.out or kit.KIT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
