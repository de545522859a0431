"""A plugin configuration file as the filter reads it: JSON as written, or YAML converted to JSON.

YAML is how users keep VirtualServices and HTTPRoutes (`kubectl get virtualservice reviews -o yaml`, Istio's
samples). A file of one document becomes that object; several (`---`-separated, as Istio's
virtual-service-all-v1.yaml) become a JSON list, which the filter reads as a list of VirtualServices."""

import json
import os

import yaml

YAML_SUFFIXES = (".yaml", ".yml")


def is_yaml(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in YAML_SUFFIXES


def from_yaml(text: str) -> str:
    """JSON text of a YAML stream: one document as it is, several as a list (empty documents dropped)."""
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    value = documents[0] if len(documents) == 1 else documents
    return json.dumps(value, indent=2)


def read(path: str) -> str:
    """The configuration in `path` as JSON text (YAML files by their suffix, .yaml or .yml)."""
    with open(path) as f:
        text = f.read()
    return from_yaml(text) if is_yaml(path) else text
