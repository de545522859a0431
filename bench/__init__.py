"""`make bench`: what the traffic-shift filter costs, measured against native Envoy, the floor of a Wasm filter
of this design, a no-op Wasm filter, and the Lua filter a user would write instead.

One measured Envoy (concurrency 1, pinned to its own core) carries one front listener per variant, differing
only in what runs before the router; a separate upstream Envoy answers them all. wrk drives each listener in
turn, closed loop, round after round (order rotated), and the medians are compared; h2load then paces a fixed
rate below the knee for latency percentiles. Separate short-lived Envoys, with 1 worker and with 2 (Istio's
sidecar default), give the memory figures and what one more worker costs (memory.py).

Listeners (listeners.variants, one row each): native (weighted_clusters, no Wasm), noop (bench/noop +
weighted_clusters), floor (bench/floor: sets the cluster header at random, cluster_header route), lua (Envoy's
Lua filter, bench/realistic.lua, doing what the realistic config asks), shift (traffic-shift, realistic config,
cluster_header mode), shift-1 and shift-1000 (one or 1,000 authority entries, requests hitting the last).
Ratios between listeners: report.RATIOS; the summary line: report.SUMMARY. Method and one run: BENCHMARKS.md.

Run as `.venv/bin/python -m bench` from the repository root (after `make build` and the bench/<crate> builds
of `make bench`); BENCH_QUICK=1 does one short round; BENCH_COMPARE_MODULE=other.wasm also measures that build
of the filter as "shift-cmp" on the realistic config (A/B a change). Other knobs: settings.py.
`python -m bench --instructions` (`make bench-instructions`) counts instructions per request of the same
listeners under callgrind instead: instructions.py. `python -m bench --memory` measures only the memory.
"""
