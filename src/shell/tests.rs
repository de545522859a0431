//! Both shells' request logic against a fake host: what reaches the host per request and answer.

use super::*;
use crate::config::parse;
use crate::random::SplitMix64;
use crate::rollout::engine::MetricKind;
use crate::rollout::shared::ProcessStore;
use std::borrow::Cow;
use std::cell::RefCell;

/// A request and its answer as a host holds them, and what the kernel did to them.
#[derive(Default)]
struct FakeHost {
    request: RefCell<Vec<(String, Vec<u8>)>>,
    response: RefCell<Vec<(String, String)>>,
    status: Option<u64>,
    details: Option<&'static str>,
    details_read: RefCell<usize>,
    counted: RefCell<Vec<u64>>,
    refuse_set: bool,
    local_reply: RefCell<Option<u32>>,
}

impl FakeHost {
    fn with(headers: &[(&str, &str)]) -> Self {
        FakeHost {
            request: RefCell::new(
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                    .collect(),
            ),
            ..FakeHost::default()
        }
    }

    fn request_header(&self, name: &str) -> Option<String> {
        self.request
            .borrow()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

impl RequestSource for FakeHost {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        let request = self.request.borrow();
        let value = request.iter().find(|(k, _)| k == name)?;
        Some(Cow::Owned(value.1.clone()))
    }
    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        None
    }
}

impl FilterHost for FakeHost {
    fn set_request_header(&self, name: &str, value: &str) {
        self.request.borrow_mut().retain(|(k, _)| k != name);
        if !self.refuse_set {
            let pair = (name.to_string(), value.as_bytes().to_vec());
            self.request.borrow_mut().push(pair);
        }
    }
    fn remove_request_header_if_present(&self, name: &str) {
        self.request.borrow_mut().retain(|(k, _)| k != name);
    }
    fn increment(&self, counter: u64) {
        self.counted.borrow_mut().push(counter);
    }
    fn send_local_reply(&self, status: u32, _details: &str) {
        *self.local_reply.borrow_mut() = Some(status);
    }
}

impl AnswerHost for FakeHost {
    fn response_status(&self) -> Option<u64> {
        self.status
    }
    fn response_code_details(&self) -> Option<Vec<u8>> {
        *self.details_read.borrow_mut() += 1;
        self.details.map(|d| d.as_bytes().to_vec())
    }
    fn add_response_header(&self, name: &str, value: &str) {
        let pair = (name.to_string(), value.to_string());
        self.response.borrow_mut().push(pair);
    }
    fn increment(&self, counter: u64) {
        self.counted.borrow_mut().push(counter);
    }
}

fn kernel(config: &str, store: &'static ProcessStore) -> (Router, Kernel<&'static ProcessStore>) {
    let router = parse(config.as_bytes()).unwrap();
    let mut next = 0;
    let mut define = |_: MetricKind, _: &str| {
        next += 1;
        Some(next - 1)
    };
    let counters = Counters::define(&router, |name| define(MetricKind::Counter, name));
    let rollouts = Arc::new(Engine::new(&router, config.as_bytes(), || store, define));
    (router, Kernel { counters, rollouts })
}

const ONE_WAY: &str = r#"{"clusterName": "{subset}", "responseHeader": "x-dest", "http": [
    {"name": "r", "match": [{"headers": {"end-user": {}}}],
     "route": [{"destination": {"host": "reviews", "subset": "v2"}}]}]}"#;

fn store() -> &'static ProcessStore {
    Box::leak(Box::default())
}

#[test]
fn a_routed_request_gets_the_header_replacing_the_clients_and_is_counted() {
    let (router, kernel) = kernel(ONE_WAY, store());
    let host = FakeHost::with(&[("end-user", "jason"), ("x-traffic-shift-cluster", "mine")]);
    let mut stream = kernel.on_request(&router, &host, Some(&mut SplitMix64::new(1)));
    assert_eq!(
        host.request_header("x-traffic-shift-cluster").as_deref(),
        Some("v2")
    );
    assert_eq!(*host.counted.borrow(), [0], "the entry's destination");
    kernel.on_response(&router, &mut stream, &host);
    assert_eq!(*host.response.borrow(), [("x-dest".into(), "v2".into())]);
    assert_eq!(
        *host.details_read.borrow(),
        0,
        "nothing watched, nothing read"
    );
}

#[test]
fn an_unmatched_request_loses_the_clients_header_and_counts_as_unmatched() {
    let (router, kernel) = kernel(ONE_WAY, store());
    let host = FakeHost::with(&[("x-traffic-shift-cluster", "v2")]);
    let mut stream = kernel.on_request(&router, &host, Some(&mut SplitMix64::new(1)));
    assert_eq!(host.request_header("x-traffic-shift-cluster"), None);
    assert_eq!(*host.counted.borrow(), [1], "the unmatched counter");
    kernel.on_response(&router, &mut stream, &host);
    assert!(host.response.borrow().is_empty());
}

#[test]
fn no_generator_decides_nothing_and_still_strips() {
    let (router, kernel) = kernel(ONE_WAY, store());
    let host = FakeHost::with(&[("end-user", "jason"), ("x-traffic-shift-cluster", "v2")]);
    kernel.on_request::<_, SplitMix64>(&router, &host, None);
    assert_eq!(host.request_header("x-traffic-shift-cluster"), None);
}

#[test]
fn a_header_the_host_refuses_to_set_does_not_leave_the_clients() {
    let (router, kernel) = kernel(ONE_WAY, store());
    let host = FakeHost {
        refuse_set: true,
        ..FakeHost::with(&[("end-user", "jason"), ("x-traffic-shift-cluster", "mine")])
    };
    kernel.on_request(&router, &host, Some(&mut SplitMix64::new(1)));
    assert_eq!(host.request_header("x-traffic-shift-cluster"), None);
}

const GUARDED: &str = r#"{"clusterName": "{subset}", "http": [{"name": "reviews",
    "route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 0},
              {"destination": {"host": "reviews", "subset": "v3"}, "weight": 100}],
    "rollout": {"from": [100, 0], "start": "2020-01-01T00:00:00Z",
        "steps": [{"at": "0s", "progress": 100}, {"at": "87600h", "progress": 100}],
        "guard": {"maxErrorRate": 0.5, "minRequests": 100000, "window": "1m"}}}]}"#;

#[test]
fn the_guard_reads_the_answer_of_watched_requests_once() {
    let (mut router, kernel) = kernel(GUARDED, store());
    struct Silent;
    impl crate::rollout::RolloutHost for Silent {
        fn log(&self, _: crate::rollout::engine::Level, _: &str) {}
        fn set_gauge(&self, _: u64, _: u64) {}
    }
    kernel.rollouts.advance(
        crate::rollout::time::parse_rfc3339("2021-01-01T00:00:00Z").unwrap(),
        &Silent,
    );
    kernel.rollouts.apply(&mut router);
    // Every request goes to v3, the growing destination: each answer is read.
    let answered = |status, details| {
        let host = FakeHost {
            status,
            details,
            ..FakeHost::with(&[])
        };
        let mut stream = kernel.on_request(&router, &host, Some(&mut SplitMix64::new(3)));
        assert!(stream.watch.is_some());
        kernel.on_response(&router, &mut stream, &host);
        (host.counted.take(), host.details_read.take())
    };
    // Ids: v1, v3, unmatched (0-2), the share gauges (3, 4), then the guard's failures of v3 (5).
    assert_eq!(answered(Some(503), Some("via_upstream")), (vec![1, 5], 1));
    assert_eq!(
        answered(
            Some(503),
            Some("upstream_reset_before_response_started{connection_failure}")
        ),
        (vec![1, 5], 1)
    );
    assert_eq!(answered(Some(503), Some("cluster_not_found")), (vec![1], 1));
    assert_eq!(
        answered(Some(200), Some("via_upstream")),
        (vec![1], 0),
        "details only for a 5xx"
    );
}

#[test]
fn the_specifier_picks_and_counts() {
    let (router, kernel) = kernel(
        ONE_WAY
            .replace(r#""responseHeader": "x-dest", "#, "")
            .as_str(),
        store(),
    );
    let matched = FakeHost::with(&[("end-user", "x")]);
    assert_eq!(
        kernel.pick(&router, &matched, Some(&mut SplitMix64::new(1))),
        (Some("v2".into()), Some(0))
    );
    assert_eq!(
        kernel.pick(&router, &FakeHost::with(&[]), Some(&mut SplitMix64::new(1))),
        (None, Some(1))
    );
}

#[test]
fn a_rule_without_backends_is_answered_500_here() {
    let config = r#"{"rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/gone"}}]},
        {"backendRefs": [{"name": "reviews", "port": 9080}]}]}"#;
    let (router, kernel) = kernel(config, store());
    let host = FakeHost::with(&[(":path", "/gone/x"), ("x-traffic-shift-cluster", "mine")]);
    let stream = kernel.on_request(&router, &host, Some(&mut SplitMix64::new(1)));
    assert!(stream.answered_locally);
    assert_eq!(*host.local_reply.borrow(), Some(500));
    let other = FakeHost::with(&[(":path", "/reviews")]);
    let stream = kernel.on_request(&router, &other, Some(&mut SplitMix64::new(1)));
    assert!(!stream.answered_locally && other.request_header("x-traffic-shift-cluster").is_some());
}

#[test]
fn build_information_and_seed() {
    let loaded = loaded_line(" as a dynamic module");
    assert!(
        loaded.starts_with(&format!("{VERSION} (commit ")),
        "{loaded}"
    );
    assert!(loaded.ends_with(") loaded as a dynamic module"), "{loaded}");
    let a = entropy_seed(|| None, |_| {});
    let b = entropy_seed(|| None, |_| {});
    assert_ne!(a, b, "from the OS, not the fallback");
}
