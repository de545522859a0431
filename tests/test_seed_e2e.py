"""The Traffic Shifting task's own files (filter-config/seed/, as Istio's samples/bookinfo/networking has
them), pasted as they are: read as `make apply` reads a YAML file, loaded into a real Envoy whose clusters
carry only Istio's names (outbound|9080|<subset>|<service>.default.svc.cluster.local), with the default
clusterName and nothing added. A wrong name would find no cluster and answer 503, so a 200 from the right
version proves the name; requests whose authority names another host are not routed."""

import json
import os

import pytest

from tools import REPO
from tools import envoylab as lab
from tools.demo import config_file

from conftest import BOTH_SHELLS
from shift_configs import check_split

pytestmark = BOTH_SHELLS

SEED = os.path.join(REPO, "filter-config", "seed")
SERVICES = ("productpage", "reviews", "ratings", "details")

# Istio's cluster names only: every Bookinfo service's v1, and reviews' v2 and v3 (upstreams by version).
CLUSTERS = {
    **{lab.istio_cluster("v1", "%s.default.svc.cluster.local" % service): "v1" for service in SERVICES},
    **lab.clusters_named(lab.ISTIO_TEMPLATE),
}

STAGES = {
    "virtual-service-all-v1": {"v1": 1},
    "virtual-service-reviews-50-v3": {"v1": 50, "v3": 50},
    "virtual-service-reviews-v3": {"v3": 1},
}


def seed(name: str) -> str:
    return config_file.read(os.path.join(SEED, name + ".yaml"))


@pytest.mark.parametrize("name,weights", STAGES.items(), ids=STAGES.keys())
def test_the_task_files_route_to_istio_cluster_names(envoy_for, name, weights):
    envoy = envoy_for(seed(name), clusters=CLUSTERS)
    check_split(envoy, weights)  # authority reviews:9080, every answer 200
    # Another port of the same service is another cluster: Istio's name carries the request's port.
    assert lab.request(envoy.port, host="reviews:9081").status == 503
    for foreign in ("reviews.com:9080", "reviews.attacker:9080", "ratings.prod:9080"):
        assert lab.request(envoy.port, host=foreign).status == 503, foreign


def test_all_v1_routes_every_service_by_its_own_virtual_service(envoy_for):
    envoy = envoy_for(seed("virtual-service-all-v1"), clusters=CLUSTERS)
    for service in SERVICES:
        for host in (service + ":9080", service + ".default.svc.cluster.local:9080"):
            answer = lab.request(envoy.port, host=host)
            assert (answer.status, answer.headers.get("x-version")) == (200, "v1"), host


GATEWAY_STAGES = {
    "route-reviews-50-v3": {"v1": 50, "v3": 50},
    "route-reviews-v3": {"v3": 1},
}


@pytest.mark.parametrize("name,weights", GATEWAY_STAGES.items(), ids=GATEWAY_STAGES.keys())
def test_the_gateway_api_counterparts_route_to_istio_service_clusters(envoy_for, name, weights):
    # The HTTPRoute's spec, as the HTTPRoute shape reads it (whole HTTPRoute objects and the four routes of
    # route-all-v1.yaml are read by the HTTPRoute shape's own list support).
    route = json.loads(config_file.read(os.path.join(SEED, "gateway-api", name + ".yaml")))
    envoy = envoy_for(route["spec"], clusters=lab.clusters_named(lab.SERVICE_TEMPLATE))
    check_split(envoy, weights)
