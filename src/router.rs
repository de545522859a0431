//! A compiled configuration and the per-request decision it makes.

use crate::authority_index::AuthorityIndex;
use crate::cohort::Cohort;
use crate::hosts::{self, HostSet};
use crate::matcher::MatchRule;
use crate::precedence::Precedence;
use crate::random::RandomSource;
use crate::request::{Attributes, Lookup, RequestSource};
use crate::rollout::Rollout;
use crate::sticky;
use crate::template::{Destination, PortHoles};
use crate::weighted::WeightedChoice;
use std::borrow::Cow;

/// The port of a request whose authority names none (or that has none): HTTP's default, what a
/// sidecar's outbound listener for a port-80 service receives.
pub const PORT_OF_AUTHORITY_WITHOUT_ONE: u16 = 80;

/// The header the filter sets when the configuration does not name one.
pub const DEFAULT_CLUSTER_HEADER: &str = "x-traffic-shift-cluster";

/// Where a sticky entry reads its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickyKey {
    Header { slot: usize },
    Cookie { cookie_header: usize, name: Vec<u8> },
}

/// One destination of an entry: where its traffic goes, and how much of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The rendered cluster name (with an empty port where the request's port goes: the name the
    /// stats carry).
    pub cluster: String,
    /// The name with holes for the request's port, when the destination has none and the template
    /// has `{port}`.
    pub port_holes: Option<PortHoles>,
    pub weight: u32,
    /// As configured (host, subset, port), for metric labels.
    pub destination: Destination,
    /// The cluster name's hash: its identity for sticky keys (rendezvous hashing).
    pub cluster_hash: u64,
    /// Its `version` extension (an HTTPRoute backendRef's), lining it up in a `sticky.cohort`.
    pub version: Option<String>,
}

impl Target {
    pub fn new(
        cluster: String,
        port_holes: Option<PortHoles>,
        weight: u32,
        destination: Destination,
    ) -> Self {
        let cluster_hash = sticky::fnv1a(cluster.as_bytes());
        Target {
            cluster,
            port_holes,
            weight,
            destination,
            cluster_hash,
            version: None,
        }
    }
}

/// One `http` entry: when it applies, and where its traffic goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub rule: MatchRule,
    pub sticky: Option<StickyKey>,
    /// `sticky.cohort`: the key places the user by the cohort's position, not by cluster names.
    pub cohort: Option<Cohort>,
    /// The destinations, in configuration order; at least one.
    pub targets: Vec<Target>,
    /// The index in [`Router::host_sets`] of the hosts this entry applies to (`None`: any).
    pub hosts: Option<usize>,
    /// The weighted choice over `targets`' weights; changed only with them ([`Entry::set_weights`]).
    pub choice: WeightedChoice,
    /// Compiled with the target (`route`) weights; a shell applies the weights in force.
    pub rollout: Option<Rollout>,
}

impl Entry {
    /// The destinations' cluster names, in order.
    pub fn clusters(&self) -> Vec<&str> {
        self.targets.iter().map(|t| t.cluster.as_str()).collect()
    }

    /// The destinations' weights, in order.
    pub fn weights(&self) -> Vec<u32> {
        self.targets.iter().map(|t| t.weight).collect()
    }

    /// Gives the destinations these weights (one each, in order), and the choice over them: the one
    /// place weights change. False (nothing changed) for the wrong count or all zero.
    pub fn set_weights(&mut self, weights: &[u32]) -> bool {
        if weights.len() != self.targets.len() {
            return false;
        }
        let Some(choice) = WeightedChoice::new(weights) else {
            return false;
        };
        for (target, weight) in self.targets.iter_mut().zip(weights) {
            target.weight = *weight;
        }
        self.choice = choice;
        true
    }

    /// The request's sticky key for this entry: its header's value or its cookie's; `None` when the
    /// entry is not sticky or the request carries no key.
    pub fn sticky_key<'r, S: RequestSource>(
        &self,
        request: &'r mut Lookup<'_, S>,
    ) -> Option<&'r [u8]> {
        match self.sticky.as_ref()? {
            StickyKey::Header { slot } => request.get(*slot),
            StickyKey::Cookie {
                cookie_header,
                name,
            } => sticky::cookie_value(request.get(*cookie_header)?, name),
        }
    }

    fn pick<S: RequestSource>(
        &self,
        request: &mut Lookup<'_, S>,
        random: &mut impl RandomSource,
    ) -> usize {
        if self.targets.len() > 1 {
            let by_key = self.sticky_key(request).and_then(|key| match &self.cohort {
                Some(cohort) => cohort.place(key, self.targets.as_slice()),
                None => {
                    let targets = self.targets.iter();
                    sticky::choose(key, targets.map(|t| (t.cluster_hash, t.weight)))
                }
            });
            if let Some(index) = by_key {
                return index;
            }
        }
        self.choice.pick(random)
    }
}

/// Which entry applied and which of its destinations was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub entry: usize,
    pub destination: usize,
    /// The request's port, for a destination whose cluster name takes it.
    pub port: Option<u16>,
}

/// The whole configuration, validated and compiled once, shared read-only by requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Router {
    pub cluster_header: String,
    pub response_header: Option<String>,
    /// The `hosts` lists entries apply to (one per VirtualService or HTTPRoute that has one).
    pub host_sets: Vec<HostSet>,
    /// The slot of `:authority`, when `hosts` or a cluster name needs it.
    pub authority: Option<usize>,
    /// The host set the entries pushed next apply to, while a configuration is compiled.
    pub scope: Option<usize>,
    pub entries: Vec<Entry>,
    /// Present when entries are keyed by exact authority (large configurations).
    pub authority_index: Option<AuthorityIndex>,
    /// The HTTPRoute shape: every rule's matches in Gateway API's precedence order; `None` keeps the
    /// VirtualService shape's first match in entry order.
    pub precedence: Option<Precedence>,
    pub attributes: Attributes,
}

impl Default for Router {
    /// The empty configuration: routes nothing (but still strips a client's cluster header).
    fn default() -> Self {
        Router {
            cluster_header: DEFAULT_CLUSTER_HEADER.to_string(),
            response_header: None,
            host_sets: Vec::new(),
            authority: None,
            scope: None,
            entries: Vec::new(),
            authority_index: None,
            precedence: None,
            attributes: Attributes::default(),
        }
    }
}

impl Router {
    /// Entries pushed from now on apply only to authorities in `hosts` (`None`: to any).
    pub fn scope_hosts(&mut self, hosts: Option<HostSet>) {
        self.scope = hosts.map(|set| {
            self.authority = Some(self.attributes.header(":authority"));
            self.host_sets.push(set);
            self.host_sets.len() - 1
        });
    }

    /// Whether entry `index` applies: its match rule, then (only then, so that a request no
    /// entry takes never pays for `:authority`) its hosts. `verdict` remembers the last host set
    /// checked, so the entries of one VirtualService read and test the authority once, and skip
    /// their rules once it failed.
    fn applies<S: RequestSource>(
        &self,
        index: usize,
        request: &mut Lookup<'_, S>,
        verdict: &mut Option<(usize, bool)>,
    ) -> bool {
        self.applies_with(index, request, verdict, MatchRule::applies)
    }

    /// [`Router::applies`] with the rule tested by `rule_holds` (all of it, or one match block).
    fn applies_with<S: RequestSource>(
        &self,
        index: usize,
        request: &mut Lookup<'_, S>,
        verdict: &mut Option<(usize, bool)>,
        rule_holds: impl FnOnce(&MatchRule, &mut Lookup<'_, S>) -> bool,
    ) -> bool {
        let Some(entry) = self.entries.get(index) else {
            return false;
        };
        if let (Some(set), Some((known, false))) = (entry.hosts, *verdict) {
            if set == known {
                return false;
            }
        }
        if !rule_holds(&entry.rule, request) {
            return false;
        }
        let Some(set) = entry.hosts else {
            return true;
        };
        match *verdict {
            Some((known, matched)) if known == set => matched,
            _ => {
                let matched = match (self.host_sets.get(set), self.authority) {
                    (Some(hosts), Some(slot)) => {
                        request.get(slot).is_some_and(|a| hosts.matches(a))
                    }
                    _ => false,
                };
                *verdict = Some((set, matched));
                matched
            }
        }
    }

    pub fn decide<S: RequestSource>(
        &self,
        source: &S,
        random: &mut impl RandomSource,
    ) -> Option<Decision> {
        if self.entries.is_empty() {
            return None;
        }
        let mut request = Lookup::new(source, &self.attributes);
        let mut verdict = None;
        let found = match (&self.precedence, &self.authority_index) {
            // Gateway API: the first match that holds, in the order compiled once.
            (Some(precedence), _) => precedence.order.iter().find_map(|ranked| {
                let block = |rule: &MatchRule, request: &mut Lookup<'_, S>| {
                    rule.block_applies(ranked.block, request)
                };
                self.applies_with(ranked.entry, &mut request, &mut verdict, block)
                    .then_some(ranked.entry)
            }),
            (None, Some(index)) => {
                let mut candidates = index.candidates(request.get(index.slot));
                candidates.find(|i| self.applies(*i, &mut request, &mut verdict))
            }
            (None, None) => {
                (0..self.entries.len()).find(|i| self.applies(*i, &mut request, &mut verdict))
            }
        }?;
        let entry = self.entries.get(found)?;
        let destination = entry.pick(&mut request, random);
        let takes_port = entry
            .targets
            .get(destination)
            .is_some_and(|t| t.port_holes.is_some());
        let port = if takes_port {
            match request.get(self.authority?) {
                // The port the request was sent to; one that is not a port decides nothing.
                Some(authority) => match hosts::authority(authority)?.port {
                    Some(port) => Some(hosts::port_number(port)?),
                    None => Some(PORT_OF_AUTHORITY_WITHOUT_ONE),
                },
                None => Some(PORT_OF_AUTHORITY_WITHOUT_ONE),
            }
        } else {
            None
        };
        Some(Decision {
            entry: found,
            destination,
            port,
        })
    }

    /// How many entries the configuration has, in its shape's words, for log lines: `3 http entries`
    /// (the VirtualService shape) or `3 HTTPRoute rules`.
    pub fn describe_entries(&self) -> String {
        let count = self.entries.len();
        let what = match (self.precedence.is_some(), count) {
            (false, 1) => "http entry",
            (false, _) => "http entries",
            (true, 1) => "HTTPRoute rule",
            (true, _) => "HTTPRoute rules",
        };
        format!("{count} {what}")
    }

    /// A Gateway API rule without backendRefs took the request: the filter answers 500 itself.
    pub fn has_no_backend(&self, decision: Decision) -> bool {
        self.entries
            .get(decision.entry)
            .is_some_and(|entry| entry.targets.is_empty())
    }

    /// The cluster name of a decision: rendered once at configure time, or, for a destination
    /// that takes the request's port, filled in now.
    pub fn cluster(&self, decision: Decision) -> Option<Cow<'_, str>> {
        let target = self
            .entries
            .get(decision.entry)?
            .targets
            .get(decision.destination)?;
        if let (Some(holes), Some(port)) = (&target.port_holes, decision.port) {
            return Some(Cow::Owned(holes.fill(port)));
        }
        Some(Cow::Borrowed(target.cluster.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::random::SplitMix64;
    use crate::test_kit::{FakeRequest, REALISTIC};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The cluster chosen and the headers fetched, in order.
    fn decide(
        config: &str,
        headers: &[(&'static str, &'static [u8])],
    ) -> (Option<String>, Vec<String>) {
        let router = parse(config.as_bytes()).unwrap();
        let request = FakeRequest::new(headers);
        let decision = router.decide(&request, &mut SplitMix64::new(7));
        let cluster = decision.and_then(|d| router.cluster(d)).map(String::from);
        (cluster, request.fetched())
    }

    /// The realistic configuration's 50/50 split.
    const V1: &str = "outbound|9080|v1|reviews.default.svc.cluster.local";
    const V3: &str = "outbound|9080|v3|reviews.default.svc.cluster.local";

    /// What an ordinary request (below) makes the realistic config read, in order.
    const REALISTIC_READS: [&str; 5] = [
        "end-user",
        "x-canary",
        "x-canary-group",
        ":path",
        ":authority",
    ];

    const ORDINARY: &[(&str, &[u8])] = &[
        (":authority", b"reviews:9080"),
        (":path", b"/reviews/0"),
        (":method", b"GET"),
    ];

    #[test]
    fn an_ordinary_request_reads_three_absent_headers_and_two_values() {
        let (cluster, fetched) = decide(REALISTIC, ORDINARY);
        assert!(matches!(cluster.as_deref(), Some(V1 | V3)), "{cluster:?}");
        // No `:method`: the POST block fails on `:path`, already fetched by the `/admin` block.
        assert_eq!(fetched, REALISTIC_READS);
    }

    #[test]
    fn hosts_is_checked_after_the_entries_and_still_refuses_other_authorities() {
        let other: &[(&str, &[u8])] = &[(":authority", b"ratings"), (":path", b"/admin")];
        let (cluster, fetched) = decide(REALISTIC, other);
        assert_eq!(cluster, None);
        assert_eq!(fetched, REALISTIC_READS);
        let no_entry_takes_it = r#"{"hosts": ["reviews"], "clusterName": "{subset}", "http": [
            {"name": "jason", "match": [{"headers": {"end-user": {"exact": "jason"}}}],
             "route": [{"destination": {"host": "reviews", "subset": "v2"}}]}]}"#;
        assert_eq!(
            decide(no_entry_takes_it, ORDINARY),
            (None, vec!["end-user".to_string()])
        );
        let jason: &[(&str, &[u8])] = &[(":authority", b"reviews"), ("end-user", b"jason")];
        assert_eq!(decide(no_entry_takes_it, jason).0.as_deref(), Some("v2"));
    }

    #[test]
    fn entries_are_counted_in_their_shapes_words() {
        let router = |config: &str| parse(config.as_bytes()).unwrap();
        assert_eq!(router(REALISTIC).describe_entries(), "4 http entries");
        assert_eq!(router("{}").describe_entries(), "0 http entries");
        let one_rule = r#"{"rules": [{"backendRefs": [{"name": "reviews-v1", "port": 9080}]}]}"#;
        assert_eq!(router(one_rule).describe_entries(), "1 HTTPRoute rule");
        let vs_one = r#"{"http": [{"route": [{"destination": {"host": "reviews"}}]}]}"#;
        assert_eq!(router(vs_one).describe_entries(), "1 http entry");
    }

    #[test]
    fn an_authority_read_by_the_index_is_not_read_again_for_hosts() {
        let config = r#"{"hosts": ["svc-1"], "clusterName": "{subset}", "http": [
            {"name": "a", "match": [{"authority": {"exact": "svc-0"}}], "route": [{"destination": {"host": "a", "subset": "v1"}}]},
            {"name": "b", "match": [{"authority": {"exact": "svc-1"}}], "route": [{"destination": {"host": "b", "subset": "v2"}}]}]}"#;
        let (cluster, fetched) = decide(config, &[(":authority", b"svc-1")]);
        assert_eq!(cluster.as_deref(), Some("v2"));
        assert_eq!(fetched, [":authority"]);
    }
}
