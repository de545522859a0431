//! A compiled configuration and the per-request decision it makes.

use crate::authority_index::AuthorityIndex;
use crate::hosts::HostSet;
use crate::matcher::MatchRule;
use crate::random::RandomSource;
use crate::request::{Attributes, Lookup, RequestSource};
use crate::sticky;
use crate::template::Destination;
use crate::weighted::WeightedChoice;

/// The header the filter sets when the configuration does not name one.
pub const DEFAULT_CLUSTER_HEADER: &str = "x-traffic-shift-cluster";

/// Where a sticky entry reads its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickyKey {
    Header { slot: usize },
    Cookie { cookie_header: usize, name: Vec<u8> },
}

/// One `http` entry: when it applies, and where its traffic goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub rule: MatchRule,
    pub sticky: Option<StickyKey>,
    /// Rendered cluster names, one per destination.
    pub clusters: Vec<String>,
    pub weights: Vec<u32>,
    /// The destinations as configured (host, subset, port), for metric labels.
    pub destinations: Vec<Destination>,
    pub cluster_hashes: Vec<u64>,
    pub choice: WeightedChoice,
}

impl Entry {
    fn sticky_key<'r, S: RequestSource>(&self, request: &'r mut Lookup<'_, S>) -> Option<&'r [u8]> {
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
        if self.clusters.len() > 1 {
            let by_key = self
                .sticky_key(request)
                .and_then(|key| sticky::choose(key, &self.cluster_hashes, &self.weights));
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
}

/// The whole configuration, validated and compiled once, shared read-only by requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Router {
    pub cluster_header: String,
    pub response_header: Option<String>,
    /// The top-level `hosts` and the slot of `:authority`.
    pub hosts: Option<(HostSet, usize)>,
    pub entries: Vec<Entry>,
    /// Present when entries are keyed by exact authority (large configurations).
    pub authority_index: Option<AuthorityIndex>,
    pub attributes: Attributes,
}

impl Default for Router {
    /// The empty configuration: routes nothing (but still strips a client's cluster header).
    fn default() -> Self {
        Router {
            cluster_header: DEFAULT_CLUSTER_HEADER.to_string(),
            response_header: None,
            hosts: None,
            entries: Vec::new(),
            authority_index: None,
            attributes: Attributes::default(),
        }
    }
}

impl Router {
    pub fn decide<S: RequestSource>(
        &self,
        source: &S,
        random: &mut impl RandomSource,
    ) -> Option<Decision> {
        if self.entries.is_empty() {
            return None;
        }
        let mut request = Lookup::new(source, &self.attributes);
        if let Some((hosts, authority)) = &self.hosts {
            if !request.get(*authority).is_some_and(|a| hosts.matches(a)) {
                return None;
            }
        }
        let applies = |index: &usize, request: &mut Lookup<'_, S>| {
            self.entries
                .get(*index)
                .is_some_and(|entry| entry.rule.applies(request))
        };
        let found = match &self.authority_index {
            Some(index) => {
                let mut candidates = index.candidates(request.get(index.slot));
                candidates.find(|i| applies(i, &mut request))
            }
            None => (0..self.entries.len()).find(|i| applies(i, &mut request)),
        }?;
        let entry = self.entries.get(found)?;
        Some(Decision {
            entry: found,
            destination: entry.pick(&mut request, random),
        })
    }

    pub fn cluster(&self, decision: Decision) -> Option<&str> {
        self.entries
            .get(decision.entry)?
            .clusters
            .get(decision.destination)
            .map(String::as_str)
    }
}
