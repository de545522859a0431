"""A small Bookinfo of our own: productpage, details, reviews v1/v2/v3 and ratings, each a tiny HTTP service
written with the standard library only, so it runs from the repository and in a bare Python container alike.

As in Istio's Bookinfo, productpage calls `details` and `reviews`, and reviews v2/v3 call `ratings`, each call
through the "sidecar": the Envoy that runs the traffic-shift filter (`--sidecar HOST:PORT`, the request's Host
naming the service, e.g. `reviews:9080`). Which reviews version answered shows on the page only the way
Bookinfo shows it: no stars (v1), black stars (v2), red stars (v3), plus a small footer naming the version.
productpage also serves `/traffic-shift`, a live picture of the split read from the filter's own counters on
Envoy's admin (`--admin HOST:PORT`).

    python -m tools.bookinfo SERVICE --port PORT [--version v1|v2|v3] [--sidecar HOST:PORT] [--admin HOST:PORT]

prints `bookinfo SERVICE listening on HOST:PORT` once it accepts connections (port 0: the kernel picks one).
stack.py starts all six on this machine for `make run` and `make demo`; envoy-test/ runs each in a container.
"""
