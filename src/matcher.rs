//! Istio's `HTTPMatchRequest`: conditions in a block are ANDed, blocks are ORed.
//!
//! Neither AND nor OR depends on order, so each block is tested in the order that costs least:
//! conditions on values this request already fetched first (one that fails settles the block with
//! no host call), then the rest cheapest-first as ordered at compile time ([`MatchRule::cheapest_first`]).
//! Entries keep their order: Istio's first match wins.

use crate::request::{path_only, query_param, Attributes, FetchCost, Lookup, RequestSource};
use crate::string_match::StringMatch;

/// One compiled condition; `slot` names an attribute in the configuration's registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `uri`: the path without its query string.
    Uri {
        path: usize,
        matcher: StringMatch,
        ignore_case: bool,
    },
    /// `authority`, `method`, `scheme`, `headers` with a value, and `routeName`. A repeated header
    /// holds when any of its values matches, as in Envoy's route matching.
    Value { slot: usize, matcher: StringMatch },
    /// `headers` with `{}`: present, whatever the value (an empty value counts).
    Present { slot: usize },
    /// `withoutHeaders`: with `None` (`{}` or Istio's `regex: "*"`), the header is absent; with a
    /// value, no value of the header matches it, an absent header reading as the empty value
    /// (Istio inverts Envoy's header match and sets `treat_missing_header_as_empty`).
    Without {
        slot: usize,
        matcher: Option<StringMatch>,
    },
    /// `queryParams`: on the first parameter of that name, name and value as sent (Envoy does not
    /// percent-decode them); `None` means present.
    QueryParam {
        path: usize,
        name: Vec<u8>,
        matcher: Option<StringMatch>,
    },
}

/// The work a condition does on its value once fetched, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MatchCost {
    Compare,
    Regex,
    /// Splitting the query string.
    QueryParam,
}

/// The most conditions of one block whose "already tested" mark fits the bitmask; a longer block
/// tests the rest in compiled order only.
const TRACKED: usize = u64::BITS as usize;

impl Condition {
    /// The attribute slot the condition reads.
    pub fn slot(&self) -> usize {
        match self {
            Condition::Uri { path, .. } | Condition::QueryParam { path, .. } => *path,
            Condition::Value { slot, .. }
            | Condition::Present { slot }
            | Condition::Without { slot, .. } => *slot,
        }
    }

    fn match_cost(&self) -> MatchCost {
        let of = |matcher: &StringMatch| match matcher {
            StringMatch::Regex(_) => MatchCost::Regex,
            _ => MatchCost::Compare,
        };
        match self {
            Condition::QueryParam { .. } => MatchCost::QueryParam,
            Condition::Uri { matcher, .. } | Condition::Value { matcher, .. } => of(matcher),
            Condition::Without {
                matcher: Some(matcher),
                ..
            } => of(matcher),
            Condition::Present { .. } | Condition::Without { matcher: None, .. } => {
                MatchCost::Compare
            }
        }
    }

    fn cost(&self, attributes: &Attributes) -> (FetchCost, MatchCost) {
        (attributes.fetch_cost(self.slot()), self.match_cost())
    }

    fn holds<S: RequestSource>(&self, request: &mut Lookup<'_, S>) -> bool {
        match self {
            Condition::Uri {
                path,
                matcher,
                ignore_case,
            } => request.get(*path).is_some_and(|full| {
                let path = path_only(full);
                if *ignore_case {
                    matcher.matches_ignoring_ascii_case(path)
                } else {
                    matcher.matches(path)
                }
            }),
            Condition::Value { slot, matcher } => request
                .any_value(*slot, |value| matcher.matches(value))
                .unwrap_or(false),
            Condition::Present { slot } => request.get(*slot).is_some(),
            Condition::Without {
                slot,
                matcher: None,
            } => request.get(*slot).is_none(),
            Condition::Without {
                slot,
                matcher: Some(matcher),
            } => !request
                .any_value(*slot, |value| matcher.matches(value))
                .unwrap_or_else(|| matcher.matches(b"")),
            Condition::QueryParam {
                path,
                name,
                matcher,
            } => request
                .get(*path)
                .and_then(|full| query_param(full, name))
                .is_some_and(|value| matcher.as_ref().is_none_or(|m| m.matches(value))),
        }
    }
}

/// The `match` list of an entry. Empty means the entry applies to every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchRule {
    /// Each inner list is one match block.
    pub blocks: Vec<Vec<Condition>>,
}

/// One block: first the conditions on values already fetched (free to test), then the others in
/// their compiled order, skipping those already tested.
fn block_holds<S: RequestSource>(block: &[Condition], request: &mut Lookup<'_, S>) -> bool {
    let mut tested = 0u64;
    if block.len() > 1 {
        for (i, condition) in block.iter().enumerate().take(TRACKED) {
            if request.is_fetched(condition.slot()) {
                if !condition.holds(request) {
                    return false;
                }
                tested |= 1 << i;
            }
        }
    }
    block
        .iter()
        .enumerate()
        .all(|(i, condition)| (i < TRACKED && tested & (1 << i) != 0) || condition.holds(request))
}

impl MatchRule {
    pub fn applies<S: RequestSource>(&self, request: &mut Lookup<'_, S>) -> bool {
        self.blocks.is_empty() || self.blocks.iter().any(|block| block_holds(block, request))
    }

    /// Block `index` alone (Gateway API ranks each match on its own); `None`: every request.
    pub fn block_applies<S: RequestSource>(
        &self,
        index: Option<usize>,
        request: &mut Lookup<'_, S>,
    ) -> bool {
        match index {
            None => true,
            Some(i) => self
                .blocks
                .get(i)
                .is_some_and(|block| block_holds(block, request)),
        }
    }

    /// Orders each block's conditions by what they cost (an absent-as-usual header before a
    /// pseudo-header, which is always handed over, before a property; a comparison before a regex
    /// before query parsing), keeping the written order among equals. Done once, at compile time.
    pub fn cheapest_first(mut self, attributes: &Attributes) -> Self {
        for block in &mut self.blocks {
            block.sort_by_key(|condition| condition.cost(attributes));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Attribute;
    use crate::string_match::WholeRegex;
    use crate::test_kit::FakeRequest;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn request<'a>(pairs: &[(&'a str, &'a [u8])]) -> FakeRequest<'a> {
        FakeRequest::new(pairs)
    }

    fn exact(v: &str) -> StringMatch {
        StringMatch::Exact(v.as_bytes().to_vec())
    }

    fn prefix(v: &str) -> StringMatch {
        StringMatch::Prefix(v.as_bytes().to_vec())
    }

    fn check(rule: &MatchRule, attributes: &Attributes, req: &FakeRequest<'_>) -> bool {
        rule.applies(&mut Lookup::new(req, attributes))
    }

    #[test]
    fn blocks_are_ored_and_conditions_anded() {
        let mut attributes = Attributes::default();
        let user = attributes.header("end-user");
        let method = attributes.header(":method");
        let rule = MatchRule {
            blocks: vec![
                vec![
                    Condition::Value {
                        slot: user,
                        matcher: exact("jason"),
                    },
                    Condition::Value {
                        slot: method,
                        matcher: exact("GET"),
                    },
                ],
                vec![Condition::Value {
                    slot: user,
                    matcher: prefix("admin-"),
                }],
            ],
        };
        assert!(check(
            &rule,
            &attributes,
            &request(&[("end-user", b"jason"), (":method", b"GET")])
        ));
        assert!(!check(
            &rule,
            &attributes,
            &request(&[("end-user", b"jason"), (":method", b"POST")])
        ));
        assert!(check(
            &rule,
            &attributes,
            &request(&[("end-user", b"admin-1"), (":method", b"POST")])
        ));
        assert!(!check(&rule, &attributes, &request(&[(":method", b"GET")])));
        assert!(check(&MatchRule::default(), &attributes, &request(&[])));
    }

    #[test]
    fn presence_absence_and_empty_values() {
        let mut attributes = Attributes::default();
        let canary = attributes.header("x-canary");
        let present = MatchRule {
            blocks: vec![vec![Condition::Present { slot: canary }]],
        };
        let absent = MatchRule {
            blocks: vec![vec![Condition::Without {
                slot: canary,
                matcher: None,
            }]],
        };
        let not_beta = MatchRule {
            blocks: vec![vec![Condition::Without {
                slot: canary,
                matcher: Some(exact("beta")),
            }]],
        };
        let empty = request(&[("x-canary", b"")]);
        let none = request(&[]);
        let beta = request(&[("x-canary", b"beta")]);
        assert!(check(&present, &attributes, &empty));
        assert!(!check(&present, &attributes, &none));
        assert!(check(&absent, &attributes, &none));
        assert!(!check(&absent, &attributes, &empty));
        assert!(check(&not_beta, &attributes, &none));
        assert!(check(&not_beta, &attributes, &empty));
        assert!(!check(&not_beta, &attributes, &beta));
    }

    #[test]
    fn uri_ignores_query_and_can_ignore_case() {
        let mut attributes = Attributes::default();
        let path = attributes.header(":path");
        let rule = |matcher, ignore_case| MatchRule {
            blocks: vec![vec![Condition::Uri {
                path,
                matcher,
                ignore_case,
            }]],
        };
        let req = request(&[(":path", b"/Reviews/1?x=/other")]);
        assert!(check(&rule(exact("/Reviews/1"), false), &attributes, &req));
        assert!(!check(&rule(exact("/reviews/1"), false), &attributes, &req));
        assert!(check(&rule(exact("/reviews/1"), true), &attributes, &req));
        assert!(check(&rule(prefix("/Rev"), false), &attributes, &req));
        assert!(!check(&rule(prefix("/other"), false), &attributes, &req));
    }

    #[test]
    fn query_params_and_route_names() {
        let mut attributes = Attributes::default();
        let path = attributes.header(":path");
        let route = attributes.slot(Attribute::RouteName);
        let rule = MatchRule {
            blocks: vec![vec![
                Condition::QueryParam {
                    path,
                    name: b"user".to_vec(),
                    matcher: Some(exact("j%20son")),
                },
                Condition::QueryParam {
                    path,
                    name: b"debug".to_vec(),
                    matcher: None,
                },
                Condition::Value {
                    slot: route,
                    matcher: exact("reviews"),
                },
            ]],
        };
        let good = request(&[(":path", b"/r?debug&user=j%20son"), ("@route", b"reviews")]);
        let other_route = request(&[(":path", b"/r?debug&user=j%20son"), ("@route", b"ratings")]);
        let no_debug = request(&[(":path", b"/r?user=j%20son"), ("@route", b"reviews")]);
        let decoded = request(&[(":path", b"/r?debug&user=j son"), ("@route", b"reviews")]);
        assert!(check(&rule, &attributes, &good));
        assert!(!check(&rule, &attributes, &other_route));
        assert!(!check(&rule, &attributes, &no_debug));
        assert!(!check(&rule, &attributes, &decoded), "compared as sent");
    }

    #[test]
    fn a_repeated_header_matches_when_any_value_does() {
        let mut attributes = Attributes::default();
        let env = attributes.header("x-env");
        let is_prod = MatchRule {
            blocks: vec![vec![Condition::Value {
                slot: env,
                matcher: exact("prod"),
            }]],
        };
        let not_prod = MatchRule {
            blocks: vec![vec![Condition::Without {
                slot: env,
                matcher: Some(exact("prod")),
            }]],
        };
        let both = request(&[("x-env", b"staging"), ("x-env", b"prod")]);
        let reversed = request(&[("x-env", b"prod"), ("x-env", b"staging")]);
        let neither = request(&[("x-env", b"dev"), ("x-env", b"staging")]);
        for req in [&both, &reversed] {
            assert!(check(&is_prod, &attributes, req));
            assert!(!check(&not_prod, &attributes, req));
        }
        assert!(!check(&is_prod, &attributes, &neither));
        assert!(check(&not_prod, &attributes, &neither));
        // The later values are asked for only when the first one does not decide.
        assert_eq!(reversed.fetched(), ["x-env", "x-env"]);
        assert_eq!(both.fetched(), ["x-env", "+x-env", "x-env", "+x-env"]);
    }

    #[test]
    fn without_a_value_treats_a_missing_header_as_empty() {
        let mut attributes = Attributes::default();
        let canary = attributes.header("x-canary");
        let without = |matcher| MatchRule {
            blocks: vec![vec![Condition::Without {
                slot: canary,
                matcher: Some(matcher),
            }]],
        };
        let none = request(&[]);
        let empty = request(&[("x-canary", b"")]);
        let set = request(&[("x-canary", b"1")]);
        let any = StringMatch::Regex(WholeRegex::new(".*", &mut Default::default()).unwrap());
        // An absent header is the empty value: `exact: ""` and `regex: ".*"` match it, so the
        // condition fails; a prefix it does not start with lets it pass.
        assert!(!check(&without(exact("")), &attributes, &none));
        assert!(!check(&without(exact("")), &attributes, &empty));
        assert!(check(&without(exact("")), &attributes, &set));
        assert!(!check(&without(any.clone()), &attributes, &none));
        assert!(!check(&without(any), &attributes, &set));
        assert!(check(&without(prefix("x")), &attributes, &none));
    }

    #[test]
    fn non_utf8_header_values_just_do_not_match() {
        let mut attributes = Attributes::default();
        let user = attributes.header("end-user");
        let rule = MatchRule {
            blocks: vec![vec![Condition::Value {
                slot: user,
                matcher: exact("jason"),
            }]],
        };
        assert!(!check(
            &rule,
            &attributes,
            &request(&[("end-user", b"ja\xffson")])
        ));
    }

    #[test]
    fn blocks_are_ordered_cheapest_first_keeping_written_order_among_equals() {
        let mut attributes = Attributes::default();
        let method = attributes.header(":method");
        let path = attributes.header(":path");
        let route = attributes.slot(Attribute::RouteName);
        let canary = attributes.header("x-canary");
        let user = attributes.header("x-user");
        let scheme = attributes.header(":scheme");
        let regex = StringMatch::Regex(WholeRegex::new("a+", &mut Default::default()).unwrap());
        let written = vec![
            Condition::Value {
                slot: route,
                matcher: exact("r"),
            },
            Condition::QueryParam {
                path,
                name: b"q".to_vec(),
                matcher: None,
            },
            Condition::Value {
                slot: method,
                matcher: exact("POST"),
            },
            Condition::Uri {
                path,
                matcher: regex.clone(),
                ignore_case: false,
            },
            Condition::Value {
                slot: scheme,
                matcher: exact("https"),
            },
            Condition::Value {
                slot: user,
                matcher: regex,
            },
            Condition::Present { slot: canary },
        ];
        let order = |rule: MatchRule| -> Vec<usize> {
            rule.blocks[0]
                .iter()
                .map(|c| written.iter().position(|w| w == c).unwrap())
                .collect()
        };
        let rule = MatchRule {
            blocks: vec![written.clone()],
        }
        .cheapest_first(&attributes);
        // Absent-as-usual headers (a comparison before a regex), then pseudo-headers (comparisons
        // in written order, then the regex, then query parsing), then the route name property.
        assert_eq!(order(rule), vec![6, 5, 2, 4, 3, 1, 0]);
    }

    #[test]
    fn a_block_that_fails_on_an_already_fetched_value_reads_nothing_more() {
        let mut attributes = Attributes::default();
        let method = attributes.header(":method");
        let path = attributes.header(":path");
        // The bench's admin entry: `/admin`, or a POST to `/reviews/debug` (`method` first, as written).
        let rule = MatchRule {
            blocks: vec![
                vec![Condition::Uri {
                    path,
                    matcher: prefix("/admin"),
                    ignore_case: false,
                }],
                vec![
                    Condition::Value {
                        slot: method,
                        matcher: exact("POST"),
                    },
                    Condition::Uri {
                        path,
                        matcher: exact("/reviews/debug"),
                        ignore_case: false,
                    },
                ],
            ],
        }
        .cheapest_first(&attributes);
        let ordinary = request(&[(":path", b"/reviews/0"), (":method", b"GET")]);
        assert!(!check(&rule, &attributes, &ordinary));
        assert_eq!(ordinary.fetched(), [":path"]);
        let debug_post = request(&[(":path", b"/reviews/debug"), (":method", b"POST")]);
        assert!(check(&rule, &attributes, &debug_post));
        assert_eq!(debug_post.fetched(), [":path", ":method"]);
        let debug_get = request(&[(":path", b"/reviews/debug"), (":method", b"GET")]);
        assert!(!check(&rule, &attributes, &debug_get));
    }

    #[test]
    fn an_absent_header_settles_a_block_before_any_pseudo_header_is_read() {
        let mut attributes = Attributes::default();
        let path = attributes.header(":path");
        let canary = attributes.header("x-canary");
        let rule = MatchRule {
            blocks: vec![vec![
                Condition::Uri {
                    path,
                    matcher: prefix("/reviews/"),
                    ignore_case: false,
                },
                Condition::Value {
                    slot: canary,
                    matcher: exact("always"),
                },
            ]],
        }
        .cheapest_first(&attributes);
        let ordinary = request(&[(":path", b"/reviews/0")]);
        assert!(!check(&rule, &attributes, &ordinary));
        assert_eq!(ordinary.fetched(), ["x-canary"]);
        let canary_request = request(&[(":path", b"/reviews/0"), ("x-canary", b"always")]);
        assert!(check(&rule, &attributes, &canary_request));
    }
}
