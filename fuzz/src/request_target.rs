//! Fuzz entry for the request path: the rich configurations (both shapes), compiled once, decide on
//! requests whose headers and route name are arbitrary bytes; the byte helpers under them see the same
//! values.

use crate::checks::{check_decision, check_router};
use crate::cursor::Cursor;
use crate::regex_target::regex_path;
use crate::rich_config::{REQUEST_HEADERS, RICH_CONFIG, RICH_GATEWAY_CONFIG};
use crate::sources::WholeMap;
use std::sync::OnceLock;
use traffic_shift::header_block::HeaderBlock;
use traffic_shift::hosts::{authority, authority_port, HostContext, HostSet, Written};
use traffic_shift::random::SplitMix64;
use traffic_shift::request::{path_only, query_param};
use traffic_shift::router::{Decision, Router};
use traffic_shift::sticky::cookie_value;
use traffic_shift::test_kit::FakeRequest;

fn compiled(config: &str) -> Router {
    let router = traffic_shift::config::parse(config.as_bytes())
        .unwrap_or_else(|e| panic!("the rich configuration must be valid: {e}"));
    check_router(&router);
    router
}

/// The rich configuration, compiled once per process.
pub fn rich_router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| compiled(RICH_CONFIG))
}

/// The rich HTTPRoute-shaped configuration, compiled once per process.
pub fn rich_gateway_router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| compiled(RICH_GATEWAY_CONFIG))
}

/// Input: an 8-byte seed, then one `Cursor::field` per name in REQUEST_HEADERS, then the route name,
/// then (optionally) a regex pattern and a value for the regex path alone.
/// Returns each rich router's decision (VirtualService shape, HTTPRoute shape).
pub fn request(data: &[u8]) -> [Option<Decision>; 2] {
    let mut cursor = Cursor::new(data);
    let seed = cursor.u64();
    let mut headers = Vec::with_capacity(REQUEST_HEADERS.len());
    for name in REQUEST_HEADERS {
        if let Some(value) = cursor.field() {
            headers.push((name, value));
        }
    }
    let request = FakeRequest::new(&headers).with_route_name(cursor.field());
    regex_path(&mut cursor);
    let decisions = [
        check_decision(rich_router(), &request, seed),
        check_decision(rich_gateway_router(), &request, seed),
    ];
    // Reading the headers from the whole map, as the proxy-wasm shell may, decides the same.
    let whole_map = WholeMap::of(&request);
    for (router, decision) in [rich_router(), rich_gateway_router()]
        .into_iter()
        .zip(decisions)
    {
        assert_eq!(
            router.decide(&whole_map, &mut SplitMix64::new(seed)),
            decision
        );
    }
    // Whatever bytes a host hands over as a header map read as some pairs, never a panic.
    let _ = HeaderBlock::new(data).pairs().count();
    for (_, value) in request.headers() {
        check_byte_helpers(value);
    }
    decisions
}

/// The helpers decide() uses on raw header bytes, with the properties the matchers rely on.
fn check_byte_helpers(value: &[u8]) {
    assert!(value.starts_with(path_only(value)));
    if let Some(decoded) = query_param(value, b"canary") {
        assert!(decoded.len() < value.len());
    }
    if let Some(cookie) = cookie_value(value, b"user") {
        // A subslice of the header, never a copy or a read past it.
        let range = value.as_ptr_range();
        assert!(range.contains(&cookie.as_ptr()) || cookie.is_empty());
    }
    if let Some(parsed) = authority(value) {
        assert!(parsed.host.len() <= value.len());
        if let Some(port) = parsed.port {
            assert!(port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()));
        }
    }
    if let Some(port) = authority_port(value) {
        assert!(port > 0);
    }
    check_short_host(value);
}

/// A short name matches only the forms a sidecar lists for the service, whatever the bytes.
fn check_short_host(value: &[u8]) {
    static HOSTS: OnceLock<HostSet> = OnceLock::new();
    let hosts = HOSTS.get_or_init(|| {
        let mut hosts = HostSet::default();
        let _ = hosts.add("reviews", &HostContext::default(), &mut Written::default());
        hosts
    });
    if hosts.matches(value) {
        let parsed = authority(value).map(|a| (a.host.to_ascii_lowercase(), a.absolute));
        let forms = [
            "reviews",
            "reviews.default",
            "reviews.default.svc",
            "reviews.default.svc.cluster.local",
        ];
        assert!(
            parsed.is_some_and(|(host, absolute)| forms.contains(&host.as_str())
                && (!absolute || host == forms[3])),
            "{:?} must not match the short name reviews",
            String::from_utf8_lossy(value)
        );
    }
}
