//! What must hold for any input: the properties the fuzz targets assert beyond "no panic".

use crate::sources::Uniform;
use traffic_shift::config::{self, ConfigError};
use traffic_shift::random::SplitMix64;
use traffic_shift::request::{Lookup, RequestSource};
use traffic_shift::router::{Decision, Router};
use traffic_shift::sticky;

const ERROR_PREFIX: &str = "invalid configuration at ";

/// Parses `bytes` and checks the result either way; returns the router when the input was valid.
pub fn parse_and_check(bytes: &[u8]) -> Option<Router> {
    match config::parse(bytes) {
        Ok(router) => {
            check_router(&router);
            // Compilation is a pure function of the bytes.
            assert_eq!(
                config::parse(bytes).as_ref(),
                Ok(&router),
                "parse is not deterministic"
            );
            for source in [Uniform(None), Uniform(Some(b"")), Uniform(Some(bytes))] {
                check_decision(&router, &source, bytes.len() as u64);
            }
            Some(router)
        }
        Err(error) => {
            check_error(&error, bytes);
            None
        }
    }
}

/// The error is the single log line Envoy shows, and its size follows the input's.
fn check_error(error: &ConfigError, bytes: &[u8]) {
    let line = error.to_string();
    assert!(line.starts_with(ERROR_PREFIX), "{line:?}");
    assert!(
        !line.contains(['\n', '\r']),
        "the error must be one log line: {line:?}"
    );
    assert!(
        line.len() <= 8 * bytes.len() + 1024,
        "error of {} bytes for {} input bytes",
        line.len(),
        bytes.len()
    );
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

/// A header the filter writes: a lowercase token, never a pseudo-header or Host.
fn check_writable_header(name: &str) {
    assert!(
        is_token(name) && name != "host",
        "filter would write header {name:?}"
    );
}

/// A compiled configuration is internally consistent: everything `decide` and the shell index exists.
pub fn check_router(router: &Router) {
    check_writable_header(&router.cluster_header);
    if let Some(header) = &router.response_header {
        check_writable_header(header);
    }
    for (index, entry) in router.entries.iter().enumerate() {
        assert!(!entry.name.is_empty(), "entry {index} has no name");
        assert!(
            router.entries[..index].iter().all(|e| e.name != entry.name),
            "duplicate entry name {:?}",
            entry.name
        );
        assert!(
            !entry.targets.is_empty(),
            "entry {:?} has no destination",
            entry.name
        );
        let total: u64 = entry.targets.iter().map(|t| u64::from(t.weight)).sum();
        assert!(total > 0, "entry {:?} has only zero weights", entry.name);
        assert_eq!(entry.choice.total(), total);
        for target in &entry.targets {
            let cluster = &target.cluster;
            // The cluster name becomes a header value Envoy routes on.
            assert!(
                !cluster.is_empty() && cluster.bytes().all(|b| b.is_ascii_graphic()),
                "cluster name {cluster:?} is not a clean header value"
            );
            assert_eq!(target.cluster_hash, sticky::fnv1a(cluster.as_bytes()));
        }
    }
}

/// The sticky key `decide` reads for an entry, when the request has one.
fn sticky_key<S: RequestSource>(router: &Router, entry: usize, source: &S) -> Option<Vec<u8>> {
    let mut lookup = Lookup::new(source, &router.attributes);
    let entry = router.entries.get(entry)?;
    entry.sticky_key(&mut lookup).map(<[u8]>::to_vec)
}

/// Decides twice with different randomness: the entry never depends on it, the destination exists and
/// has a positive weight, and a sticky key pins the destination to its rendezvous choice.
pub fn check_decision<S: RequestSource>(
    router: &Router,
    source: &S,
    seed: u64,
) -> Option<Decision> {
    let first = router.decide(source, &mut SplitMix64::new(seed));
    let second = router.decide(source, &mut SplitMix64::new(!seed));
    assert_eq!(
        first.map(|d| d.entry),
        second.map(|d| d.entry),
        "which entry applies must not depend on randomness"
    );
    for decision in [first, second].into_iter().flatten() {
        let entry = &router.entries[decision.entry];
        assert!(
            decision.destination < entry.targets.len(),
            "{decision:?} out of range"
        );
        assert!(
            entry.targets[decision.destination].weight > 0,
            "{decision:?} picked a zero weight"
        );
        let target = &entry.targets[decision.destination];
        let takes_port = target.port_holes.is_some();
        assert_eq!(takes_port, decision.port.is_some(), "{decision:?}");
        let cluster = router.cluster(decision);
        if !takes_port {
            assert_eq!(cluster.as_deref(), Some(target.cluster.as_str()));
        }
        assert!(cluster.is_some_and(|c| !c.is_empty()));
    }
    if let Some(decision) = first {
        if entry_has_choice(router, decision.entry) {
            if let Some(key) = sticky_key(router, decision.entry, source) {
                let entry = &router.entries[decision.entry];
                let pinned = match &entry.cohort {
                    Some(cohort) => cohort.place(&key, entry.targets.as_slice()),
                    None => sticky::choose(
                        &key,
                        entry.targets.iter().map(|t| (t.cluster_hash, t.weight)),
                    ),
                };
                assert_eq!(
                    Some(decision.destination),
                    pinned,
                    "sticky key {key:?} not honoured"
                );
                assert_eq!(second.map(|d| d.destination), pinned);
            }
        }
    }
    first
}

fn entry_has_choice(router: &Router, entry: usize) -> bool {
    router
        .entries
        .get(entry)
        .is_some_and(|e| e.targets.len() > 1)
}
