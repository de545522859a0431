"""Validate Kubernetes manifests against CustomResourceDefinition OpenAPI v3 schemas the way the API
server does with strict field validation (kubectl apply --validate=strict, the default):

- the apiVersion/kind must name a served version of a known CRD;
- structural schema: types, required, enum, pattern, lengths, bounds, int32/int64 ranges, list sizes and
  x-kubernetes-list-type uniqueness, allOf/anyOf/oneOf/not value validations, x-kubernetes-int-or-string;
- unknown fields are errors, except below x-kubernetes-preserve-unknown-fields (e.g. WasmPlugin pluginConfig);
- duplicated YAML keys are errors (yaml_io.StrictLoader);
- x-kubernetes-validations CEL rules through the hand-translated table in cel_rules (an untranslated rule
  is reported, never assumed to pass);
- metadata: name (DNS-1123 subdomain), namespace (DNS-1123 label), label and annotation syntax.

Stricter than the server on one point: a null for a non-nullable field is an error here, where the server
would silently drop it (that is almost always a mistake in a hand-written manifest).

Usage: crd_validate.py [--crds CRDS.yaml] MANIFEST.yaml...   (default --crds: $ISTIO_CRDS)
"""
import argparse
import base64
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from manifests import cel_rules, yaml_io  # noqa: E402

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
INT_RANGES = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}
OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "labels", "annotations", "finalizers", "ownerReferences",
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "managedFields", "selfLink",
}


class CrdSet:
    """The served versions of every CRD in a CustomResourceDefinition YAML stream."""

    def __init__(self, path: str):
        self.path = path
        self.versions = {}  # (group, kind) -> {version: openAPIV3Schema}
        self.unserved = {}  # (group, kind) -> {version}
        with open(path) as f:  # trusted reference data: the fast C loader when PyYAML has it
            docs = list(yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
        for doc in docs:
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            key = (spec["group"], spec["names"]["kind"])
            for version in spec["versions"]:
                if version.get("served", False):
                    self.versions.setdefault(key, {})[version["name"]] = version["schema"]["openAPIV3Schema"]
                else:
                    self.unserved.setdefault(key, set()).add(version["name"])

    def schema(self, api_version: str, kind: str):
        """(schema, None) or (None, why not)."""
        group, _, version = api_version.rpartition("/")
        served = self.versions.get((group, kind))
        if served is None:
            return None, "no CustomResourceDefinition for kind %s in group %r in %s" % (kind, group, self.path)
        if version not in served:
            return None, "%s/%s is not a served version of %s (served: %s)" % (
                group, version, kind, ", ".join(sorted(served)))
        return served[version], None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_ok(expected: str, value) -> bool:
    return {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": _is_int,
        "number": lambda v: (isinstance(v, (int, float))) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }.get(expected, lambda v: False)(value)


def _type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "integer", float: "number"}.get(type(value), "?")


class _Walk:
    def __init__(self):
        self.errors = []

    def error(self, path, message):
        self.errors.append("%s: %s" % (path or "<root>", message))

    def check(self, schema, value, path, strict=True):
        """strict=False inside allOf/anyOf/oneOf/not: those are value validations only; unknown fields
        and CEL rules are judged by the main schema."""
        if value is None:
            if not schema.get("nullable", False) and ("type" in schema or schema.get("x-kubernetes-int-or-string")):
                self.error(path, "null is not allowed here (the API server would drop it)")
            return
        if schema.get("x-kubernetes-int-or-string"):
            if not (_is_int(value) or isinstance(value, str)):
                self.error(path, "must be an integer or a string, got %s" % _type_name(value))
                return
        elif "type" in schema and not _type_ok(schema["type"], value):
            self.error(path, "must be of type %s, got %s" % (schema["type"], _type_name(value)))
            return
        if "enum" in schema and value not in schema["enum"]:
            self.error(path, "unsupported value %r: supported values: %s" % (
                value, ", ".join(repr(v) for v in schema["enum"])))
        if isinstance(value, dict):
            self._object(schema, value, path, strict)
        elif isinstance(value, list):
            self._array(schema, value, path, strict)
        elif isinstance(value, str):
            self._string(schema, value, path)
        elif _is_int(value) or isinstance(value, float):
            self._number(schema, value, path)
        self._junctors(schema, value, path)
        if strict:
            self._cel(schema, value, path)

    def _object(self, schema, value, path, strict):
        properties = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        for key, item in value.items():
            sub = "%s.%s" % (path, key) if path else str(key)
            if not isinstance(key, str):
                self.error(sub, "field names must be strings")
            elif key in properties:
                self.check(properties[key], item, sub, strict)
            elif isinstance(additional, dict):
                self.check(additional, item, sub, strict)
            elif strict and not (additional is True or preserve):
                self.error(path, 'unknown field "%s"' % key)
        for key in schema.get("required", []):
            if key not in value:
                self.error(path, 'required field "%s" is missing' % key)
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            self.error(path, "must have at least %d properties" % schema["minProperties"])
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.error(path, "must have at most %d properties" % schema["maxProperties"])

    def _array(self, schema, value, path, strict):
        if "items" in schema:
            for i, item in enumerate(value):
                self.check(schema["items"], item, "%s[%d]" % (path, i), strict)
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.error(path, "must have at least %d items" % schema["minItems"])
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.error(path, "must have at most %d items" % schema["maxItems"])
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys", [])
            seen = set()
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    identity = repr([item.get(k) for k in keys])
                    if identity in seen:
                        self.error("%s[%d]" % (path, i), "duplicate entry for key %s" % identity)
                    seen.add(identity)
        elif list_type == "set":
            seen = set()
            for i, item in enumerate(value):
                identity = repr(item)
                if identity in seen:
                    self.error("%s[%d]" % (path, i), "duplicate value %s" % identity)
                seen.add(identity)

    def _string(self, schema, value, path):
        if "minLength" in schema and len(value) < schema["minLength"]:
            self.error(path, "must be at least %d characters long" % schema["minLength"])
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.error(path, "may not be longer than %d characters" % schema["maxLength"])
        if "pattern" in schema and not re.search(schema["pattern"], value):
            self.error(path, "%r does not match %r" % (value, schema["pattern"]))
        fmt = schema.get("format")
        if fmt == "byte":
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                self.error(path, "must be base64 (format byte)")
        elif fmt == "date-time" and not RFC3339.match(value):
            self.error(path, "must be an RFC 3339 date-time")

    def _number(self, schema, value, path):
        if "minimum" in schema:
            if value < schema["minimum"] or (schema.get("exclusiveMinimum") and value == schema["minimum"]):
                self.error(path, "must be greater than%s %s" % (
                    "" if schema.get("exclusiveMinimum") else " or equal to", schema["minimum"]))
        if "maximum" in schema:
            if value > schema["maximum"] or (schema.get("exclusiveMaximum") and value == schema["maximum"]):
                self.error(path, "must be less than%s %s" % (
                    "" if schema.get("exclusiveMaximum") else " or equal to", schema["maximum"]))
        bounds = INT_RANGES.get(schema.get("format"))
        if bounds and _is_int(value) and not bounds[0] <= value <= bounds[1]:
            self.error(path, "out of range for %s" % schema["format"])

    def _passes(self, schema, value, path) -> bool:
        probe = _Walk()
        probe.check(schema, value, path, strict=False)
        return not probe.errors

    def _junctors(self, schema, value, path):
        for i, sub in enumerate(schema.get("allOf", [])):
            if not self._passes(sub, value, path):
                self.error(path, "fails allOf[%d]" % i)
        if "anyOf" in schema and not any(self._passes(sub, value, path) for sub in schema["anyOf"]):
            self.error(path, "matches none of anyOf")
        if "oneOf" in schema:
            matched = sum(1 for sub in schema["oneOf"] if self._passes(sub, value, path))
            if matched != 1:
                self.error(path, "must match exactly one of oneOf, matches %d" % matched)
        if "not" in schema and self._passes(schema["not"], value, path):
            self.error(path, "must not match the 'not' schema")

    def _cel(self, schema, value, path):
        for rule in schema.get("x-kubernetes-validations", []):
            verdict = cel_rules.evaluate(rule["rule"], value)
            if verdict is None:
                self.error(path, "CEL rule not evaluated by this validator (add it to cel_rules): %s"
                           % cel_rules.normalize(rule["rule"]))
            elif not verdict:
                self.error(path, rule.get("message") or "failed rule: %s" % cel_rules.normalize(rule["rule"]))


def _qualified_key_errors(key: str):
    prefix, slash, name = key.rpartition("/")
    errors = []
    if slash and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        errors.append("prefix %r must be a DNS-1123 subdomain" % prefix)
    if not name or len(name) > 63 or not QUALIFIED_NAME.match(name):
        errors.append("name part %r must be 1-63 alphanumerics, '-', '_' or '.', alphanumeric at both ends" % name)
    return errors


def _check_metadata(walk: _Walk, meta):
    if not isinstance(meta, dict):
        walk.error("metadata", "must be an object")
        return
    for key in meta:
        if key not in OBJECT_META_FIELDS:
            walk.error("metadata", 'unknown field "%s"' % key)
    name = meta.get("name")
    if name is None and not meta.get("generateName"):
        walk.error("metadata", 'required field "name" is missing')
    elif name is not None and (not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name)):
        walk.error("metadata.name", "%r must be a DNS-1123 subdomain" % (name,))
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or len(namespace) > 63
                                  or not DNS1123_LABEL.match(namespace)):
        walk.error("metadata.namespace", "%r must be a DNS-1123 label" % (namespace,))
    for field in ("labels", "annotations"):
        entries = meta.get(field)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            walk.error("metadata.%s" % field, "must be a map of strings")
            continue
        for key, value in entries.items():
            where = "metadata.%s.%s" % (field, key)
            for problem in _qualified_key_errors(str(key)):
                walk.error(where, problem)
            if not isinstance(value, str):
                walk.error(where, "value must be a string, got %s" % _type_name(value))
            elif field == "labels" and (len(value) > 63 or (value and not QUALIFIED_NAME.match(value))):
                walk.error(where, "label value %r is not valid" % value)


def validate(obj, crds: CrdSet) -> list:
    """Every problem the API server would report for this object (empty list: accepted)."""
    walk = _Walk()
    if not isinstance(obj, dict):
        return ["<root>: a manifest must be an object"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["<root>: apiVersion and kind are required strings"]
    schema, why = crds.schema(api_version, kind)
    if schema is None:
        return ["<root>: " + why]
    _check_metadata(walk, obj.get("metadata"))
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    walk.check(schema, body, "")
    return walk.errors


def validate_file(path: str, crds: CrdSet) -> list:
    """Problems of every document in a manifest file, each prefixed with file, document index and kind."""
    try:
        docs = yaml_io.load_all_file(path)
    except Exception as error:  # a YAML error (duplicate key included) is a rejection, reported as such
        return ["%s: %s" % (path, error)]
    if not docs:
        return ["%s: no YAML document" % path]
    problems = []
    for index, doc in enumerate(docs):
        label = "%s#%d %s" % (path, index, doc.get("kind", "?") if isinstance(doc, dict) else "?")
        problems += ["%s: %s" % (label, problem) for problem in validate(doc, crds)]
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crds", default=os.environ.get("ISTIO_CRDS"))
    parser.add_argument("manifests", nargs="+")
    args = parser.parse_args(argv)
    if not args.crds:
        parser.error("no CRD file: pass --crds or set ISTIO_CRDS")
    crds = CrdSet(args.crds)
    problems = [problem for path in args.manifests for problem in validate_file(path, crds)]
    for problem in problems:
        print(problem)
    print("%d manifest file(s): %s" % (len(args.manifests), "%d problem(s)" % len(problems) if problems else "valid"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
