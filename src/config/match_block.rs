//! `http[].match[]`: Istio's HTTPMatchRequest, compiled into conditions.

use super::error::{ConfigError, ConfigResult};
use super::json::Value;
use super::names::match_header_name;
use super::path::JsonPath;
use super::read::{self, Schema};
use crate::matcher::{Condition, MatchRule};
use crate::request::{Attribute, Attributes};
use crate::string_match::{RegexBudget, StringMatch, WholeRegex};

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

/// Where a StringMatch stands decides what Istio's validation lets it be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    /// `uri`: an empty prefix is Envoy's route prefix `""`, which matches every path.
    Uri,
    /// `scheme`, `method`, `authority`, `routeName`: Envoy's StringMatcher refuses an empty prefix.
    Value,
    /// A `headers`, `withoutHeaders` or `queryParams` entry: also `{}` (present, or absent).
    Named,
}

/// A StringMatch; `Ok(None)` for `{}` in a [`Field::Named`] entry (presence). As in Istio's
/// validation, an empty regex is refused everywhere and an empty prefix everywhere but `uri`.
fn string_match(
    value: &Value,
    path: &JsonPath<'_>,
    field: Field,
    budget: &mut RegexBudget,
) -> ConfigResult<Option<StringMatch>> {
    let map = read::object(value, path)?;
    STRING_MATCH.check(map, path)?;
    let mut found = map.iter();
    let (Some((kind, text)), None) = (found.next(), found.next()) else {
        return match map.len() {
            0 if field == Field::Named => Ok(None),
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
    let text = read::string(text, &at)?;
    if text.is_empty() && (kind == "regex" || (kind == "prefix" && field != Field::Uri)) {
        return Err(ConfigError::at(
            &at,
            format!("an empty {kind} is refused, as by Istio (Envoy's matcher needs at least one character)"),
        ));
    }
    match kind {
        "exact" => Ok(Some(StringMatch::Exact(text.as_bytes().to_vec()))),
        "prefix" => Ok(Some(StringMatch::Prefix(text.as_bytes().to_vec()))),
        _ => WholeRegex::new(text, budget)
            .map(|regex| Some(StringMatch::Regex(regex)))
            .map_err(|reason| ConfigError::at(&at, reason)),
    }
}

fn required_match(
    value: &Value,
    path: &JsonPath<'_>,
    field: Field,
    budget: &mut RegexBudget,
) -> ConfigResult<StringMatch> {
    string_match(value, path, field, budget)?
        .ok_or_else(|| ConfigError::at(path, "expected one of exact, prefix or regex"))
}

/// Istio's "absent" form in `withoutHeaders`: `regex: "*"` (not RE2: Istio turns it into a presence
/// match, then inverts it).
fn is_istio_any(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|map| map.len() == 1 && map.get("regex").and_then(Value::as_str) == Some("*"))
}

/// `headers` or `withoutHeaders`: a map of header name (any case; held lowercase) to a StringMatch
/// or `{}`.
fn header_matches(
    value: &Value,
    path: &JsonPath<'_>,
    without: bool,
    budget: &mut RegexBudget,
) -> ConfigResult<Vec<(String, Option<StringMatch>)>> {
    let map = read::object(value, path)?;
    // Two spellings of one name (`End-User`, `end-user`) are two conditions on it, ANDed, as the two
    // header matchers Istio makes of them.
    map.iter()
        .map(|(name, matcher)| {
            let at = path.key(name);
            let lower = match_header_name(name, &at)?;
            let matcher = if without && is_istio_any(matcher) {
                None
            } else {
                string_match(matcher, &at, Field::Named, budget)?
            };
            Ok((lower, matcher))
        })
        .collect()
}

/// `queryParams`: a map of parameter name (compared as sent) to a StringMatch or `{}`.
fn query_matches<'v>(
    value: &'v Value<'v>,
    path: &JsonPath<'_>,
    budget: &mut RegexBudget,
) -> ConfigResult<Vec<(&'v str, Option<StringMatch>)>> {
    let map = read::object(value, path)?;
    map.iter()
        .map(|(name, matcher)| {
            let at = path.key(name);
            if name.is_empty() {
                return Err(ConfigError::at(
                    &at,
                    "a query parameter name must not be empty",
                ));
            }
            Ok((name, string_match(matcher, &at, Field::Named, budget)?))
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
        match key {
            "name" => {
                read::string(field, &at)?;
            }
            "ignoreUriCase" => {}
            "uri" => {
                let matcher = required_match(field, &at, Field::Uri, attributes.regex_budget())?;
                // As in Envoy, where Istio's `ignoreUriCase` is the route's `case_sensitive: false`:
                // it applies to exact and prefix paths, never to a regex.
                let ignore_case = ignore_case && !matches!(matcher, StringMatch::Regex(_));
                conditions.push(Condition::Uri {
                    path: attributes.header(":path"),
                    matcher,
                    ignore_case,
                })
            }
            "scheme" | "method" | "authority" => conditions.push(Condition::Value {
                matcher: required_match(field, &at, Field::Value, attributes.regex_budget())?,
                slot: attributes.header(&format!(":{key}")),
            }),
            "routeName" => conditions.push(Condition::Value {
                matcher: required_match(field, &at, Field::Value, attributes.regex_budget())?,
                slot: attributes.slot(Attribute::RouteName),
            }),
            "headers" => {
                for (name, matcher) in header_matches(field, &at, false, attributes.regex_budget())?
                {
                    let slot = attributes.header(&name);
                    conditions.push(match matcher {
                        Some(matcher) => Condition::Value { slot, matcher },
                        None => Condition::Present { slot },
                    });
                }
            }
            "withoutHeaders" => {
                for (name, matcher) in header_matches(field, &at, true, attributes.regex_budget())?
                {
                    let slot = attributes.header(&name);
                    conditions.push(Condition::Without { slot, matcher });
                }
            }
            "queryParams" => {
                for (name, matcher) in query_matches(field, &at, attributes.regex_budget())? {
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
        .map(|(index, item)| {
            let at = path.index(index);
            let conditions = block(item, &at, attributes)?;
            if conditions
                .iter()
                .any(|condition| attributes.is_written_by_filter(condition.slot()))
            {
                return Err(reads_written_header(item, &at, attributes));
            }
            Ok(conditions)
        })
        .collect::<ConfigResult<Vec<_>>>()?;
    Ok(MatchRule { blocks }.cheapest_first(attributes))
}

/// Why a configuration may not read the header the filter writes: the value a request arrives with
/// is the client's, so a match (or a sticky key) on it would let the client choose its destination.
pub fn client_chooses(header: &str) -> String {
    format!(
        "reads \"{header}\", the header this filter sets (clusterHeader): its value on arrival is the client's, \
         so the client would choose the destination; match on another header"
    )
}

/// The refusal of a match block (either shape's) that reads the header the filter writes, at the
/// field naming it: a `headers`/`withoutHeaders` key, or a Gateway API `headers[].name`.
fn reads_written_header(item: &Value, at: &JsonPath<'_>, attributes: &Attributes) -> ConfigError {
    let header = attributes.written_by_filter().unwrap_or_default();
    let reason = client_chooses(header);
    for key in ["headers", "withoutHeaders"] {
        let field = at.key(key);
        match item.get(key) {
            Some(Value::Object(map)) => {
                if let Some(name) = map.keys().find(|name| name.eq_ignore_ascii_case(header)) {
                    return ConfigError::at(&field.key(name), reason);
                }
            }
            Some(Value::Array(list)) => {
                let named = |entry: &Value| {
                    entry
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|name| name.eq_ignore_ascii_case(header))
                };
                if let Some(index) = list.iter().position(named) {
                    return ConfigError::at(&field.index(index).key("name"), reason);
                }
            }
            _ => {}
        }
    }
    ConfigError::at(at, reason)
}
