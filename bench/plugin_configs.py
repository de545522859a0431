"""The traffic-shift plugin configurations under test (Istio VirtualService `http` shape).

REALISTIC (bench/realistic.json, envoylab.configs.realistic()) is what a mesh typically carries: a `hosts` list
and a few header/uri matches for special traffic before the weighted split that ordinary requests (ours) fall
through to. envoylab.configs.authority_entries(n) gives n entries each matching one authority `svc-<i>`, to see
how the lookup scales.
"""

from tools import envoylab
from tools.envoylab.configs import destination as _destination

V1, V2, V3 = (envoylab.istio_cluster(v) for v in ("v1", "v2", "v3"))
REQUEST_HOST = envoylab.traffic.HOST  # what the load generators send for the realistic config
REQUEST_PATH = envoylab.traffic.PATH


def _split() -> list:
    return envoylab.configs.split({"v1": 50, "v3": 50})


def _split_taking_the_request_port() -> list:
    """The task's own destinations: a short host and no port, so the default clusterName takes the port
    from :authority (reviews:9080) and expands the host: the same clusters as _split()."""
    return [{"destination": {"host": "reviews", "subset": v}, "weight": 50} for v in ("v1", "v3")]


REALISTIC = envoylab.configs.realistic()


def _backend(subset: str, weight: int) -> dict:
    return {"name": "reviews-" + subset, "port": 9080, "weight": weight}


# REALISTIC in the HTTPRoute shape (header presence as a `.*` regex): the same checks, ranked by Gateway
# API's precedence at configuration time, so an ordinary request costs what it costs in REALISTIC.
REALISTIC_GATEWAY = {
    "hostnames": ["reviews"],
    "rules": [
        {
            "name": "jason-sees-v2",
            "matches": [{"headers": [{"name": "end-user", "value": "jason"}]}],
            "backendRefs": [_backend("v2", 100)],
        },
        {
            "name": "canary-testers",
            "matches": [
                {
                    "headers": [{"name": "x-canary", "value": "always"}],
                    "path": {"type": "PathPrefix", "value": "/reviews/"},
                },
                {"headers": [{"name": "x-canary-group", "type": "RegularExpression", "value": ".*"}]},
            ],
            "backendRefs": [_backend("v3", 100)],
        },
        {
            "name": "admin-api",
            "matches": [
                {"path": {"value": "/admin"}},
                {"path": {"type": "Exact", "value": "/reviews/debug"}, "method": "POST"},
            ],
            "backendRefs": [_backend("v1", 100)],
        },
        {"name": "reviews-shift", "backendRefs": [_backend("v1", 50), _backend("v3", 50)]},
    ],
}
# The Service clusters its backendRefs name (the default clusterName), by upstream version.
GATEWAY_CLUSTERS = {"outbound|9080||reviews-%s.default.svc.cluster.local" % v: v for v in ("v1", "v2", "v3")}


def _one_entry(match=None, hosts=None, route=None, sticky=None) -> dict:
    entry = {"name": "reviews-shift", "route": route or _split()}
    if match:
        entry["match"] = [match]
    if sticky:
        entry["sticky"] = sticky
    return {"http": [entry], **({"hosts": hosts} if hosts else {})}


# BENCH_COST_MODEL: one 50/50 entry that every bench request takes, making exactly one more host read per
# step, so the difference in Envoy CPU per request between two of them is the cost of that read.
COST_MODEL = {
    "cost-0": ("1 entry, reads nothing", _one_entry()),
    "cost-absent": ("1 entry, reads 1 absent header", _one_entry({"withoutHeaders": {"x-absent": {}}})),
    "cost-present": ("1 entry, reads 1 value (:path)", _one_entry({"uri": {"prefix": "/"}})),
    "cost-hosts": ("1 entry + hosts (reads :authority)", _one_entry(hosts=["reviews"])),
    # Destinations without a port: :authority read for the port, the cluster name filled per request.
    "cost-port": (
        "1 entry, destinations without a port (reads :authority)",
        _one_entry(route=_split_taking_the_request_port()),
    ),
    "cost-hosts-port": (
        "1 entry + hosts, destinations without a port",
        _one_entry(hosts=["reviews"], route=_split_taking_the_request_port()),
    ),
    # A header every bench request carries (h2load's user-agent) whose value fails the condition: the later
    # values of a repeated header are read too, which reading one at a time takes the whole map for.
    "cost-later-values": (
        "1 entry, 1 present header failing its value (later values read)",
        _one_entry({"withoutHeaders": {"user-agent": {"exact": "never"}}}),
    ),
    # Two values, so the filter takes the whole header map in one call instead (request.rs).
    "cost-two-values": (
        "1 entry + hosts + uri (whole map in one call)",
        _one_entry({"uri": {"prefix": "/"}}, hosts=["reviews"]),
    ),
    # Sticky on a header every bench request carries (h2load's user-agent; the sanity check sends none, so
    # it sees the random split): the hash of a key, and the same with a cohort (linked canaries).
    "cost-sticky": ("1 entry, sticky on user-agent", _one_entry(sticky={"header": "user-agent"})),
    "cost-cohort": (
        "1 entry, sticky on user-agent in a cohort",
        _one_entry(sticky={"header": "user-agent", "cohort": "release-2026-12"}),
    ),
}


# REALISTIC with its split made by a guarded rollout held at 50% (started long ago, 100% only after
# 100,000 h): the weights come from the timer, so requests should cost what REALISTIC's do; those to v3 also
# have their status read for the guard (it never trips: it needs a million requests).
REALISTIC_ROLLOUT = {
    **REALISTIC,
    "http": REALISTIC["http"][:-1]
    + [
        {
            "name": "reviews-rollout",
            "route": [_destination("v1", 0), _destination("v3", 100)],
            "rollout": {
                "from": [100, 0],
                "start": "2026-01-01T00:00:00Z",
                "steps": [{"at": "0s", "progress": 50}, {"at": "100000h", "progress": 100}],
                "guard": {"maxErrorRate": 0.5, "minRequests": 1000000, "window": "30s"},
            },
        }
    ],
}
