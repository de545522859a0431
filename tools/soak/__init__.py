"""Hours in minutes: the filter under a long steady load, a storm of ECDS pushes, and configurations of
10 to 10,000 entries, with Envoy's memory sampled throughout (`make soak`; a short run is in `make test`).

Phases (each its own module, each bounded in requests, pushes and wall time):
  steady.py  one Envoy with 2 workers, the realistic configuration plus a sticky entry, wrk (HTTP/1.1
             keep-alive) and h2load (h2c, many streams on few connections) together; RSS, tcmalloc and
             the Wasm VMs' linear memory sampled; 0 failed; slope after warm-up bounded.
  storm.py   the same load while ECDS pushes alternate between configurations, every 20th one invalid;
             probes on already-open HTTP/1.1 and HTTP/2 connections of every worker time each push.
  resident.py  after the storm, on the same Envoy: memory with 5 entries, after a 10,000-entry push, and
             after pushing the 5 entries back (what stays resident).
  scale.py   configure time, module memory and per-request cost with 10, 1,000 and 10,000 entries; a
             configuration of several MiB; deeply nested and huge JSON values.
Run as `.venv/bin/python -m tools.soak [--phases steady,storm,scale]` from the repository root; SOAK_SCALE
(default 1) scales request and push counts, e.g. SOAK_SCALE=0.02 for a quick look.
"""
