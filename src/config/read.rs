//! Typed reads from a JSON value, each failing with the path and a reason a user can act on.

use super::error::{ConfigError, ConfigResult};
use super::json::{Map, Value};
use super::path::JsonPath;

/// How a value is named in "expected X, got Y" messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 40 => {
            let short: String = s.chars().take(40).collect();
            format!("the string \"{short}…\"")
        }
        Value::String(s) => format!("the string {}", serde_json::Value::from(s.as_ref())),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn expected(path: &JsonPath<'_>, what: &str, got: &Value) -> ConfigError {
    ConfigError::at(path, format!("expected {what}, got {}", describe(got)))
}

pub fn object<'v>(value: &'v Value<'v>, path: &JsonPath<'_>) -> ConfigResult<&'v Map<'v>> {
    value
        .as_object()
        .ok_or_else(|| expected(path, "an object", value))
}

pub fn array<'v>(value: &'v Value<'v>, path: &JsonPath<'_>) -> ConfigResult<&'v [Value<'v>]> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| expected(path, "an array", value))
}

pub fn string<'v>(value: &'v Value<'v>, path: &JsonPath<'_>) -> ConfigResult<&'v str> {
    value
        .as_str()
        .ok_or_else(|| expected(path, "a string", value))
}

pub fn non_empty_string<'v>(value: &'v Value<'v>, path: &JsonPath<'_>) -> ConfigResult<&'v str> {
    let text = string(value, path)?;
    if text.is_empty() {
        return Err(ConfigError::at(path, "must not be empty"));
    }
    Ok(text)
}

pub fn bool_value(value: &Value, path: &JsonPath<'_>) -> ConfigResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| expected(path, "true or false", value))
}

/// A non-negative integer no larger than `max`.
pub fn unsigned(value: &Value, path: &JsonPath<'_>, max: u64) -> ConfigResult<u64> {
    match value.as_u64() {
        Some(n) if n <= max => Ok(n),
        Some(n) => Err(ConfigError::at(
            path,
            format!("expected an integer no larger than {max}, got {n}"),
        )),
        None => Err(expected(path, "a non-negative integer", value)),
    }
}

/// The keys an object may hold: those we implement, and VirtualService keys we knowingly do not.
pub struct Schema<'s> {
    pub known: &'s [&'s str],
    pub not_implemented: &'s [&'s str],
}

impl Schema<'_> {
    /// Refuses any key outside the schema, so a typo never passes unnoticed.
    pub fn check(&self, map: &Map, path: &JsonPath<'_>) -> ConfigResult<()> {
        self.check_as(map, path, "VirtualService", &[])
    }

    /// [`Schema::check`] for an object of the `api` resource (`not_implemented` are its fields),
    /// which may also hold traffic-shift's own `extensions`.
    pub fn check_as(
        &self,
        map: &Map,
        path: &JsonPath<'_>,
        api: &str,
        extensions: &[&str],
    ) -> ConfigResult<()> {
        for key in map.keys() {
            if self.known.contains(&key) || extensions.contains(&key) {
                continue;
            }
            let at = path.key(key);
            if self.not_implemented.contains(&key) {
                return Err(ConfigError::at(
                    &at,
                    format!("the {api} field \"{key}\" is not implemented by traffic-shift"),
                ));
            }
            let known: Vec<&str> = self.known.iter().chain(extensions).copied().collect();
            let hint = closest(key, &known)
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_default();
            let choices = known.join(", ");
            return Err(ConfigError::at(
                &at,
                format!("unknown field \"{key}\"{hint}; expected one of: {choices}"),
            ));
        }
        Ok(())
    }
}

/// The known key within edit distance 2 of a misspelt one.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json's `json!`, read into the configuration's own tree (which borrows its text: leaked,
    /// in a test).
    macro_rules! json {
        ($($value:tt)+) => {
            serde_json::from_str::<Value>(Box::leak(
                serde_json::json!($($value)+).to_string().into_boxed_str(),
            ))
            .unwrap()
        };
    }
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn suggests_the_nearest_key() {
        assert_eq!(
            closest("wieght", &["destination", "weight"]),
            Some("weight")
        );
        assert_eq!(closest("colour", &["destination", "weight"]), None);
    }

    #[test]
    fn refuses_unknown_and_unimplemented_keys() {
        let schema = Schema {
            known: &["weight"],
            not_implemented: &["headers"],
        };
        let root = JsonPath::Root;
        let typo = json!({"wieght": 1});
        let err = schema
            .check(object(&typo, &root).unwrap(), &root)
            .unwrap_err();
        assert_eq!(err.path, "wieght");
        assert!(
            err.reason.contains("did you mean \"weight\""),
            "{}",
            err.reason
        );
        let later = json!({"headers": {}});
        let err = schema
            .check(object(&later, &root).unwrap(), &root)
            .unwrap_err();
        assert!(err.reason.contains("not implemented"), "{}", err.reason);
    }

    #[test]
    fn unsigned_reports_what_it_got() {
        let root = JsonPath::Root;
        let err = unsigned(&json!(-5), &root, 10).unwrap_err();
        assert_eq!(err.reason, "expected a non-negative integer, got -5");
        let err = unsigned(&json!(1.5), &root, 10).unwrap_err();
        assert_eq!(err.reason, "expected a non-negative integer, got 1.5");
        let err = unsigned(&json!("50"), &root, 10).unwrap_err();
        assert_eq!(
            err.reason,
            "expected a non-negative integer, got the string \"50\""
        );
        assert_eq!(unsigned(&json!(7), &root, 10), Ok(7));
        assert!(unsigned(&json!(11), &root, 10).is_err());
    }
}
