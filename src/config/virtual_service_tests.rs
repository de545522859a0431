//! Whole VirtualServices and lists of them, as `kubectl get -o json` prints them and as the Traffic
//! Shifting task's files (Istio's samples/bookinfo/networking) hold them, converted from YAML.

use super::tests::{assert_refusals, cluster_for, compile};
use crate::random::SplitMix64;
use crate::router::Router;
use crate::test_kit::FakeRequest;
use serde_json::{json, Value};
use std::collections::BTreeSet;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// One VirtualService of the task's files: `name` routes its own host to `subsets` by weight.
fn virtual_service(api: &str, name: &str, routes: Value) -> Value {
    json!({
        "apiVersion": format!("networking.istio.io/{api}"),
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": {"hosts": [name], "http": [{"route": routes}]}
    })
}

fn to(host: &str, subset: &str) -> Value {
    json!({"destination": {"host": host, "subset": subset}})
}

fn weighted(host: &str, subset: &str, weight: u32) -> Value {
    json!({"destination": {"host": host, "subset": subset}, "weight": weight})
}

/// virtual-service-all-v1.yaml: four documents, one per Bookinfo service.
fn all_v1() -> Value {
    let services = ["productpage", "reviews", "ratings", "details"];
    Value::Array(
        services
            .iter()
            .map(|s| virtual_service("v1", s, json!([to(s, "v1")])))
            .collect(),
    )
}

/// virtual-service-reviews-50-v3.yaml
fn reviews_50_v3() -> Value {
    virtual_service(
        "v1",
        "reviews",
        json!([weighted("reviews", "v1", 50), weighted("reviews", "v3", 50)]),
    )
}

/// virtual-service-reviews-v3.yaml (still `v1alpha3` in Istio's samples)
fn reviews_v3() -> Value {
    virtual_service("v1alpha3", "reviews", json!([to("reviews", "v3")]))
}

fn authority(value: &'static str) -> [(&'static str, &'static [u8]); 1] {
    [(":authority", value.as_bytes())]
}

fn cluster_at(router: &Router, value: &'static str) -> Option<String> {
    cluster_for(router, &authority(value))
}

/// Every cluster a router sends requests of this authority to, over many draws.
fn clusters_at(router: &Router, value: &'static str) -> BTreeSet<String> {
    let request = FakeRequest::new(&authority(value));
    let mut random = SplitMix64::new(11);
    (0..64)
        .filter_map(|_| router.decide(&request, &mut random))
        .filter_map(|decision| router.cluster(decision).map(String::from))
        .collect()
}

fn istio(port: u16, subset: &str, fqdn: &str) -> String {
    format!("outbound|{port}|{subset}|{fqdn}")
}

#[test]
fn all_v1_routes_each_service_to_its_own_v1_with_istio_cluster_names() {
    let router = compile(all_v1());
    for (authority, service) in [
        ("productpage:9080", "productpage"),
        ("reviews:9080", "reviews"),
        ("ratings.default:9080", "ratings"),
        ("details.default.svc.cluster.local:9080", "details"),
    ] {
        assert_eq!(
            cluster_at(&router, authority),
            Some(istio(
                9080,
                "v1",
                &format!("{service}.default.svc.cluster.local")
            )),
            "{authority}"
        );
    }
    for foreign in [
        "reviews.com:9080",
        "reviews.attacker:9080",
        "other:9080",
        "reviews.prod:9080",
    ] {
        assert_eq!(cluster_at(&router, foreign), None, "{foreign}");
    }
    let names: Vec<&str> = router.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "productpage/http-0",
            "reviews/http-0",
            "ratings/http-0",
            "details/http-0"
        ]
    );
}

#[test]
fn a_kubernetes_list_is_read_like_an_array() {
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                      "items": all_v1()});
    let router = compile(list);
    assert_eq!(
        cluster_at(&router, "ratings:9080"),
        Some(istio(9080, "v1", "ratings.default.svc.cluster.local"))
    );
    assert_eq!(router.entries.len(), 4);
}

#[test]
fn the_task_stages_give_istio_cluster_names_with_nothing_added() {
    let fifty = compile(reviews_50_v3());
    let both: BTreeSet<String> = ["v1", "v3"]
        .iter()
        .map(|s| istio(9080, s, "reviews.default.svc.cluster.local"))
        .collect();
    assert_eq!(clusters_at(&fifty, "reviews:9080"), both);
    let v3 = compile(reviews_v3());
    assert_eq!(
        clusters_at(&v3, "reviews:9080"),
        BTreeSet::from([istio(9080, "v3", "reviews.default.svc.cluster.local")])
    );
    // The same spec pasted alone (the plugin configuration's own shape) gives the same names.
    let spec = compile(reviews_v3()["spec"].clone());
    assert_eq!(
        cluster_at(&spec, "reviews:9080"),
        Some(istio(9080, "v3", "reviews.default.svc.cluster.local"))
    );
}

#[test]
fn the_port_comes_from_the_authority() {
    let router = compile(reviews_v3());
    assert_eq!(
        cluster_at(&router, "reviews:8080"),
        Some(istio(8080, "v3", "reviews.default.svc.cluster.local"))
    );
    // No port: HTTP's default. A port that is not one decides nothing.
    assert_eq!(
        cluster_at(&router, "reviews"),
        Some(istio(80, "v3", "reviews.default.svc.cluster.local"))
    );
    for bad in ["reviews:0", "reviews:65536", "reviews:http", "reviews:"] {
        assert_eq!(cluster_at(&router, bad), None, "{bad}");
    }
    // A destination with its own port keeps it whatever the authority says.
    let fixed = compile(json!({"hosts": ["reviews"], "http": [{"route": [
        {"destination": {"host": "reviews", "subset": "v3", "port": {"number": 9080}}}]}]}));
    assert_eq!(
        cluster_at(&fixed, "reviews:8080"),
        Some(istio(9080, "v3", "reviews.default.svc.cluster.local"))
    );
    // The stats name the destination with an empty port: a client's ports never add series.
    assert_eq!(
        router.entries[0].clusters(),
        ["outbound||v3|reviews.default.svc.cluster.local"]
    );
}

#[test]
fn only_destinations_without_a_port_read_the_authority_for_it() {
    let reads = |config: Value, headers: &[(&'static str, &'static [u8])]| {
        let router = compile(config);
        let request = FakeRequest::new(headers);
        let decision = router.decide(&request, &mut SplitMix64::new(1));
        let cluster = decision.and_then(|d| router.cluster(d)).map(String::from);
        (cluster, request.fetched())
    };
    let portless = json!({"http": [{"route": [to("reviews", "v1")]}]});
    assert_eq!(
        reads(portless, &authority("reviews:9080")),
        (
            Some(istio(9080, "v1", "reviews.default.svc.cluster.local")),
            vec![":authority".to_string()]
        )
    );
    let with_port = json!({"http": [{"route": [
        {"destination": {"host": "reviews", "subset": "v1", "port": {"number": 9080}}}]}]});
    assert_eq!(
        reads(with_port, &authority("reviews:9080")),
        (
            Some(istio(9080, "v1", "reviews.default.svc.cluster.local")),
            Vec::new()
        )
    );
    let tag = json!({"clusterName": "{subset}", "http": [{"route": [to("reviews", "v1")]}]});
    assert_eq!(
        reads(tag, &authority("reviews:9080")),
        (Some("v1".to_string()), Vec::new())
    );
    // With hosts, the authority read for hosts is the one the port comes from.
    let scoped = json!({"hosts": ["reviews"], "http": [{"route": [to("reviews", "v1")]}]});
    assert_eq!(reads(scoped, &authority("reviews:9080")).1, [":authority"]);
}

#[test]
fn metadata_namespace_sets_the_namespace_of_short_names() {
    let mut object = reviews_v3();
    object["metadata"] = json!({"name": "reviews", "namespace": "prod", "uid": "1",
        "resourceVersion": "42", "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        "labels": {"app": "reviews"}, "managedFields": [{"manager": "kubectl"}]});
    object["status"] = json!({"validationMessages": []});
    let router = compile(object);
    assert_eq!(
        cluster_at(&router, "reviews:9080"),
        Some(istio(9080, "v3", "reviews.prod.svc.cluster.local"))
    );
    assert_eq!(
        cluster_at(&router, "reviews.prod.svc:9080"),
        Some(istio(9080, "v3", "reviews.prod.svc.cluster.local"))
    );
    assert_eq!(cluster_at(&router, "reviews.default:9080"), None);
    // The top-level namespace does the same for the plugin configuration's own shape.
    let top = compile(json!({"namespace": "prod", "clusterDomain": "corp.example",
        "hosts": ["reviews"], "http": [{"route": [to("reviews", "v3")]}]}));
    assert_eq!(
        cluster_at(&top, "reviews.prod.svc.corp.example:9080"),
        Some(istio(9080, "v3", "reviews.prod.svc.corp.example"))
    );
    assert_eq!(
        cluster_at(&top, "reviews.prod.svc.cluster.local:9080"),
        None
    );
}

#[test]
fn settings_sit_beside_a_whole_object_and_host_keeps_the_name_as_written() {
    let mut object = reviews_v3();
    object["clusterName"] = json!("outbound|{port}|{subset}|{host}");
    object["responseHeader"] = json!("x-destination");
    let router = compile(object);
    assert_eq!(router.response_header.as_deref(), Some("x-destination"));
    assert_eq!(
        cluster_at(&router, "reviews:9080").as_deref(),
        Some("outbound|9080|v3|reviews")
    );
    let fqdn = compile(json!({"clusterName": "{fqdn}", "items": [reviews_v3()]}));
    assert_eq!(
        cluster_at(&fqdn, "reviews:9080").as_deref(),
        Some("reviews.default.svc.cluster.local")
    );
}

#[test]
fn each_virtual_service_applies_to_its_own_hosts_in_the_order_given() {
    // Two VirtualServices for reviews: the first given wins, as the earlier one does in Istio.
    let first = virtual_service("v1", "reviews", json!([to("reviews", "v1")]));
    let mut second = virtual_service("v1", "reviews-canary", json!([to("reviews", "v3")]));
    second["spec"]["hosts"] = json!(["reviews", "ratings"]);
    let router = compile(json!([first, second]));
    assert_eq!(
        cluster_at(&router, "reviews:9080"),
        Some(istio(9080, "v1", "reviews.default.svc.cluster.local"))
    );
    assert_eq!(
        cluster_at(&router, "ratings:9080"),
        Some(istio(9080, "v3", "reviews.default.svc.cluster.local"))
    );
    // An entry that matches the authority but is scoped to other hosts is skipped.
    let scoped = compile(json!([
        {"hosts": ["ratings"], "http": [{"name": "ratings", "match": [{"authority": {"exact": "reviews:9080"}}],
                                         "route": [to("ratings", "v2")]}]},
        {"hosts": ["reviews"], "http": [{"name": "reviews", "route": [to("reviews", "v2")]}]}
    ]));
    assert!(scoped.authority_index.is_some());
    assert_eq!(
        cluster_at(&scoped, "reviews:9080"),
        Some(istio(9080, "v2", "reviews.default.svc.cluster.local"))
    );
}

#[test]
fn whole_objects_and_lists_are_refused_with_the_path() {
    let mut wrong_kind = reviews_v3();
    wrong_kind["kind"] = json!("DestinationRule");
    let mut wrong_api = reviews_v3();
    wrong_api["apiVersion"] = json!("gateway.networking.k8s.io/v1");
    let mut no_hosts = reviews_v3();
    no_hosts["spec"].as_object_mut().unwrap().remove("hosts");
    let mut gateway = reviews_v3();
    gateway["spec"]["gateways"] = json!(["mesh", "bookinfo-gateway"]);
    let mut mesh = reviews_v3();
    mesh["spec"]["gateways"] = json!(["mesh"]);
    compile(mesh);
    let mut bad_namespace = reviews_v3();
    bad_namespace["metadata"]["namespace"] = json!("Prod");
    let mut unknown = reviews_v3();
    unknown["spce"] = json!({});
    let mut tcp = reviews_v3();
    tcp["spec"]["tcp"] = json!([]);
    let http_route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "reviews"}, "spec": {"rules": []}});
    let cases = [
        (wrong_kind, "at kind: traffic-shift reads VirtualService and HTTPRoute objects, not DestinationRule"),
        (wrong_api, "at apiVersion: \"gateway.networking.k8s.io/v1\" is not Istio's networking API"),
        (json!({"kind": "VirtualService"}), "at spec: missing; a VirtualService has a spec"),
        (no_hosts, "at spec.hosts: missing; a VirtualService names the hosts it applies to"),
        (json!([{"http": []}]), "at [0].hosts: missing"),
        (gateway, "at spec.gateways[1]: traffic-shift runs where it is loaded"),
        (bad_namespace, "at metadata.namespace: \"Prod\" is not a valid namespace name"),
        (unknown, "at spce: unknown field \"spce\" (did you mean \"spec\"?)"),
        (tcp, "at spec.tcp: the VirtualService field \"tcp\" is not implemented"),
        (json!([reviews_v3(), http_route]), "at [1]: mixes VirtualServices and HTTPRoutes"),
        (json!([reviews_v3(), reviews_v3()]), "at [1].spec.http[0].name: \"reviews/http-0\" names an earlier entry too"),
        (json!({"kind": "Deployment", "items": []}), "at kind: a document with items is a List"),
        (json!([1]), "at [0]: expected an object, got 1"),
        (json!({"items": [], "clusterName": "{hots}"}), "at clusterName: unknown placeholder"),
        (json!({"clusterDomain": "cluster..local"}), "at clusterDomain: \"cluster..local\" is not a DNS domain"),
    ];
    let cases: Vec<(String, &str)> = cases
        .into_iter()
        .map(|(config, want)| (config.to_string(), want))
        .collect();
    assert_refusals(&cases);
}

#[test]
fn destination_hosts_and_duplicate_hosts_are_refused_as_istio_refuses_them() {
    let with_host = |host: &str| json!({"http": [{"route": [{"destination": {"host": host}}]}]});
    let mut cases: Vec<(String, &str)> = [
        "*",
        "foo.*",
        "*.foo.com",
        "default/baz",
        "foo.ba!r",
        "reviews:9080",
    ]
    .iter()
    .map(|host| {
        (
            with_host(host).to_string(),
            "at http[0].route[0].destination.host: ",
        )
    })
    .collect();
    cases.push((
        json!({"hosts": ["reviews", "reviews"], "http": []}).to_string(),
        "at hosts[1]: \"reviews\" duplicates \"reviews\"",
    ));
    cases.push((
        json!({"hosts": ["*.foo.com", "bar.foo.com"], "http": []}).to_string(),
        "at hosts[1]: \"bar.foo.com\" duplicates \"*.foo.com\"",
    ));
    cases.push((
        json!({"hosts": ["default/reviews"], "http": []}).to_string(),
        "at hosts[0]: \"default/reviews\" has a \"/\"",
    ));
    assert_refusals(&cases);
    for host in [
        "reviews",
        "reviews.prod.svc.cluster.local",
        "foo.bar",
        "10.0.0.1",
    ] {
        compile(with_host(host));
    }
}
