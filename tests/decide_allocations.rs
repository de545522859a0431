//! `Router::decide` allocates nothing of its own: the only heap memory a request costs is the header
//! values the host hands over (the proxy-wasm ABI copies each into the module's allocator). Counted
//! with a global allocator that counts this thread's allocations while a decision runs, on a request
//! whose values are built before counting starts and moved out when the decision asks for them.

// Test code: a failed expectation is reported by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use traffic_shift::config::parse;
use traffic_shift::random::SplitMix64;
use traffic_shift::request::{RequestSource, INLINE_ATTRIBUTES};
use traffic_shift::router::Router;
use traffic_shift::test_kit::REALISTIC;

/// The system allocator, counting allocations (and reallocations) per thread, so tests running in
/// parallel do not see each other's.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: a thread being torn down still allocates, and must not panic here.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_during<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let result = work();
    (result, ALLOCATIONS.with(Cell::get) - before)
}

/// A request whose values already exist: each is handed over (moved, not copied) the first time it
/// is asked for, as the host hands over a value it has copied into the module. `@route` is the
/// route name.
struct HandedOver {
    values: RefCell<Vec<(&'static str, Value)>>,
}

/// A value not yet handed over, or `None` once it has been.
type Value = Option<Vec<u8>>;

/// Header names (and `@route`) with their values.
type Request<'a> = &'a [(&'static str, &'a [u8])];

impl HandedOver {
    fn new(pairs: Request) -> Self {
        let values = pairs.iter().map(|(k, v)| (*k, Some(v.to_vec()))).collect();
        HandedOver {
            values: RefCell::new(values),
        }
    }

    fn hand_over(&self, name: &str) -> Option<Vec<u8>> {
        let mut values = self.values.borrow_mut();
        let (_, value) = values.iter_mut().find(|(known, _)| *known == name)?;
        // A second request for one value would be a second host call: the memo must prevent it.
        Some(
            value
                .take()
                .unwrap_or_else(|| panic!("{name} fetched twice")),
        )
    }
}

impl RequestSource for HandedOver {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.hand_over(name).map(Cow::Owned)
    }

    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        self.hand_over("@route").map(Cow::Owned)
    }
}

/// The decision's entry name (None: no entry applies) and the allocations `decide` made.
fn decide(router: &Router, request: Request) -> (Option<String>, usize) {
    let source = HandedOver::new(request);
    let mut random = SplitMix64::new(7);
    let (decision, allocations) = allocations_during(|| router.decide(&source, &mut random));
    let entry = decision.map(|d| router.entries[d.entry].name.clone());
    (entry, allocations)
}

fn router(config: &str) -> Router {
    parse(config.as_bytes()).unwrap()
}

/// A request as text, for failure messages.
fn describe(request: Request) -> String {
    let pairs: Vec<String> = request
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value)))
        .collect();
    pairs.join(", ")
}

/// Asserts each (request, entry it reaches) pair: that entry, and no allocation.
fn assert_allocation_free(router: &Router, cases: &[(Request, Option<&str>)]) {
    for (request, expected) in cases {
        let (entry, allocations) = decide(router, request);
        let request = describe(request);
        assert_eq!(entry.as_deref(), *expected, "{request}");
        assert_eq!(allocations, 0, "allocations deciding {request}");
    }
}

#[test]
fn the_counter_counts_this_threads_allocations() {
    let (_, allocations) = allocations_during(|| std::hint::black_box(vec![1u8; 3]));
    assert_eq!(allocations, 1);
}

#[test]
fn the_realistic_configuration_decides_without_allocating() {
    let ordinary: &[(&str, &[u8])] = &[(":authority", b"reviews:9080"), (":path", b"/reviews/0")];
    assert_allocation_free(
        &router(REALISTIC),
        &[
            (ordinary, Some("reviews-shift")),
            (
                &[
                    (":authority", b"REVIEWS.Default.svc.cluster.local:9080"),
                    (":path", b"/reviews/0"),
                ],
                Some("reviews-shift"),
            ),
            (
                &[(":authority", b"reviews"), ("end-user", b"jason")],
                Some("jason-sees-v2"),
            ),
            (
                &[
                    (":authority", b"reviews"),
                    (":path", b"/reviews/1"),
                    ("x-canary", b"always"),
                ],
                Some("canary-testers"),
            ),
            (
                &[
                    (":authority", b"reviews"),
                    (":path", b"/reviews/debug"),
                    (":method", b"POST"),
                ],
                Some("admin-api"),
            ),
            (
                &[(":authority", b"ratings:9080"), (":path", b"/reviews/0")],
                None,
            ),
            (
                &[(":authority", b"reviews.example.com:9080"), (":path", b"/")],
                None,
            ),
            (&[(":path", b"/reviews/0")], None),
        ],
    );
}

#[test]
fn hostnames_wildcards_and_the_http_route_shape_decide_without_allocating() {
    let config = r#"{"hostnames": ["reviews.default.svc.cluster.local", "*.Example.com"], "rules": [
        {"name": "shift", "backendRefs": [{"name": "reviews-v1", "port": 9080, "weight": 50},
                                          {"name": "reviews-v3", "port": 9080, "weight": 50}]}]}"#;
    assert_allocation_free(
        &router(config),
        &[
            (&[(":authority", b"reviews.default:9080")], Some("shift")),
            (&[(":authority", b"API.example.COM:443")], Some("shift")),
            (&[(":authority", b"[::1]:8080")], None),
            (&[(":authority", b"example.com")], None),
        ],
    );
}

#[test]
fn sticky_choices_decide_without_allocating() {
    let config = r#"{"http": [
        {"name": "by-header", "match": [{"uri": {"prefix": "/h"}}], "sticky": {"header": "x-user-id"},
         "route": [{"destination": {"host": "r", "subset": "v1"}, "weight": 90},
                   {"destination": {"host": "r", "subset": "v3"}, "weight": 10}]},
        {"name": "by-cookie", "sticky": {"cookie": "user"},
         "route": [{"destination": {"host": "r", "subset": "v1"}, "weight": 90},
                   {"destination": {"host": "r", "subset": "v3"}, "weight": 10}]}]}"#;
    assert_allocation_free(
        &router(config),
        &[
            (
                &[(":path", b"/h"), ("x-user-id", b"alice")],
                Some("by-header"),
            ),
            (&[(":path", b"/h")], Some("by-header")),
            (
                &[(":path", b"/c"), ("cookie", b"a=1; user=\"bob\"")],
                Some("by-cookie"),
            ),
            (&[(":path", b"/c"), ("cookie", b"a=1")], Some("by-cookie")),
        ],
    );
}

#[test]
fn authority_indexed_configurations_decide_without_allocating() {
    // bench/plugin_configs.py's authority_entries(50): entry i applies to authority svc-<i> only.
    let entries: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"{{"name": "svc-{i}", "match": [{{"authority": {{"exact": "svc-{i}"}}}}],
                   "route": [{{"destination": {{"host": "r", "subset": "v1"}}, "weight": 50}},
                             {{"destination": {{"host": "r", "subset": "v3"}}, "weight": 50}}]}}"#
            )
        })
        .collect();
    let config = format!(r#"{{"hosts": ["*"], "http": [{}]}}"#, entries.join(","));
    let router = router(&config);
    assert!(router.authority_index.is_some());
    assert_allocation_free(
        &router,
        &[
            (&[(":authority", b"svc-49")], Some("svc-49")),
            (&[(":authority", b"svc-0")], Some("svc-0")),
            (&[(":authority", b"svc-50")], None),
        ],
    );
}

#[test]
fn other_conditions_decide_without_allocating() {
    let config = r#"{"http": [
        {"name": "query", "match": [{"queryParams": {"user": {"exact": "jason"}, "debug": {}}}],
         "route": [{"destination": {"host": "r", "subset": "v2"}}]},
        {"name": "case", "match": [{"uri": {"prefix": "/API/"}, "ignoreUriCase": true,
                                    "withoutHeaders": {"x-skip": {}}, "routeName": {"exact": "main"}}],
         "route": [{"destination": {"host": "r", "subset": "v3"}}]},
        {"name": "regex", "match": [{"headers": {"x-version": {"regex": "v[0-9]+"}}}],
         "route": [{"destination": {"host": "r", "subset": "v1"}}]}]}"#;
    let router = router(config);
    // The regex engine builds its matching cache on first use and reuses it after (per thread).
    decide(&router, &[("x-version", b"v0")]);
    assert_allocation_free(
        &router,
        &[
            (&[(":path", b"/p?a=1&user=jason&debug")], Some("query")),
            (&[(":path", b"/p?user=jason&debug=")], Some("query")),
            // Compared as sent, as Envoy does: an escaped name or value is another name or value.
            (&[(":path", b"/p?u%73er=jason&debug")], None),
            (&[(":path", b"/p?user=j%61son&debug")], None),
            (&[(":path", b"/api/v1"), ("@route", b"main")], Some("case")),
            (
                &[(":path", b"/api/v1"), ("@route", b"main"), ("x-skip", b"1")],
                None,
            ),
            (&[(":path", b"/"), ("x-version", b"v12")], Some("regex")),
            (&[(":path", b"/"), ("x-version", b"v1x")], None),
        ],
    );
}

#[test]
fn a_configuration_reading_many_attributes_allocates_one_memo() {
    let headers: Vec<String> = (0..=INLINE_ATTRIBUTES)
        .map(|i| format!(r#""x-{i}": {{}}"#))
        .collect();
    let config = format!(
        r#"{{"http": [{{"name": "many", "match": [{{"withoutHeaders": {{{}}}}}],
            "route": [{{"destination": {{"host": "r"}}}}]}}]}}"#,
        headers.join(",")
    );
    let router = router(&config);
    assert!(router.attributes.len() > INLINE_ATTRIBUTES);
    assert_eq!(decide(&router, &[]), (Some("many".to_string()), 1));
    assert_eq!(decide(&router, &[("x-3", b"")]), (None, 1));
}
