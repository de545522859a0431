//! Structured mutation: fuzz input read as a short list of JSON edits to the rich configuration, so
//! inputs reach the checks behind valid JSON and valid neighbours (weights, ports, names, templates).

use crate::cursor::Cursor;
use crate::rich_config::{RICH_CONFIG, RICH_GATEWAY_CONFIG};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

const MAX_EDITS: usize = 16;
/// Edits stop once the document is larger than this: the point is odd shapes, not big ones.
const MAX_DOCUMENT: usize = 64 * 1024;

/// Field names the parser knows, ones it refuses as not implemented, near misses, and header names.
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "clusterHeader", "clusterName", "responseHeader", "hosts", "http", "name", "match", "route",
    "sticky", "destination", "weight", "host", "subset", "port", "number", "header", "cookie", "uri",
    "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "ignoreUriCase",
    "routeName", "exact", "prefix", "regex", "gateways", "tcp", "exportTo", "redirect", "mirror",
    "sourceLabels", "wieght", "Weight", "", "end-user", ":path", "x-user-id", "Upper", "a\nb", "\u{0}",
    // The HTTPRoute shape.
    "rules", "hostnames", "parentRefs", "namespace", "matches", "backendRefs", "path", "type", "value", "group",
    "kind", "filters", "timeouts", "retry", "sessionPersistence", "backendRef",
];

/// Strings for names, hosts, templates and patterns: valid ones, near misses and hostile bytes.
#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "", " ", "*", "*.", "*.example.com", "reviews", "reviews.default.svc.cluster.local", "[::1]",
    "{host}", "{subset}", "{port}", "{", "}", "{}", "{nope}", "{host", "outbound|{port}|{subset}|{host}",
    ":path", ":authority", "host", "Host", "x-traffic-shift-cluster", "a b", "a\nb", "\r\n", "\u{0}",
    "\u{7f}", "é", "\u{1F600}", "user", "jason", "%ff", "\\", "\"", ";", "=", "/API/v1",
    // Regex patterns: invalid, anchors, classes, nested and large repetitions.
    "(", ")", "[", "a{2,1}", "^/a$", ".*", "(?i)x", "[^\\x00-\\x7f]", "\\p{L}", "\\b", "(a|b)*c",
    "(?:.{1000}){10}", "a{1001}",
    // Gateway API's enums and names.
    "Exact", "PathPrefix", "RegularExpression", "Prefix", "Service", "ServiceImport", "GET", "get", "/", "/foo/",
    "//", "/./", "%2F", "reviews-v1", "Reviews", "-a", "End-User",
];

fn pick<'t>(table: &[&'t str], cursor: &mut Cursor) -> &'t str {
    table[usize::from(cursor.byte().unwrap_or(0)) % table.len()]
}

fn input_string(cursor: &mut Cursor) -> String {
    String::from_utf8_lossy(cursor.field().unwrap_or_default()).into_owned()
}

fn interesting_value(cursor: &mut Cursor) -> Value {
    match cursor.byte().unwrap_or(0) % 20 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(false),
        3 => json!(0),
        4 => json!(-1),
        5 => json!(1),
        6 => json!(65_535),
        7 => json!(65_536),
        8 => json!(u32::MAX),
        9 => json!(u64::from(u32::MAX) + 1),
        10 => json!(u64::MAX),
        11 => json!(i64::MIN),
        12 => json!(1.5),
        13 => json!(-0.0),
        14 => json!(1e308),
        15 => json!(pick(STRINGS, cursor)),
        16 => json!(input_string(cursor)),
        17 => {
            let unit = pick(STRINGS, cursor);
            let times = usize::from(cursor.byte().unwrap_or(0)) * 64;
            json!(unit.repeat(times.min(MAX_DOCUMENT / unit.len().max(1))))
        }
        18 => json!([]),
        _ => json!({}),
    }
}

/// Walks down from `node`: each input byte stops (0) or picks a child.
fn walk<'v>(node: &'v mut Value, cursor: &mut Cursor) -> &'v mut Value {
    let len = match &*node {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    };
    let step = usize::from(cursor.byte().unwrap_or(0));
    if step == 0 || len == 0 {
        return node;
    }
    let index = (step - 1) % len;
    match node {
        Value::Array(items) => walk(&mut items[index], cursor),
        Value::Object(map) => walk(map.values_mut().nth(index).expect("index < len"), cursor),
        other => other,
    }
}

fn nth_key(map: &Map<String, Value>, cursor: &mut Cursor) -> Option<String> {
    let n = usize::from(cursor.byte().unwrap_or(0)) % map.len().max(1);
    map.keys().nth(n).cloned()
}

fn edit(node: &mut Value, cursor: &mut Cursor) {
    match (cursor.byte().unwrap_or(0) % 7, node) {
        (1, Value::Object(map)) => {
            if let Some(key) = nth_key(map, cursor) {
                map.remove(&key);
            }
        }
        (1, Value::Array(items)) if !items.is_empty() => {
            let index = usize::from(cursor.byte().unwrap_or(0)) % items.len();
            items.remove(index);
        }
        (2, Value::Object(map)) => {
            let key = match cursor.byte().unwrap_or(0) {
                0 => input_string(cursor),
                _ => pick(KEYS, cursor).to_string(),
            };
            map.insert(key, interesting_value(cursor));
        }
        (2, Value::Array(items)) => items.push(interesting_value(cursor)),
        (3, node) => {
            let inner = node.take();
            *node = match cursor.byte().unwrap_or(0) % 2 {
                0 => json!([inner]),
                _ => json!({ pick(KEYS, cursor): inner }),
            };
        }
        (4, node) => {
            let first = match node {
                Value::Array(items) => items.first().cloned(),
                Value::Object(map) => map.values().next().cloned(),
                _ => None,
            };
            if let Some(first) = first {
                *node = first;
            }
        }
        (5, Value::Array(items)) if !items.is_empty() => {
            let index = usize::from(cursor.byte().unwrap_or(0)) % items.len();
            let copy = items[index].clone();
            items.push(copy);
        }
        (6, Value::Object(map)) => {
            if let Some(key) = nth_key(map, cursor) {
                let value = map.remove(&key).unwrap_or_default();
                map.insert(pick(KEYS, cursor).to_string(), value);
            }
        }
        (_, node) => *node = interesting_value(cursor),
    }
}

/// Serialized size, give or take quoting; stops counting past `limit` (cheaper than serializing).
fn size_within(value: &Value, limit: usize) -> Option<usize> {
    let size = match value {
        Value::String(text) => text.len() + 2,
        Value::Array(items) => items.iter().try_fold(2, |sum, item| {
            size_within(item, limit)
                .map(|size| sum + size + 1)
                .filter(|sum| *sum <= limit)
        })?,
        Value::Object(map) => map.iter().try_fold(2, |sum, (key, item)| {
            size_within(item, limit)
                .map(|size| sum + key.len() + size + 4)
                .filter(|sum| *sum <= limit)
        })?,
        _ => 24,
    };
    (size <= limit).then_some(size)
}

/// `document` after the edits the input spells, serialized.
fn mutated(mut document: Value, data: &[u8]) -> Vec<u8> {
    let mut cursor = Cursor::new(data);
    for _ in 0..MAX_EDITS {
        if cursor.is_empty() {
            break;
        }
        edit(walk(&mut document, &mut cursor), &mut cursor);
        // One edit at most doubles the document (or adds a MAX_DOCUMENT string), so it stays bounded.
        if size_within(&document, MAX_DOCUMENT).is_none() {
            break;
        }
    }
    serde_json::to_vec(&document).unwrap_or_default()
}

/// The rich configuration (VirtualService shape) after the input's edits.
pub fn mutated_rich_config(data: &[u8]) -> Vec<u8> {
    static RICH: OnceLock<Value> = OnceLock::new();
    let document =
        RICH.get_or_init(|| serde_json::from_str(RICH_CONFIG).expect("RICH_CONFIG is JSON"));
    mutated(document.clone(), data)
}

/// The rich HTTPRoute-shaped configuration after the input's edits.
pub fn mutated_rich_gateway_config(data: &[u8]) -> Vec<u8> {
    static RICH: OnceLock<Value> = OnceLock::new();
    let document = RICH.get_or_init(|| {
        serde_json::from_str(RICH_GATEWAY_CONFIG).expect("RICH_GATEWAY_CONFIG is JSON")
    });
    mutated(document.clone(), data)
}
