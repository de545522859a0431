"""Validate Kubernetes manifests against the pinned schema packages in tools/manifests/schemas/ (Istio,
Gateway API and core Kubernetes models, installed by `make schemas`), refusing unknown fields as the API
server's strict field validation does; schemas/validate.mjs does the checking under Node.js.

Usage: schema_check.py MANIFEST.yaml...  (add --crds CRDS.yaml to check against a cluster's own CRDs too)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

from tools.manifests import yaml_io

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")
VALIDATOR = os.path.join(SCHEMAS, "validate.mjs")
INSTALL_HINT = (
    "run `make schemas` (installs the pinned schema packages with npm; needs Node.js and npm: "
    "apt-get install nodejs npm)"
)


class SchemasMissing(RuntimeError):
    """Node.js or the schema packages are not installed: the check cannot run."""


def missing_tools():
    """Why the validator cannot run here, or None."""
    if not shutil.which("node"):
        return "node not found: " + INSTALL_HINT
    if not os.path.isdir(os.path.join(SCHEMAS, "node_modules", "@kubernetes-models", "istio")):
        return "the schema packages are not installed in %s: %s" % (SCHEMAS, INSTALL_HINT)
    return None


def validate_all(objects: list) -> list:
    """For each object, every problem the schema packages find (an empty list: accepted)."""
    why = missing_tools()
    if why:
        raise SchemasMissing(why)
    items = json.dumps([{"object": obj} for obj in objects])
    done = subprocess.run(["node", VALIDATOR], input=items, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError("schemas/validate.mjs failed: " + done.stderr[-3000:])
    return json.loads(done.stdout)


def validate(obj) -> list:
    return validate_all([obj])[0]


def validate_files(paths: list) -> dict:
    """{path: problems} for every document of every file, each problem naming its document and kind."""
    found, objects, owners = {}, [], []
    for path in paths:
        found[path] = []
        try:
            docs = yaml_io.load_all_file(path)
        except Exception as error:  # a YAML error (duplicate key included) is a rejection, reported as such
            found[path].append("%s: %s" % (path, error))
            continue
        for index, doc in enumerate(docs):
            objects.append(doc)
            owners.append((path, "%s: document %d (%s)" % (path, index, doc.get("kind", "?"))))
    for (path, where), problems in zip(owners, validate_all(objects)):
        found[path].extend("%s: %s" % (where, problem) for problem in problems)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crds", help="also check against this CustomResourceDefinition YAML (with its CEL rules)")
    parser.add_argument("manifests", nargs="+")
    args = parser.parse_args()
    problems = [p for found in validate_files(args.manifests).values() for p in found]
    if args.crds:
        from manifests import crd_check

        crds = crd_check.CrdSet(args.crds)
        for path in args.manifests:
            report = crd_check.validate_file(path, crds)
            problems += report.problems
            for rule in report.not_evaluated:
                print("%s: CEL rule not evaluated (%s)" % (path, rule), file=sys.stderr)
    for problem in problems:
        print(problem)
    print("%d file(s), %d problem(s)" % (len(args.manifests), len(problems)), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
