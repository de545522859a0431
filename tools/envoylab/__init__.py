"""envoylab: a real Envoy with the traffic-shift filter and Bookinfo-style `reviews` upstreams, and what the
tests, the demo, the benchmark, the soak and the docker test share: `from tools import envoylab`.

Quick use:

    with envoylab.launch({"http": [{"route": [...]}]}) as envoy:      # started, ready, stopped on exit
        tally = envoylab.send_requests(envoy.port, envoylab.sample_size({"v1": 50, "v3": 50}))
        envoylab.assert_shares(tally, {"v1": 50, "v3": 50})

Stable API (everything else is internal):

Envoy processes (process.py)
    Envoy(bootstrap, *, concurrency=1, ready_timeout=30.0, log_level="info", envoy=None, extra_args=())
        bootstrap: dict (written as JSON) or YAML/JSON text. Own random --base-id; stdout+stderr to a log file.
        Envoy is SIGKILLed if the thread that started it exits: start it from the main thread.
        .start() -> self (waits for admin /ready; raises EnvoyError with the log)   .spawn() (no wait)
        .stop() -> exit status   .restart() (same file, same ports)   .close() (stop + remove files)
        .wait_exit(timeout) -> exit status or None   context manager: starts if needed, closes on exit
        .pid .admin_port .port (the "front" listener) .ports {listener name: port} .running
        .log() -> str   .dump_log(file=None, tail=None)   .admin(path) -> body   .stats(filter=None) -> dict
    Admin(admin_port, log_path=None)   .admin(path) .stats(filter) .log(): an Envoy another process started
    EnvoyError(message, log, returncode)        raised when Envoy does not become ready
    expect_startup_failure(bootstrap, *, timeout=30.0, **envoy_options) -> log text
        for configs Envoy must refuse: fails the test if Envoy becomes ready, hangs, or exits 0.
    envoy_binary() -> path ($ENVOY or the pinned .venv build)     parse_stats(text) -> dict

Memory (memory.py): rss_bytes(pid)   wasm_memories(pid) -> [(size, resident)] of each Wasm VM's linear memory
    launch(plugin_config=None, *, concurrency=1, ready_timeout=30.0, attempts=3, envoy_options=None,
           **render_options) -> started Envoy (render_bootstrap + start, retried on a port clash)
    start_retrying(render, *, attempts=3, **envoy_options) -> Envoy(render()) started, rendered anew on a clash

Bootstraps (bootstrap.py)
    render_bootstrap(plugin_config=None, *, routes=None, clusters=None, filter_disabled=False,
                     http_filters=None, module=None, shell="wasm", versions=VERSIONS,
                     echo_headers=(CLUSTER_HEADER,), ports=None, statuses=None, absent=()) -> dict
        plugin_config: dict or raw string; None = no traffic-shift filter (plain Envoy).
        shell: "wasm" (the Wasm module) or "native" (the dynamic module, libtraffic_shift.so; Envoy started
        here finds it through ENVOY_DYNAMIC_MODULES_SEARCH_PATH = native_module_dir()).
        Listeners: "front" (filter + router; routes default [cluster_header_route()]) and "upstream-<v>" per
        version answering 200 with reviews_body(v) and headers x-version: <v>, x-echo-<h>: <request's h>.
        clusters: {name: version}, default clusters_named(ISTIO_TEMPLATE).
        statuses: {version: status its upstream answers}; absent: versions whose cluster port is closed.
    cluster_header_route(header=CLUSTER_HEADER, *, prefix="/", name=None, shift=None)
    cluster_route(cluster, *, prefix="/", headers=None, name=None, shift=None)
    cluster_specifier_route(plugin_config, *, prefix="/", name=None)  the native cluster specifier picks the cluster
    cluster_specifier_action(plugin_config) -> that route's action
    tag_routes({tag: cluster}, header=TAG_HEADER, *, prefix="/", name_prefix=None, shift=None) -> [route]
        shift=True enables the filter on that route (FilterConfig), False disables it, None leaves it.
    wasm_filter(plugin_config, *, module=None, disabled=False)   module_path()   to_yaml(bootstrap)
    dynamic_module_filter(plugin_config, *, disabled=False)   native_module_dir()
    shift_filter(plugin_config, *, shell="wasm", module=None, disabled=False)   SHELLS
    http_listener(name, port, virtual_host, http_filters) -> one 127.0.0.1 listener (filters, then the router)
    istio_cluster(subset, host="reviews.default.svc.cluster.local", port=9080)
    clusters_named(template=ISTIO_TEMPLATE, versions=VERSIONS) -> {template.format(subset=v): v}
    reviews_body(version) -> JSON text
    constants: VERSIONS, FILTER_NAME, CLUSTER_HEADER, TAG_HEADER, ISTIO_TEMPLATE,
        SERVICE_TEMPLATE (clusters_named(SERVICE_TEMPLATE): Istio's names for Services reviews-v1, ...)

Traffic (traffic.py: the one HTTP client)
    Connection(port, timeout=5.0): one keep-alive connection, reopened once if the server closed it in between
        .send(headers=None, *, path=PATH, method="GET", host=HOST, body=None) -> Response   .local_port  .close()
    send_requests(port, n, *, path=PATH, method="GET", host=HOST, headers=None, body=None, connections=1,
                  time_limit=60.0, version_header="x-version") -> Tally(versions: Counter, statuses: Counter, sent)
    request(port, *, path=PATH, method="GET", host=HOST, headers=None, body=None, timeout=5.0)
        -> Response(status, headers {lower name: value}, body bytes)
    headers: dict or [(name, value)]; values str or bytes (bytes go on the wire unchanged).

The filter's metrics (metrics.py, from filter-config/metrics.json): envoylab.metrics
    stats_config() (in every render_bootstrap)   istio_proxy_config()   TAGS, METRICS, REQUESTS, UNMATCHED
    requests(envoy, by=("entry", "destination")) -> Counter({label values: n}) from /stats/prometheus
    unmatched(envoy) -> int   prometheus(envoy) / parse_prometheus(text) -> [Sample(name, labels, value)]
    tags_of(plain /stats name) -> (name left, {tag: value})

Workers (workers.py)
    connections_per_worker(envoy, listener_port=None) -> {worker index: connections accepted}
    on_every_worker(envoy, per_worker, open_one, close) -> ({worker: [connections]}, [spare, closed])

ECDS (ecds.py, envoylab.ecds): the filter's configuration from a watched directory, as Istio delivers it
    launch(watched_dir, first_config, module, *, shell="wasm", concurrency=1, **render_options) -> started Envoy
    push(envoy, watched_dir, plugin_config, module, shell="wasm") -> Outcome(verdict, seconds, reason, renamed,
        moved)   .accepted        counters(envoy) -> {update_success: n, ...}   refusal_reason(envoy, log_offset)
    http_filter(watched_dir, shell)   bootstrap(watched_dir, shell, **render_options)   write_resource(...)

Plugin configurations (configs.py, envoylab.configs)
    destination(subset, weight=None, host=REVIEWS_HOST) -> route element   split({subset: weight}) -> route list
    authority_entries(n) -> n entries, entry i for authority(i) = "svc-<i>"   realistic() -> bench/realistic.json

Rollouts (rollout.py, envoylab.rollout)
    rollout_entry(start, steps, *, target, start_weights, guard=None, sticky=None) -> http entry
    rollout_state(envoy) -> {progress, tripped, share, errors}   shares_at(progress, start_weights, target)
    next_second(lead), rfc3339(epoch), TICK

Load generators (loadgen.py, envoylab.loadgen): require(tool) -> path   parse_wrk(text) -> Throughput   LoadError

Paced traffic (paced.py)
    PacedClient(port, rate, max_requests, max_seconds): a thread asking at a fixed rate, answers time-stamped
        .start() .stop() .answers .started_at .answers_between(start, end)

Statistics (shares.py)
    sample_size(p_or_weights, tol=0.05, sigmas=5.0) -> int      normalise(weights) -> shares
    assert_shares(counts_or_tally, weights, *, sigmas=5.0)  (5-sigma per destination; share 0 = exactly 0)
    check_shares(...) -> (destinations off their share, one line per destination): the same, without raising
"""

from . import configs, ecds, loadgen, metrics, rollout

# The native build (dynamic module): its filter, its cluster specifier, where it is.
from .bootstrap import (
    CLUSTER_HEADER,
    FILTER_NAME,
    ISTIO_TEMPLATE,
    NATIVE_MODULE_NAME,
    SERVICE_TEMPLATE,
    SHELLS,
    TAG_HEADER,
    VERSIONS,
    cluster_header_route,
    cluster_route,
    cluster_specifier_action,
    cluster_specifier_route,
    clusters_named,
    dynamic_module_filter,
    http_listener,
    istio_cluster,
    local_address,
    module_path,
    native_module_dir,
    render_bootstrap,
    reviews_body,
    shift_filter,
    static_cluster,
    tag_routes,
    to_yaml,
    wasm_filter,
)
from .launch import launch, start_retrying
from .memory import rss_bytes, wasm_memories
from .paced import PacedClient
from .process import Admin, Envoy, EnvoyError, envoy_binary, expect_startup_failure, parse_stats
from .shares import assert_shares, check_shares, normalise, sample_size
from .traffic import Connection, Response, Tally, request, send_requests
from .workers import connections_per_worker, on_every_worker
