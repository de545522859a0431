"""`make run CONFIG=…`: the demo's Envoy in the foreground on fixed ports, to try by hand.

Listener 127.0.0.1:10000 (traffic-shift filter, then route by the cluster it picks), admin 127.0.0.1:9901,
and Bookinfo-style reviews v1/v2/v3 upstreams inside the same Envoy. The filter's configuration comes over
ECDS from .run/ecds/, so `make apply CONFIG=…` from another terminal swaps it live. Ctrl-C stops it all.
"""
import os
import shutil
import socket
import sys
import time

import envoylab

from . import client, config_file, ecds_status, lab, signals, state

PORT, ADMIN_PORT = 10000, 9901


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="plugin configuration to start with: JSON, or YAML (.yaml/.yml)")
    parser.add_argument("--port", type=int, default=PORT, help="listener port (default %d)" % PORT)
    parser.add_argument("--admin-port", type=int, default=ADMIN_PORT, help="admin port (default %d)" % ADMIN_PORT)


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Envoy does: TIME_WAIT is not busy
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _try_this(config: str, port: int, admin: int, log_path: str) -> str:
    curl = "curl -s -H 'Host: %s' http://127.0.0.1:%d%s" % (client.HOST, port, client.PATH)
    return "\n".join([
        "Envoy is serving reviews with %s (Ctrl-C stops it). Try:" % config,
        "  %s -o /dev/null -w '%%{http_code} %%header{x-version}\\n'" % curl,
        "  %s -D - -o /dev/null        # x-version and x-traffic-shift-destination headers" % curl,
        "  for i in $(seq 100); do %s -o /dev/null -w '%%header{x-version}\\n'; done | sort | uniq -c" % curl,
        "Swap the configuration live from another terminal:",
        "  make apply CONFIG=filter-config/plugin/reviews-v3.json",
        "Admin: http://127.0.0.1:%d/   counters: curl -s http://127.0.0.1:%d/stats/prometheus | grep ^traffic_shift"
        % (admin, admin),
        "       ECDS:     curl -s 'http://127.0.0.1:%d/stats?filter=extension_config_discovery'" % admin,
        "Envoy log: %s" % log_path,
    ])


def main(args) -> int:
    already = state.load()
    if already:
        print("run: an Envoy from `make run` is already running (pid %d); stop it first" % already["pid"],
              file=sys.stderr)
        return 2
    busy = [p for p in (args.port, args.admin_port) if _busy(p)]
    if busy:
        print("run: port %s on 127.0.0.1 is busy; free it, or pass --port/--admin-port"
              % " and ".join(map(str, busy)), file=sys.stderr)
        return 2
    module = envoylab.module_path()
    if not os.path.isfile(module) or not os.path.isfile(args.config):
        print("run: missing %s" % (args.config if os.path.isfile(module) else module + " (run `make build`)"),
              file=sys.stderr)
        return 2
    config_text = config_file.read(args.config)
    signals.interrupt_on_sigterm()
    envoy = None
    try:
        envoy = lab.start(state.WATCHED_DIR, config_text, module, ports={"front": args.port, "admin": args.admin_port})
        if ecds_status.counters(envoy).get("update_success", 0) < 1:
            print("run: Envoy refused %s: %s" % (args.config, ecds_status.refusal_reason(envoy, 0)), file=sys.stderr)
            return 1
        state.save({"pid": envoy.pid, "port": envoy.port, "admin_port": envoy.admin_port, "log_path": envoy.log_path,
                    "module": module, "serving": args.config})
        print(_try_this(args.config, envoy.port, envoy.admin_port, envoy.log_path), flush=True)
        while envoy.running:
            time.sleep(0.5)
        print("run: Envoy exited with status %s; its log:" % envoy.stop(), file=sys.stderr)
        envoy.dump_log(tail=30)
        return 1
    except KeyboardInterrupt:
        print("\nstopping Envoy (pid %d)" % envoy.pid if envoy else "")
        return 0
    except envoylab.EnvoyError as failure:
        print("run: Envoy did not start:\n%s" % failure, file=sys.stderr)
        return 2
    finally:
        state.forget()
        if envoy is not None:
            envoy.close()
        shutil.rmtree(state.WATCHED_DIR, ignore_errors=True)
