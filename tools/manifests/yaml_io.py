"""YAML loading as strict as the Kubernetes API server: a duplicated key is an error (strict field
validation refuses it; a plain loader silently keeps the last one), and timestamps stay strings (they
arrive as JSON strings on the server, not as dates)."""

import yaml


class DuplicateKeyError(yaml.constructor.ConstructorError):
    pass


class StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise DuplicateKeyError(None, None, "duplicate key %r" % (key,), key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_all(text: str) -> list:
    """Every non-empty document of a YAML stream."""
    return [doc for doc in yaml.load_all(text, Loader=StrictLoader) if doc is not None]


def load_all_file(path: str) -> list:
    with open(path) as f:
        return load_all(f.read())
