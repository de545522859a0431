//! The configuration document as parsed: serde_json's parser and numbers, in a smaller tree than
//! `serde_json::Value`, whose every object is a B-tree node of about 300 bytes however few its keys.
//!
//! The tree lives only while the configuration compiles, but a Wasm VM's linear memory never
//! shrinks: the tree's size is each VM's high-water mark for good. So an object here is a vector of
//! its members sorted by key, holding exactly its members; `get` and the iteration order are those
//! of serde_json's map (sorted, the last of duplicate keys wins), so reading is unchanged. A number
//! is boxed: numbers are rare and twice a pointer's size.

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::borrow::Borrow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Box<Number>),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON object's members, sorted by key, keys unique.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map {
    members: Vec<(String, Value)>,
}

impl Map {
    /// Sorts the members as read; of duplicate keys the last one stays, as serde_json keeps it.
    fn from_members(mut members: Vec<(String, Value)>) -> Self {
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

    /// As serde_json's: any key type a `String` borrows as (`&str`, `&String`).
    pub fn get<Q: ?Sized + Ord>(&self, key: &Q) -> Option<&Value>
    where
        String: Borrow<Q>,
    {
        self.members
            .binary_search_by(|(k, _)| k.borrow().cmp(key))
            .ok()
            .map(|at| &self.members[at].1)
    }

    pub fn contains_key<Q: ?Sized + Ord>(&self, key: &Q) -> bool
    where
        String: Borrow<Q>,
    {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.members.iter().map(|(key, value)| (key, value))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.members.iter().map(|(key, _)| key)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl<'m> IntoIterator for &'m Map {
    type Item = (&'m String, &'m Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'m, (String, Value)>,
        fn(&'m (String, Value)) -> (&'m String, &'m Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.members.iter().map(|(key, value)| (key, value))
    }
}

impl Value {
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
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
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|map| map.get(key))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(Box::new(n.into())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(Box::new(n.into())))
    }

    /// As serde_json: a float JSON cannot hold becomes null (its parser refuses them before).
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, |n| Value::Number(Box::new(n))))
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_owned()))
    }

    fn visit_string<E>(self, text: String) -> Result<Value, E> {
        Ok(Value::String(text))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        items.shrink_to_fit();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry()? {
            members.push(member);
        }
        Ok(Value::Object(Map::from_members(members)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn parse(text: &str) -> Value {
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
