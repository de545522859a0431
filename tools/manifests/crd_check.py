"""The optional second check (ISTIO_CRDS=/path/to/crds.yaml): manifests against a cluster's own
CustomResourceDefinitions, by maintained libraries: the OpenAPI v3 schema with jsonschema (unknown fields
refused, as strict field validation does) and the schema's x-kubernetes-validations with cel-python.

cel-python is standard CEL: a rule that calls one of Kubernetes' CEL extensions (isURL, url, quantity...)
or reads oldSelf cannot be evaluated; it is reported in `not_evaluated`, never counted as passed.
"""

import collections
import copy

import celpy
import jsonschema
import yaml

from tools.manifests import yaml_io

Report = collections.namedtuple("Report", "problems not_evaluated")


def strict(schema):
    """A copy of schema where an object with declared properties refuses any other field."""
    schema = copy.deepcopy(schema)
    pending = [schema]
    while pending:
        node = pending.pop()
        if not isinstance(node, dict):
            continue
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            pending.extend(node.get(key, {}).values())
        for key in ("items", "additionalProperties", "not"):
            pending.append(node.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            pending.extend(node.get(key, []))
    return schema


class CrdSet:
    """The served versions of every CRD in a CustomResourceDefinition YAML stream."""

    def __init__(self, path: str):
        self.path = path
        self.versions = {}  # (group, kind) -> {version: openAPIV3Schema}
        with open(path) as f:  # trusted reference data: the fast C loader when PyYAML has it
            docs = list(yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
        for doc in docs:
            if doc and doc.get("kind") == "CustomResourceDefinition":
                spec = doc["spec"]
                for version in spec["versions"]:
                    if version.get("served", False):
                        self.versions.setdefault((spec["group"], spec["names"]["kind"]), {})[version["name"]] = version[
                            "schema"
                        ]["openAPIV3Schema"]

    def schema(self, api_version: str, kind: str):
        group, _, version = str(api_version).rpartition("/")
        return self.versions.get((group, kind), {}).get(version)

    def defines_group(self, api_version: str) -> bool:
        group = str(api_version).rpartition("/")[0]
        return any(g == group for g, _ in self.versions)


def _rule_results(schema, value, path, cel, report):
    """Evaluate every x-kubernetes-validations rule that applies to value, then descend."""
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            report.not_evaluated.append("%s: transition rule %s" % (path, rule["rule"]))
            continue
        try:
            verdict = cel.program(cel.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(value)})
        except Exception as error:  # celpy raises its own error types for unknown functions and overloads
            verdict = error
        if isinstance(verdict, Exception):
            report.not_evaluated.append("%s: %s (%s)" % (path, " ".join(rule["rule"].split()), verdict))
        elif not verdict:
            report.problems.append("%s: %s" % (path, rule.get("message") or "failed rule: " + rule["rule"]))
    if isinstance(value, dict):
        properties, additional = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key, additional if isinstance(additional, dict) else None)
            if sub is not None:
                _rule_results(sub, item, "%s.%s" % (path, key), cel, report)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _rule_results(schema["items"], item, "%s[%d]" % (path, index), cel, report)


def validate(obj: dict, crds: CrdSet) -> Report:
    report = Report([], [])
    schema = crds.schema(obj.get("apiVersion"), obj.get("kind"))
    if schema is None and not crds.defines_group(obj.get("apiVersion")):
        # e.g. a core Service next to Istio resources: the file says nothing of it (schema_check.py checks it)
        report.not_evaluated.append(
            "%s %s: no CRD of its group in %s" % (obj.get("apiVersion"), obj.get("kind"), crds.path)
        )
        return report
    if schema is None:
        report.problems.append(
            "no served version %s of kind %s in %s" % (obj.get("apiVersion"), obj.get("kind"), crds.path)
        )
        return report
    # apiVersion and kind chose the schema; metadata is ObjectMeta, checked by schema_check
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    checker = jsonschema.Draft4Validator(strict(schema))
    for error in sorted(checker.iter_errors(body), key=lambda e: list(e.absolute_path)):
        report.problems.append("%s: %s" % (error.json_path, error.message))
    _rule_results(schema, body, "$", celpy.Environment(), report)
    return report


def validate_file(path: str, crds: CrdSet) -> Report:
    """Problems and unevaluated rules of every document in a manifest file, prefixed with file and document."""
    report = Report([], [])
    for index, doc in enumerate(yaml_io.load_all_file(path)):
        found = validate(doc, crds)
        where = "%s: document %d (%s)" % (path, index, doc.get("kind", "?"))
        report.problems.extend("%s: %s" % (where, p) for p in found.problems)
        report.not_evaluated.extend("%s: %s" % (where, r) for r in found.not_evaluated)
    return report
