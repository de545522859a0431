//! Istio's `HTTPMatchRequest`: conditions in a block are ANDed, blocks are ORed.

use crate::request::{path_only, query_param, Lookup, RequestSource};
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
    /// `authority`, `method`, `scheme`, `headers` with a value, and `routeName`.
    Value { slot: usize, matcher: StringMatch },
    /// `headers` with `{}`: present, whatever the value (an empty value counts).
    Present { slot: usize },
    /// `withoutHeaders`: absent, or (with a value) not matching it.
    Without {
        slot: usize,
        matcher: Option<StringMatch>,
    },
    /// `queryParams`: on the decoded value; `None` means present.
    QueryParam {
        path: usize,
        name: Vec<u8>,
        matcher: Option<StringMatch>,
    },
}

impl Condition {
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
            Condition::Value { slot, matcher } => {
                request.get(*slot).is_some_and(|v| matcher.matches(v))
            }
            Condition::Present { slot } => request.get(*slot).is_some(),
            Condition::Without { slot, matcher } => match (request.get(*slot), matcher) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(value), Some(matcher)) => !matcher.matches(value),
            },
            Condition::QueryParam {
                path,
                name,
                matcher,
            } => request
                .get(*path)
                .and_then(|full| query_param(full, name))
                .is_some_and(|value| matcher.as_ref().is_none_or(|m| m.matches(&value))),
        }
    }
}

/// The `match` list of an entry. Empty means the entry applies to every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchRule {
    /// Each inner list is one match block.
    pub blocks: Vec<Vec<Condition>>,
}

impl MatchRule {
    pub fn applies<S: RequestSource>(&self, request: &mut Lookup<'_, S>) -> bool {
        self.blocks.is_empty()
            || self
                .blocks
                .iter()
                .any(|block| block.iter().all(|condition| condition.holds(request)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Attribute, Attributes};
    use std::collections::HashMap;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    struct Fake(HashMap<String, Vec<u8>>);
    impl RequestSource for Fake {
        fn header(&self, name: &str) -> Option<Vec<u8>> {
            self.0.get(name).cloned()
        }
        fn route_name(&self) -> Option<Vec<u8>> {
            self.0.get("@route").cloned()
        }
    }

    fn request(pairs: &[(&str, &[u8])]) -> Fake {
        Fake(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect(),
        )
    }

    fn exact(v: &str) -> StringMatch {
        StringMatch::Exact(v.as_bytes().to_vec())
    }

    fn prefix(v: &str) -> StringMatch {
        StringMatch::Prefix(v.as_bytes().to_vec())
    }

    fn check(rule: &MatchRule, attributes: &Attributes, req: &Fake) -> bool {
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
                    matcher: Some(exact("j son")),
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
        assert!(check(&rule, &attributes, &good));
        assert!(!check(&rule, &attributes, &other_route));
        assert!(!check(&rule, &attributes, &no_debug));
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
}
