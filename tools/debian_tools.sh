#!/usr/bin/env bash
# Installs the Debian packages that provide the given commands, only those missing:
#   tools/debian_tools.sh wrk:wrk h2load:nghttp2-client     (command:package ...)
# Used by `make build` (binaryen's wasm-metadce), `make wasm-unit` and `make schemas` (Node.js, npm), and
# `make e2e`, `make bench`, `make soak` (wrk, h2load), `make e2e` (chromium, for the browser test),
# `make bench-instructions` (valgrind). apt-get needs root.
set -euo pipefail

missing=()
for pair in "$@"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "this target needs ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) and retry" >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
