//! `rules[].matches[]`: Gateway API's HTTPRouteMatch, compiled into the same conditions as Istio's.

use super::error::{ConfigError, ConfigResult};
use super::json::{Map, Value};
use super::match_block::blocks_of;
use super::names::header_name;
use super::path::JsonPath;
use super::read::{self, Schema};
use crate::matcher::{Condition, MatchRule};
use crate::precedence::{MatchRank, PathKind};
use crate::request::Attributes;
use crate::string_match::{RegexBudget, StringMatch, WholeRegex};
use std::collections::HashSet;

const API: &str = "HTTPRoute";

const MATCH: Schema = Schema {
    known: &["path", "headers", "queryParams", "method"],
    not_implemented: &[],
};

const PATH: Schema = Schema {
    known: &["type", "value"],
    not_implemented: &[],
};

const NAMED_VALUE: Schema = Schema {
    known: &["name", "value", "type"],
    not_implemented: &[],
};

/// Gateway API's HTTPMethod enum.
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Longest values the Gateway API CRDs admit.
const MAX_PATH: usize = 1024;
const MAX_HEADER_VALUE: usize = 4096;
const MAX_QUERY_VALUE: usize = 1024;

/// The CRD's rules for `Exact` and `PathPrefix` values, so a path the API server would refuse is
/// refused here too.
fn check_plain_path(text: &str, path: &JsonPath<'_>) -> ConfigResult<()> {
    let refuse = |reason: &str| Err(ConfigError::at(path, reason.to_string()));
    if !text.starts_with('/') {
        return refuse("must be an absolute path starting with \"/\"");
    }
    for bad in ["//", "/./", "/../", "%2f", "%2F", "#"] {
        if text.contains(bad) {
            return refuse(&format!("must not contain \"{bad}\""));
        }
    }
    for bad in ["/..", "/."] {
        if text.ends_with(bad) {
            return refuse(&format!("must not end with \"{bad}\""));
        }
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@%".contains(&b);
    if !text.bytes().all(allowed) {
        return refuse("may only hold the characters of a URL path (RFC 3986 pchar and \"/\")");
    }
    Ok(())
}

/// A string of 1 to `max` bytes.
fn bounded_value<'v>(
    value: &'v Value<'v>,
    path: &JsonPath<'_>,
    max: usize,
) -> ConfigResult<&'v str> {
    let text = read::non_empty_string(value, path)?;
    if text.len() > max {
        return Err(ConfigError::at(
            path,
            format!("is {} bytes long; at most {max} are allowed", text.len()),
        ));
    }
    Ok(text)
}

fn regex(text: &str, path: &JsonPath<'_>, budget: &mut RegexBudget) -> ConfigResult<StringMatch> {
    WholeRegex::new(text, budget)
        .map(StringMatch::Regex)
        .map_err(|reason| ConfigError::at(path, reason))
}

/// A string that must be one of `allowed` (`what` names them in the error).
fn one_of<'v>(
    value: &'v Value<'v>,
    path: &JsonPath<'_>,
    allowed: &[&str],
    what: &str,
) -> ConfigResult<&'v str> {
    let given = read::string(value, path)?;
    if !allowed.contains(&given) {
        return Err(ConfigError::at(
            path,
            format!(
                "\"{given}\" is not {what}; expected one of: {}",
                allowed.join(", ")
            ),
        ));
    }
    Ok(given)
}

/// The optional `type` of a match: `default` when absent, else one of `allowed`.
fn match_type<'v>(
    map: &'v Map<'v>,
    path: &JsonPath<'_>,
    default: &'v str,
    allowed: &[&str],
) -> ConfigResult<&'v str> {
    match map.get("type") {
        Some(kind) => one_of(kind, &path.key("type"), allowed, "a match type here"),
        None => Ok(default),
    }
}

/// `path`: `{type, value}`, defaulting to `PathPrefix` and `/`.
fn path_match(
    value: &Value,
    path: &JsonPath<'_>,
    budget: &mut RegexBudget,
) -> ConfigResult<StringMatch> {
    let map = read::object(value, path)?;
    PATH.check_as(map, path, API, &[])?;
    let kind = match_type(
        map,
        path,
        "PathPrefix",
        &["Exact", "PathPrefix", "RegularExpression"],
    )?;
    let at = path.key("value");
    let text = match map.get("value") {
        Some(text) => bounded_value(text, &at, MAX_PATH)?,
        None => "/",
    };
    if kind == "RegularExpression" {
        return regex(text, &at, budget);
    }
    check_plain_path(text, &at)?;
    let bytes = text.as_bytes().to_vec();
    Ok(match kind {
        "Exact" => StringMatch::Exact(bytes),
        // A trailing "/" is ignored: "/foo/" is the prefix "/foo".
        _ => StringMatch::PathSegments(text.trim_end_matches('/').as_bytes().to_vec()),
    })
}

/// `headers` or `queryParams`: a list of `{name, value, type}`, each name at most once.
fn named_values(
    value: &Value,
    path: &JsonPath<'_>,
    max_value: usize,
    name_of: impl Fn(&str, &JsonPath<'_>) -> ConfigResult<String>,
    budget: &mut RegexBudget,
) -> ConfigResult<Vec<(String, StringMatch)>> {
    let mut found: Vec<(String, StringMatch)> = Vec::new();
    let mut names = HashSet::new();
    for (index, item) in read::array(value, path)?.iter().enumerate() {
        let at = path.index(index);
        let map = read::object(item, &at)?;
        NAMED_VALUE.check_as(map, &at, API, &[])?;
        let name_path = at.key("name");
        let name = match map.get("name") {
            Some(name) => name_of(read::string(name, &name_path)?, &name_path)?,
            None => return Err(ConfigError::at(&name_path, "missing")),
        };
        if !names.insert(name.clone()) {
            // Gateway API would ignore the later one; a rule that silently does nothing is refused.
            return Err(ConfigError::at(
                &name_path,
                format!(
                    "\"{name}\" is matched by an earlier entry of this list; give each name once"
                ),
            ));
        }
        let value_path = at.key("value");
        let text = match map.get("value") {
            Some(text) => bounded_value(text, &value_path, max_value)?,
            None => return Err(ConfigError::at(&value_path, "missing")),
        };
        let matcher = match match_type(map, &at, "Exact", &["Exact", "RegularExpression"])? {
            "Exact" => StringMatch::Exact(text.as_bytes().to_vec()),
            _ => regex(text, &value_path, budget)?,
        };
        found.push((name, matcher));
    }
    Ok(found)
}

/// Header names are case-insensitive in Gateway API; Envoy holds them lowercase.
fn header(name: &str, path: &JsonPath<'_>) -> ConfigResult<String> {
    if name.contains(':') {
        return Err(ConfigError::at(
            path,
            format!("\"{name}\" is not a valid header name"),
        ));
    }
    header_name(&name.to_ascii_lowercase(), path)
}

/// Query parameter names are compared exactly.
fn query_name(name: &str, path: &JsonPath<'_>) -> ConfigResult<String> {
    if name.is_empty() {
        return Err(ConfigError::at(path, "must not be empty"));
    }
    Ok(name.to_string())
}

fn one_match(
    value: &Value,
    path: &JsonPath<'_>,
    attributes: &mut Attributes,
) -> ConfigResult<Vec<Condition>> {
    let map = read::object(value, path)?;
    MATCH.check_as(map, path, API, &[])?;
    let mut conditions = Vec::new();
    for (key, field) in map {
        let at = path.key(key);
        match key {
            "path" => conditions.push(Condition::Uri {
                matcher: path_match(field, &at, attributes.regex_budget())?,
                path: attributes.header(":path"),
                ignore_case: false,
            }),
            "method" => {
                let method = one_of(field, &at, METHODS, "a Gateway API method")?;
                conditions.push(Condition::Value {
                    slot: attributes.header(":method"),
                    matcher: StringMatch::Exact(method.as_bytes().to_vec()),
                });
            }
            "headers" => {
                for (name, matcher) in named_values(
                    field,
                    &at,
                    MAX_HEADER_VALUE,
                    header,
                    attributes.regex_budget(),
                )? {
                    let slot = attributes.header(&name);
                    conditions.push(Condition::Value { slot, matcher });
                }
            }
            "queryParams" => {
                for (name, matcher) in named_values(
                    field,
                    &at,
                    MAX_QUERY_VALUE,
                    query_name,
                    attributes.regex_budget(),
                )? {
                    conditions.push(Condition::QueryParam {
                        path: attributes.header(":path"),
                        name: name.into_bytes(),
                        matcher: Some(matcher),
                    });
                }
            }
            _ => return Err(ConfigError::at(&at, "unexpected field")),
        }
    }
    Ok(conditions)
}

/// The rule's `matches` list. An empty list, like an absent one, applies to every request
/// (Gateway API's default is the path prefix `/`).
pub fn matches(
    value: &Value,
    path: &JsonPath<'_>,
    attributes: &mut Attributes,
) -> ConfigResult<MatchRule> {
    blocks_of(value, path, attributes, one_match)
}

/// Gateway API's rank of each match of a `matches` list already compiled by [`matches`] (so its form
/// is known to be valid), in list order.
pub fn ranks(value: &Value) -> Vec<MatchRank> {
    let Some(items) = value.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let count = |key: &str| item.get(key).and_then(Value::as_array).map_or(0, Vec::len);
            let (path, path_len) = match item.get("path") {
                None => (PathKind::Prefix, 1),
                Some(path) => {
                    let value = path.get("value").and_then(Value::as_str).unwrap_or("/");
                    let kind = match path.get("type").and_then(Value::as_str) {
                        Some("Exact") => PathKind::Exact,
                        Some("RegularExpression") => PathKind::RegularExpression,
                        _ => PathKind::Prefix,
                    };
                    (kind, value.len())
                }
            };
            MatchRank {
                path,
                path_len,
                method: item.get("method").is_some(),
                headers: count("headers"),
                query_params: count("queryParams"),
            }
        })
        .collect()
}
