"""`make apply` / `make run` read a plugin configuration as JSON, or as YAML the way users keep VirtualServices
(tools/demo/config_file.py): one document is that object, several a list."""

import json
import os

from tools import REPO
from tools.demo import config_file

SEED = os.path.join(REPO, "filter-config", "seed")


def test_one_yaml_document_is_that_object():
    value = json.loads(config_file.read(os.path.join(SEED, "virtual-service-reviews-v3.yaml")))
    assert value["kind"] == "VirtualService"
    assert value["spec"]["http"][0]["route"][0]["destination"] == {"host": "reviews", "subset": "v3"}


def test_several_documents_are_a_list_and_empty_ones_are_dropped():
    value = json.loads(config_file.read(os.path.join(SEED, "virtual-service-all-v1.yaml")))
    assert [vs["metadata"]["name"] for vs in value] == ["productpage", "reviews", "ratings", "details"]
    assert json.loads(config_file.from_yaml("---\na: 1\n---\n---\nb: 2\n")) == [{"a": 1}, {"b": 2}]


def test_json_is_passed_as_written(tmp_path):
    path = tmp_path / "plugin.json"
    path.write_text('{"http": []}')
    assert config_file.read(str(path)) == '{"http": []}'
    assert config_file.is_yaml("a.YML") and not config_file.is_yaml("a.json")
