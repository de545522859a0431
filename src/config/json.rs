//! The configuration document as parsed: serde_json's parser and numbers, in a smaller tree than
//! `serde_json::Value`, whose every object is a B-tree node of about 300 bytes however few its keys.
//!
//! The tree lives only while the configuration compiles, but a Wasm VM's linear memory never
//! shrinks: the tree's size is each VM's high-water mark for good. So an object here is a vector of
//! its members sorted by key, holding exactly its members; `get` and the iteration order are those
//! of serde_json's map (sorted, the last of duplicate keys wins), so reading is unchanged. Keys and
//! strings borrow from the document unless they hold an escape. A number is boxed: numbers are
//! rare and twice a pointer's size.

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'d> {
    Null,
    Bool(bool),
    Number(Box<Number>),
    String(Cow<'d, str>),
    Array(Vec<Value<'d>>),
    Object(Map<'d>),
}

/// A JSON object's members, sorted by key, keys unique.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map<'d> {
    members: Vec<(Cow<'d, str>, Value<'d>)>,
}

impl<'d> Map<'d> {
    /// Sorts the members as read; of duplicate keys the last one stays, as serde_json keeps it.
    fn from_members(mut members: Vec<(Cow<'d, str>, Value<'d>)>) -> Self {
        // Stable, so duplicates stay in document order and the last of each run is kept.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.reverse();
        members.dedup_by(|later, earlier| later.0 == earlier.0);
        members.reverse();
        members.shrink_to_fit();
        Map { members }
    }

    pub fn new() -> Self {
        Map::default()
    }

    /// Any key that reads as a `str` (`&str`, `&String`), as serde_json's map takes.
    pub fn get<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> Option<&Value<'d>> {
        let key = key.as_ref();
        self.members
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|at| &self.members[at].1)
    }

    pub fn contains_key<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'d>)> {
        self.members
            .iter()
            .map(|(key, value)| (key.as_ref(), value))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(key, _)| key.as_ref())
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl<'m, 'd> IntoIterator for &'m Map<'d> {
    type Item = (&'m str, &'m Value<'d>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'m, (Cow<'d, str>, Value<'d>)>,
        fn(&'m (Cow<'d, str>, Value<'d>)) -> (&'m str, &'m Value<'d>),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.members
            .iter()
            .map(|(key, value)| (key.as_ref(), value))
    }
}

impl<'d> Value<'d> {
    pub fn as_object(&self) -> Option<&Map<'d>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value<'d>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The member `key` of an object; `None` for a missing key or any other value.
    pub fn get(&self, key: &str) -> Option<&Value<'d>> {
        self.as_object().and_then(|map| map.get(key))
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// A key, borrowed from the document when it has no escape (serde's own `Cow` always copies).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(text)))
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(text)))
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(Box::new(n.into())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(Box::new(n.into())))
    }

    /// As serde_json: a float JSON cannot hold becomes null (its parser refuses them before).
    fn visit_f64<E>(self, n: f64) -> Result<Value<'de>, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, |n| Value::Number(Box::new(n))))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(text)))
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(text)))
    }

    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value<'de>, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        items.shrink_to_fit();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some((Key(key), value)) = map.next_entry()? {
            members.push((key, value));
        }
        Ok(Value::Object(Map::from_members(members)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn parse(text: &str) -> Value<'_> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn objects_read_as_serde_json_reads_them() {
        let value = parse(r#"{"b": 1, "a": [true, null, "x"], "b": 2.5, "c": {}}"#);
        let map = value.as_object().unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(map.get("b").and_then(Value::as_f64), Some(2.5));
        assert_eq!(map.len(), 3);
        assert!(map.get("c").and_then(Value::as_object).unwrap().is_empty());
        let items = value.get("a").and_then(Value::as_array).unwrap();
        assert_eq!(items[0].as_bool(), Some(true));
        assert!(items[1].is_null());
        assert_eq!(items[2].as_str(), Some("x"));
        assert_eq!(value.get("z"), None);
        assert_eq!(parse("7").get("a"), None);
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let value = parse(r#"{"plain": "text", "a\u0062": "x\ny"}"#);
        assert!(matches!(
            value.get("plain"),
            Some(Value::String(Cow::Borrowed("text")))
        ));
        let escaped = value.get("ab").and_then(Value::as_str);
        assert_eq!(escaped, Some("x\ny"));
        assert_eq!(
            value.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["ab", "plain"]
        );
    }

    #[test]
    fn numbers_keep_serde_json_semantics() {
        assert_eq!(parse("7").as_u64(), Some(7));
        assert_eq!(parse("-5").as_u64(), None);
        assert_eq!(parse("1.5").as_u64(), None);
        let Value::Number(n) = parse("-5") else {
            panic!("not a number")
        };
        assert_eq!(n.to_string(), "-5");
        assert!(serde_json::from_str::<Value>("1e999").is_err());
    }
}
