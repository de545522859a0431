//! `http[].match[]`: Istio's HTTPMatchRequest, compiled into conditions.

use super::error::{ConfigError, ConfigResult};
use super::names::header_name;
use super::path::JsonPath;
use super::read::{self, Schema};
use crate::matcher::{Condition, MatchRule};
use crate::request::{Attribute, Attributes};
use crate::string_match::{RegexBudget, StringMatch, WholeRegex};
use serde_json::Value;

const BLOCK: Schema = Schema {
    known: &[
        "name",
        "uri",
        "scheme",
        "method",
        "authority",
        "headers",
        "withoutHeaders",
        "queryParams",
        "ignoreUriCase",
        "routeName",
    ],
    not_implemented: &[
        "port",
        "sourceLabels",
        "gateways",
        "sourceNamespace",
        "statPrefix",
    ],
};

const STRING_MATCH: Schema = Schema {
    known: &["exact", "prefix", "regex"],
    not_implemented: &[],
};

/// A StringMatch; `Ok(None)` for `{}` where `allow_empty` (presence), an error elsewhere.
fn string_match(
    value: &Value,
    path: &JsonPath<'_>,
    allow_empty: bool,
    budget: &mut RegexBudget,
) -> ConfigResult<Option<StringMatch>> {
    let map = read::object(value, path)?;
    STRING_MATCH.check(map, path)?;
    let mut found = map.iter();
    let (Some((kind, text)), None) = (found.next(), found.next()) else {
        return match map.len() {
            0 if allow_empty => Ok(None),
            0 => Err(ConfigError::at(
                path,
                "expected one of exact, prefix or regex",
            )),
            _ => Err(ConfigError::at(
                path,
                "give only one of exact, prefix or regex",
            )),
        };
    };
    let at = path.key(kind);
    let bytes = read::string(text, &at)?.as_bytes().to_vec();
    match kind.as_str() {
        "exact" => Ok(Some(StringMatch::Exact(bytes))),
        "prefix" => Ok(Some(StringMatch::Prefix(bytes))),
        _ => WholeRegex::new(read::string(text, &at)?, budget)
            .map(|regex| Some(StringMatch::Regex(regex)))
            .map_err(|reason| ConfigError::at(&at, reason)),
    }
}

fn required_match(
    value: &Value,
    path: &JsonPath<'_>,
    budget: &mut RegexBudget,
) -> ConfigResult<StringMatch> {
    string_match(value, path, false, budget)?
        .ok_or_else(|| ConfigError::at(path, "expected one of exact, prefix or regex"))
}

/// `headers`, `withoutHeaders` or `queryParams`: a map of name to StringMatch (or `{}`).
fn named_matches<'v>(
    value: &'v Value,
    path: &JsonPath<'_>,
    lowercase_names: bool,
    budget: &mut RegexBudget,
) -> ConfigResult<Vec<(&'v str, Option<StringMatch>)>> {
    let map = read::object(value, path)?;
    map.iter()
        .map(|(name, matcher)| {
            let at = path.key(name);
            if lowercase_names {
                header_name(name, &at)?;
            } else if name.is_empty() {
                return Err(ConfigError::at(
                    &at,
                    "a query parameter name must not be empty",
                ));
            }
            Ok((name.as_str(), string_match(matcher, &at, true, budget)?))
        })
        .collect()
}

fn block(
    value: &Value,
    path: &JsonPath<'_>,
    attributes: &mut Attributes,
) -> ConfigResult<Vec<Condition>> {
    let map = read::object(value, path)?;
    BLOCK.check(map, path)?;
    let ignore_case = match map.get("ignoreUriCase") {
        Some(flag) => read::bool_value(flag, &path.key("ignoreUriCase"))?,
        None => false,
    };
    let mut conditions = Vec::new();
    for (key, field) in map {
        let at = path.key(key);
        match key.as_str() {
            "name" => {
                read::string(field, &at)?;
            }
            "ignoreUriCase" => {}
            "uri" => {
                let matcher = match required_match(field, &at, attributes.regex_budget())? {
                    StringMatch::Regex(regex) if ignore_case => StringMatch::Regex(
                        regex
                            .ignoring_case(attributes.regex_budget())
                            .map_err(|reason| ConfigError::at(&at, reason))?,
                    ),
                    other => other,
                };
                conditions.push(Condition::Uri {
                    path: attributes.header(":path"),
                    matcher,
                    ignore_case,
                })
            }
            "scheme" | "method" | "authority" => conditions.push(Condition::Value {
                matcher: required_match(field, &at, attributes.regex_budget())?,
                slot: attributes.header(&format!(":{key}")),
            }),
            "routeName" => conditions.push(Condition::Value {
                matcher: required_match(field, &at, attributes.regex_budget())?,
                slot: attributes.slot(Attribute::RouteName),
            }),
            "headers" => {
                for (name, matcher) in named_matches(field, &at, true, attributes.regex_budget())? {
                    let slot = attributes.header(name);
                    conditions.push(match matcher {
                        Some(matcher) => Condition::Value { slot, matcher },
                        None => Condition::Present { slot },
                    });
                }
            }
            "withoutHeaders" => {
                for (name, matcher) in named_matches(field, &at, true, attributes.regex_budget())? {
                    let slot = attributes.header(name);
                    conditions.push(Condition::Without { slot, matcher });
                }
            }
            "queryParams" => {
                for (name, matcher) in named_matches(field, &at, false, attributes.regex_budget())?
                {
                    conditions.push(Condition::QueryParam {
                        path: attributes.header(":path"),
                        name: name.as_bytes().to_vec(),
                        matcher,
                    });
                }
            }
            _ => return Err(ConfigError::at(&at, "unexpected field")),
        }
    }
    Ok(conditions)
}

/// The entry's `match` list, each block's conditions ordered cheapest-first for the request path.
pub fn match_rule(
    value: &Value,
    path: &JsonPath<'_>,
    attributes: &mut Attributes,
) -> ConfigResult<MatchRule> {
    blocks_of(value, path, attributes, block)
}

/// A list of match blocks (either shape's), each compiled by `block`, then ordered cheapest-first
/// for the request path ([`MatchRule::cheapest_first`]).
pub fn blocks_of(
    value: &Value,
    path: &JsonPath<'_>,
    attributes: &mut Attributes,
    block: fn(&Value, &JsonPath<'_>, &mut Attributes) -> ConfigResult<Vec<Condition>>,
) -> ConfigResult<MatchRule> {
    let blocks = read::array(value, path)?
        .iter()
        .enumerate()
        .map(|(index, item)| block(item, &path.index(index), attributes))
        .collect::<ConfigResult<Vec<_>>>()?;
    Ok(MatchRule { blocks }.cheapest_first(attributes))
}
