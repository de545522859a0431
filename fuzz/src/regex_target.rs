//! The regex path on its own: a pattern and a value from fuzz input (appended after the request
//! target's fields), through the same `WholeRegex` a configuration compiles.

use crate::cursor::Cursor;
use traffic_shift::whole_regex::{RegexBudget, WholeRegex, CONFIG_REGEX_BYTES};

/// Longest value matched here: the worst pattern costs up to its program size per byte, and the
/// fuzzer's timeout is for findings, not for that documented bound.
const MAX_VALUE: usize = 4096;

/// `pattern` escaped so that it matches exactly its own text.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Compiles the pattern and matches the value: no panic, a refusal is one line, a value that is not
/// UTF-8 never matches, and a value escaped as a pattern matches itself and nothing longer.
pub fn regex_path(cursor: &mut Cursor) {
    let (Some(pattern), Some(value)) = (cursor.field(), cursor.field()) else {
        return;
    };
    let value = &value[..value.len().min(MAX_VALUE)];
    let mut budget = RegexBudget::default();
    let pattern = String::from_utf8_lossy(pattern);
    match WholeRegex::new(&pattern, &mut budget) {
        Ok(regex) => {
            let matched = regex.matches(value);
            if std::str::from_utf8(value).is_err() {
                assert!(!matched, "{pattern:?} matched bytes that are not UTF-8");
            }
            // Cloned (as a configuration's matchers are) it decides the same.
            assert_eq!(regex.clone().matches(value), matched);
        }
        Err(reason) => assert!(!reason.contains(['\n', '\r']), "{reason:?}"),
    }
    assert!(budget.used() <= CONFIG_REGEX_BYTES);
    if let Ok(text) = std::str::from_utf8(value) {
        let literal = escaped(text);
        if let Ok(regex) = WholeRegex::new(&literal, &mut RegexBudget::default()) {
            assert!(
                regex.matches(value),
                "{literal:?} does not match its own text"
            );
            let longer = [value, b"x"].concat();
            assert!(
                !regex.matches(&longer),
                "{literal:?} matched more than the whole value"
            );
        }
    }
}
