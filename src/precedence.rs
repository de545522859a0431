//! Gateway API's match precedence, compiled once: every match of every rule of every HTTPRoute gets a
//! rank ([`MatchRank`], then its route's place, rule and match index), the matches are sorted by it,
//! and a request takes the first one that holds. Nothing is ranked per request.
//!
//! The order (`apis/v1/httproute_types.go`): an `Exact` path before any `PathPrefix`, a longer prefix
//! before a shorter one, then a `method` match, then more header matches, then more query-parameter
//! matches; across routes the oldest route, then `{namespace}/{name}`; then rule order. The spec leaves
//! `RegularExpression` paths to the implementation: as Istio does, they come after every prefix,
//! longer expression first.

use std::cmp::Reverse;

/// How a match's path is compared, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathKind {
    Exact,
    Prefix,
    RegularExpression,
}

/// What Gateway API ranks a match by; `Ord` puts the match that takes precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchRank {
    pub path: PathKind,
    /// Characters of the path value as written (`/` for a match without a path).
    pub path_len: usize,
    pub method: bool,
    pub headers: usize,
    pub query_params: usize,
}

impl MatchRank {
    /// A rule without matches, or a match without a path: Gateway API's default, `PathPrefix` `/`.
    pub const DEFAULT: MatchRank = MatchRank {
        path: PathKind::Prefix,
        path_len: 1,
        method: false,
        headers: 0,
        query_params: 0,
    };

    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        PathKind,
        Reverse<usize>,
        bool,
        Reverse<usize>,
        Reverse<usize>,
    ) {
        (
            self.path,
            Reverse(self.path_len),
            !self.method,
            Reverse(self.headers),
            Reverse(self.query_params),
        )
    }
}

impl PartialOrd for MatchRank {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MatchRank {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// One match as the request path tries it: the entry (rule) it selects and which of the entry's
/// match blocks it is (none for a rule without matches). The entry's own `hosts` (its route's
/// `hostnames`) are checked by the router after the match, as for every entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranked {
    pub entry: usize,
    pub block: Option<usize>,
}

/// A match before sorting: its rank, then the tie-breakers, all fixed at compile time.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub rank: MatchRank,
    /// The route's place among the configuration's routes (oldest, then namespace/name, then as given).
    pub route: usize,
    pub rule: usize,
    pub index: usize,
    pub ranked: Ranked,
}

/// Every match of the HTTPRoute shape, in precedence order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Precedence {
    pub order: Vec<Ranked>,
}

impl Precedence {
    /// Sorts the candidates by precedence; ties keep route, rule and match order.
    pub fn compile(mut candidates: Vec<Candidate>) -> Self {
        candidates.sort_by_key(|c| (c.rank, c.route, c.rule, c.index));
        Precedence {
            order: candidates.into_iter().map(|c| c.ranked).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn rank(
        path: PathKind,
        path_len: usize,
        method: bool,
        headers: usize,
        query: usize,
    ) -> MatchRank {
        MatchRank {
            path,
            path_len,
            method,
            headers,
            query_params: query,
        }
    }

    #[test]
    fn the_spec_order_of_one_match_over_another() {
        use PathKind::*;
        // Each rank takes precedence over the next, for the reason in its comment.
        let ordered = [
            rank(Exact, 1, false, 0, 0),   // Exact before any prefix, however long
            rank(Prefix, 10, false, 0, 0), // a longer prefix first
            rank(Prefix, 4, true, 0, 0),   // a method match first
            rank(Prefix, 4, false, 3, 0),  // more headers first
            rank(Prefix, 4, false, 2, 5),  // more query parameters first
            rank(Prefix, 4, false, 2, 4),  // ...
            MatchRank::DEFAULT,            // `/` is the shortest prefix
            rank(RegularExpression, 30, true, 9, 9), // every regex after every prefix
            rank(RegularExpression, 5, false, 0, 0), // a longer expression first
        ];
        for pair in ordered.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{:?} must come before {:?}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn ties_keep_route_then_rule_then_match_order() {
        let candidate = |route, rule, index, entry| Candidate {
            rank: MatchRank::DEFAULT,
            route,
            rule,
            index,
            ranked: Ranked { entry, block: None },
        };
        let compiled = Precedence::compile(vec![
            candidate(1, 0, 0, 10),
            candidate(0, 1, 0, 1),
            candidate(0, 0, 1, 0),
            candidate(0, 0, 0, 0),
        ]);
        let entries: Vec<usize> = compiled.order.iter().map(|r| r.entry).collect();
        assert_eq!(entries, [0, 0, 1, 10]);
    }
}
