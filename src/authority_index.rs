//! Entries keyed by exact authority, so a request only visits the entries that can apply to it.
//!
//! An entry is keyed when every one of its match blocks requires an exact `authority`; its keys
//! are those authorities. Other entries are visited for every request. Visiting keyed and unkeyed
//! entries in ascending index order keeps Istio's first-match semantics.

use crate::matcher::{Condition, MatchRule};
use crate::string_match::StringMatch;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorityIndex {
    /// The `:authority` attribute slot.
    pub slot: usize,
    by_authority: BTreeMap<Vec<u8>, Vec<usize>>,
    unkeyed: Vec<usize>,
}

/// The exact authorities a rule requires, or `None` if some request of any authority may match.
fn keys(rule: &MatchRule, slot: usize) -> Option<Vec<&[u8]>> {
    if rule.blocks.is_empty() {
        return None;
    }
    rule.blocks
        .iter()
        .map(|block| {
            block.iter().find_map(|condition| match condition {
                Condition::Value {
                    slot: s,
                    matcher: StringMatch::Exact(value),
                } if *s == slot => Some(value.as_slice()),
                _ => None,
            })
        })
        .collect()
}

impl AuthorityIndex {
    /// Over the entries' rules, in entry order; worth building only when some are keyed.
    pub fn build<'a>(rules: impl IntoIterator<Item = &'a MatchRule>, slot: usize) -> Option<Self> {
        let mut index = AuthorityIndex {
            slot,
            ..Default::default()
        };
        for (position, rule) in rules.into_iter().enumerate() {
            match keys(rule, slot) {
                Some(authorities) => {
                    for authority in authorities {
                        let list = index.by_authority.entry(authority.to_vec()).or_default();
                        if list.last() != Some(&position) {
                            list.push(position);
                        }
                    }
                }
                None => index.unkeyed.push(position),
            }
        }
        (!index.by_authority.is_empty()).then_some(index)
    }

    /// Entry indexes that may apply to a request with this authority, in ascending order.
    pub fn candidates<'a>(&'a self, authority: Option<&[u8]>) -> impl Iterator<Item = usize> + 'a {
        let keyed = authority
            .and_then(|a| self.by_authority.get(a))
            .map_or(&[][..], Vec::as_slice);
        merge_sorted(keyed, &self.unkeyed)
    }
}

/// The union of two ascending lists, ascending.
fn merge_sorted<'a>(a: &'a [usize], b: &'a [usize]) -> impl Iterator<Item = usize> + 'a {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x <= y => a.next().copied(),
        (_, Some(_)) => b.next().copied(),
        (Some(_), None) => a.next().copied(),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn merges_in_order() {
        let merged: Vec<usize> = merge_sorted(&[0, 3, 7], &[1, 2, 8]).collect();
        assert_eq!(merged, [0, 1, 2, 3, 7, 8]);
        assert_eq!(merge_sorted(&[], &[4]).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn keyed_entries_are_found_by_authority_and_order_is_kept() {
        let dest = json!([{"destination": {"host": "h"}}]);
        let config = json!({"http": [
            {"name": "a", "match": [{"authority": {"exact": "svc-a"}}], "route": dest},
            {"name": "any-jason", "match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": dest},
            {"name": "b-or-a", "match": [{"authority": {"exact": "svc-b"}}, {"authority": {"exact": "svc-a"}, "method": {"exact": "GET"}}], "route": dest},
            {"name": "prefix", "match": [{"authority": {"prefix": "svc-"}}], "route": dest},
            {"name": "rest", "route": dest}
        ]});
        let router = parse(config.to_string().as_bytes()).unwrap();
        let index = router.authority_index.as_ref().unwrap();
        let visit = |authority: Option<&[u8]>| index.candidates(authority).collect::<Vec<_>>();
        assert_eq!(visit(Some(b"svc-a")), [0, 1, 2, 3, 4]);
        assert_eq!(visit(Some(b"svc-b")), [1, 2, 3, 4]);
        assert_eq!(visit(Some(b"other")), [1, 3, 4]);
        assert_eq!(visit(None), [1, 3, 4]);
    }

    /// The index only skips entries that cannot apply: with per-VirtualService `hosts` (checked
    /// after an entry's match, on the same `:authority` value the index looked up), every request
    /// reaches the entry a scan of all entries reaches.
    #[test]
    fn the_index_agrees_with_a_scan_of_every_entry_and_with_hosts() {
        use crate::random::SplitMix64;
        use crate::test_kit::FakeRequest;
        let dest = |subset: &str| json!([{"destination": {"host": "reviews", "subset": subset}}]);
        let config = json!([
            {"hosts": ["ratings"], "http": [
                {"name": "ratings-exact", "match": [{"authority": {"exact": "reviews:9080"}}], "route": dest("a")},
                {"name": "ratings-any", "route": dest("b")}]},
            {"hosts": ["reviews", "*.example.com"], "http": [
                {"name": "reviews-exact", "match": [{"authority": {"exact": "reviews:9080"}}], "route": dest("c")},
                {"name": "api", "match": [{"authority": {"exact": "api.example.com"}}], "route": dest("d")},
                {"name": "reviews-any", "route": dest("e")}]}
        ]);
        let indexed = parse(config.to_string().as_bytes()).unwrap();
        assert!(indexed.authority_index.is_some());
        let mut scanning = indexed.clone();
        scanning.authority_index = None;
        let authorities = [
            "reviews:9080",
            "REVIEWS:9080",
            "reviews",
            "reviews.default:9080",
            "ratings:9080",
            "ratings",
            "api.example.com",
            "API.example.com",
            "x.example.com:1",
            "reviews.com:9080",
            "reviews:x",
            "",
        ];
        for authority in authorities {
            let request = FakeRequest::new(&[(":authority", authority.as_bytes())]);
            let decide = |router: &crate::router::Router| {
                let decision = router.decide(&request, &mut SplitMix64::new(5));
                decision.and_then(|d| router.cluster(d)).map(String::from)
            };
            assert_eq!(decide(&indexed), decide(&scanning), "{authority}");
        }
        let request = FakeRequest::new(&[(":authority", b"reviews:9080")]);
        let decision = indexed.decide(&request, &mut SplitMix64::new(5)).unwrap();
        assert_eq!(indexed.entries[decision.entry].name, "reviews-exact");
    }

    #[test]
    fn no_index_without_keyed_entries() {
        let config = json!({"http": [{"route": [{"destination": {"host": "h"}}]}]});
        assert!(parse(config.to_string().as_bytes())
            .unwrap()
            .authority_index
            .is_none());
    }
}
