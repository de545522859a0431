"""python -m tools.bookinfo SERVICE --port PORT [...]: one Bookinfo service in the foreground (see __init__.py)."""

import argparse
import signal
import sys

from . import details, productpage, ratings, reviews
from .service import serve

SERVICES = ("productpage", "details", "reviews", "ratings")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bookinfo", description=__doc__)
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (containers: 0.0.0.0)")
    parser.add_argument("--port", type=int, default=9080, help="port to listen on; 0 picks a free one")
    parser.add_argument("--version", default="v1", choices=reviews.VERSIONS, help="reviews only: which version")
    parser.add_argument(
        "--sidecar", default="127.0.0.1:10000", help="HOST:PORT of the Envoy every outbound call goes through"
    )
    parser.add_argument("--admin", help="productpage only: HOST:PORT of that Envoy's admin, for /traffic-shift")
    args = parser.parse_args(argv)
    routes = {
        "productpage": lambda: productpage.routes(args.sidecar, args.admin),
        "details": details.routes,
        "reviews": lambda: reviews.routes(args.version, args.sidecar),
        "ratings": ratings.routes,
    }[args.service]()
    name = args.service + ("-" + args.version if args.service == "reviews" else "")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(name, args.host, args.port, routes)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
