"""The project's Python tooling, imported from the repository root (pyproject.toml): `envoylab` (a real Envoy
with the filter, its traffic, ECDS pushes and statistics: what the other tools share), `demo` (`make demo`,
`make run`, `make apply`, `make rollout-demo`), `bookinfo` (our Bookinfo services), `soak` (`make soak`),
`manifests` (the deployment kit) and `envoy_path` (which Envoy binary runs)."""

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository root, the import root
