"""Before timing anything: every listener answers 200 from both halves of its 50/50 split. A listener that
fails (say a 503 because no cluster header was set) would otherwise look fast."""

from tools import envoylab

from .measure import BenchError
from .plugin_configs import REQUEST_PATH

REQUESTS = 60  # a 50/50 split misses one side with probability 2^-59


def check(envoy, variants):
    for variant in variants:
        tally = envoylab.send_requests(
            envoy.ports[variant.name], REQUESTS, host=variant.host, path=REQUEST_PATH, time_limit=30.0
        )
        seen = {v for v, n in tally.versions.items() if n}
        if tally.statuses != {200: REQUESTS} or seen != {"v1", "v3"}:
            raise BenchError(
                "listener %s is not splitting 50/50 between v1 and v3: statuses %s, versions %s\n%s"
                % (variant.name, dict(tally.statuses), dict(tally.versions), envoy.log()[-3000:])
            )
