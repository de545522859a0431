"""`make run CONFIG=…`: our Bookinfo behind the demo's Envoy in the foreground, to try by hand in a browser.

Bookinfo's product page on 127.0.0.1:9080 (tools/bookinfo/; the split, live, at /traffic-shift), and the Envoy
that plays every service's sidecar: listener 127.0.0.1:10000 (traffic-shift filter, then route by the cluster it
picks), admin 127.0.0.1:9901. A port already taken is replaced by a free one, and said. The filter's
configuration comes over ECDS from .run/ecds/, so `make apply CONFIG=…` from another terminal swaps it live.
Ctrl-C stops it all.
"""

import os
import shutil
import sys
import time

from tools import envoylab
from tools.bookinfo.stack import Bookinfo, BookinfoError

from . import config_file, lab, signals, state
from . import ports as ports_mod

PORT, ADMIN_PORT, PRODUCTPAGE_PORT = ports_mod.FRONT, ports_mod.ADMIN, ports_mod.PRODUCTPAGE


def add_arguments(parser):
    parser.add_argument(
        "--config", required=True, help="plugin configuration to start with: JSON, or YAML (.yaml/.yml)"
    )
    parser.add_argument("--port", type=int, default=PORT, help="listener port (default %d)" % PORT)
    parser.add_argument("--admin-port", type=int, default=ADMIN_PORT, help="admin port (default %d)" % ADMIN_PORT)
    parser.add_argument(
        "--productpage-port",
        type=int,
        default=PRODUCTPAGE_PORT,
        help="Bookinfo's product page (default %d)" % PRODUCTPAGE_PORT,
    )


def _try_this(config: str, url: str, port: int, admin: int, log_path: str) -> str:
    curl = "curl -s -H 'Host: %s' http://127.0.0.1:%d%s" % (envoylab.traffic.HOST, port, envoylab.traffic.PATH)
    return "\n".join(
        [
            "open %s" % url,
            "open %s   (each destination's share, live)" % url.replace("/productpage", "/traffic-shift"),
            "Bookinfo is up; its Envoy is serving reviews with %s (Ctrl-C stops it all). Or try:" % config,
            "  %s -o /dev/null -w '%%{http_code} %%header{x-version}\\n'" % curl,
            "  %s -D - -o /dev/null        # x-version and x-traffic-shift-destination headers" % curl,
            "  for i in $(seq 100); do %s -o /dev/null -w '%%header{x-version}\\n'; done | sort | uniq -c" % curl,
            "Swap the configuration live from another terminal:",
            "  make apply CONFIG=filter-config/plugin/reviews-v3.json",
            "Admin: http://127.0.0.1:%d/   counters: curl -s http://127.0.0.1:%d/stats/prometheus | grep ^traffic_shift"
            % (admin, admin),
            "       ECDS:     curl -s 'http://127.0.0.1:%d/stats?filter=extension_config_discovery'" % admin,
            "Envoy log: %s" % log_path,
        ]
    )


def main(args) -> int:
    already = state.load()
    if already:
        print(
            "run: an Envoy from `make run` is already running (pid %d); stop it first" % already["pid"], file=sys.stderr
        )
        return 2
    module = envoylab.module_path()
    if not os.path.isfile(module) or not os.path.isfile(args.config):
        print(
            "run: missing %s" % (args.config if os.path.isfile(module) else module + " (run `make build`)"),
            file=sys.stderr,
        )
        return 2
    config_text = config_file.read(args.config)
    signals.interrupt_on_sigterm()
    envoy = bookinfo = None
    try:
        ports = ports_mod.pick(
            {"productpage": args.productpage_port, "envoy listener": args.port, "envoy admin": args.admin_port},
            say=lambda line: print("run: " + line, flush=True),
        )
        bookinfo = Bookinfo(ports["envoy listener"], ports["envoy admin"], ports["productpage"]).start()
        envoy = lab.start(
            state.WATCHED_DIR,
            config_text,
            module,
            bookinfo.ports,
            {"front": ports["envoy listener"], "admin": ports["envoy admin"]},
        )
        if envoylab.ecds.counters(envoy).get("update_success", 0) < 1:
            print("run: Envoy refused %s: %s" % (args.config, envoylab.ecds.refusal_reason(envoy, 0)), file=sys.stderr)
            return 1
        state.save(
            {
                "pid": envoy.pid,
                "port": envoy.port,
                "admin_port": envoy.admin_port,
                "log_path": envoy.log_path,
                "module": module,
                "serving": args.config,
                "productpage_url": bookinfo.url,
                "bookinfo_ports": bookinfo.ports,
            }
        )
        print(_try_this(args.config, bookinfo.url, envoy.port, envoy.admin_port, envoy.log_path), flush=True)
        while envoy.running and bookinfo.running:
            time.sleep(0.5)
        if not bookinfo.running:
            print("run: a Bookinfo service exited; their log:\n%s" % bookinfo.log(), file=sys.stderr)
            return 1
        print("run: Envoy exited with status %s; its log:" % envoy.stop(), file=sys.stderr)
        envoy.dump_log(tail=30)
        return 1
    except KeyboardInterrupt:
        print("\nstopping Envoy (pid %d)" % envoy.pid if envoy else "")
        return 0
    except envoylab.EnvoyError as failure:
        print("run: Envoy did not start:\n%s" % failure, file=sys.stderr)
        return 2
    except BookinfoError as failure:
        print("run: %s" % failure, file=sys.stderr)
        return 2
    finally:
        state.forget()
        if envoy is not None:
            envoy.close()
        if bookinfo is not None:
            bookinfo.close()
        shutil.rmtree(state.WATCHED_DIR, ignore_errors=True)
