#!/usr/bin/env bash
# The load generators `make bench` drives, from Debian: wrk (closed loop) and h2load, in nghttp2-client
# (fixed rate with per-request latencies). Installed only when missing; apt-get needs root.
set -euo pipefail

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "make bench needs ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) and retry" >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
