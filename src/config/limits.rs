//! Bounds on the document itself, checked before and while it is read, so that a huge or hostile
//! configuration is refused with a path in milliseconds instead of stalling every worker or
//! filling the VM's memory.

use super::error::{ConfigError, ConfigResult};
use super::json::Value;
use super::path::JsonPath;
use serde_path_to_error::Segment;

/// Largest configuration accepted. 10,000 entries (3 MiB) compile in about a second and a
/// 24 MiB high-water mark of linear memory per VM; 50,000 (16 MiB) took 4 s and 270 MiB (with
/// serde_json's tree, more than twice what this parse keeps). An Istio WasmPlugin cannot get near it:
/// Kubernetes objects stop at about 1.5 MiB.
pub const MAX_CONFIG_BYTES: usize = 4 << 20;

/// Longest string (value or key): far beyond any host, header name, header value Envoy passes by
/// default or sensible entry name (names become stat names).
pub const MAX_STRING_BYTES: usize = 16 << 10;

/// Parses the document, naming the path where serde_json gave up (its nesting limit is 128, a
/// number may be out of range); then refuses any string longer than [`MAX_STRING_BYTES`].
pub fn parse_document(bytes: &[u8]) -> ConfigResult<Value<'_>> {
    let root = JsonPath::Root;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::at(
            &root,
            format!(
                "the configuration is {} bytes, more than the {MAX_CONFIG_BYTES} (4 MiB) accepted; \
                 split it across filter instances or routes",
                bytes.len()
            ),
        ));
    }
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let document: Value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let reason = format!("not valid JSON: {}", e.inner());
        at_segments(
            e.path().iter().collect::<Vec<_>>().as_slice(),
            &root,
            &reason,
        )
    })?;
    reader
        .end()
        .map_err(|e| ConfigError::at(&root, format!("not valid JSON: {e}")))?;
    check_strings(&document, &root)?;
    Ok(document)
}

fn at_segments(segments: &[&Segment], path: &JsonPath<'_>, reason: &str) -> ConfigError {
    match segments.split_first() {
        None => ConfigError::at(path, reason),
        Some((Segment::Seq { index }, rest)) => at_segments(rest, &path.index(*index), reason),
        Some((Segment::Map { key }, rest)) => at_segments(rest, &path.key(key), reason),
        Some((_, rest)) => at_segments(rest, path, reason),
    }
}

fn too_long(path: &JsonPath<'_>, what: &str, length: usize) -> ConfigError {
    ConfigError::at(
        path,
        format!("{what} is {length} bytes long, more than the {MAX_STRING_BYTES} accepted"),
    )
}

fn check_strings(value: &Value, path: &JsonPath<'_>) -> ConfigResult<()> {
    match value {
        Value::String(text) if text.len() > MAX_STRING_BYTES => {
            Err(too_long(path, "the string", text.len()))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_strings(item, &path.index(index))),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if key.len() > MAX_STRING_BYTES {
                return Err(too_long(path, "a key", key.len()));
            }
            check_strings(item, &path.key(key))
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn refusal(text: &str) -> String {
        match parse_document(text.as_bytes()) {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn nesting_beyond_serde_json_limit_is_refused_at_its_path() {
        let deep = format!(
            r#"{{"http": [{{"match": {}{}}}]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let message = refusal(&deep);
        assert!(
            message.starts_with("invalid configuration at http[0].match[0][0]"),
            "{message}"
        );
        assert!(
            message.ends_with("recursion limit exceeded at line 1 column 145"),
            "{message}"
        );
    }

    #[test]
    fn out_of_range_number_is_refused_at_its_path() {
        let message = refusal(r#"{"http": [{"route": [{"weight": 1e999}]}]}"#);
        assert!(
            message.starts_with(
                "invalid configuration at http[0].route[0].weight: not valid JSON: number out of range"
            ),
            "{message}"
        );
    }

    #[test]
    fn huge_strings_and_keys_are_refused_at_their_path() {
        let name = "n".repeat(MAX_STRING_BYTES + 1);
        let message = refusal(&format!(r#"{{"http": [{{"name": "{name}"}}]}}"#));
        assert_eq!(
            message,
            "invalid configuration at http[0].name: the string is 16385 bytes long, more than the 16384 accepted"
        );
        let message = refusal(&format!(
            r#"{{"http": [{{"match": [{{"headers": {{"{name}": {{}}}}}}]}}]}}"#
        ));
        assert!(
            message.contains("at http[0].match[0].headers: a key is 16385 bytes long"),
            "{message}"
        );
        assert_eq!(
            refusal(&format!(r#"{{"a": "{}"}}"#, "n".repeat(MAX_STRING_BYTES))),
            "accepted"
        );
    }

    #[test]
    fn oversized_document_is_refused_before_parsing() {
        let big = format!("[{}0]", "0,".repeat(MAX_CONFIG_BYTES / 2));
        let message = refusal(&big);
        assert!(message.starts_with("invalid configuration at (top level): the configuration is 4194307 bytes, more than the 4194304 (4 MiB) accepted"), "{message}");
    }

    #[test]
    fn trailing_text_is_refused() {
        assert!(refusal("{} x").contains("(top level): not valid JSON: trailing characters"));
    }
}
