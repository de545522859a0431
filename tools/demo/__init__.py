"""The product's first impression: Istio's Traffic Shifting task replayed on one local Envoy.

`make demo` (migrate.py) moves Bookinfo's `reviews` from v1 to v3 in three stages while a steady client
counts who answers and another counts the stars the product page showed (pages.py); `make run` (serve.py)
keeps our Bookinfo (tools/bookinfo/, product page on 127.0.0.1:9080) and its Envoy (127.0.0.1:10000) in the
foreground, and `make apply` (apply.py) swaps its plugin configuration live. Each stage's configuration reaches the
running Envoy the way Istio delivers a WasmPlugin: over ECDS (here a watched file, see tools/envoylab/ecds.py),
never by restarting Envoy.

Run as `.venv/bin/python -m tools.demo {demo,run,apply} --help` from the repository root.
"""
