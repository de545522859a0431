//! JSON paths for error messages: `http[0].route[1].weight`.

use std::fmt;

/// A position in the configuration document, built on the stack while the parser descends.
#[derive(Clone, Copy)]
pub enum JsonPath<'a> {
    Root,
    Key(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl<'a> JsonPath<'a> {
    pub fn key(&'a self, key: &'a str) -> JsonPath<'a> {
        JsonPath::Key(self, key)
    }

    pub fn index(&'a self, index: usize) -> JsonPath<'a> {
        JsonPath::Index(self, index)
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Root => f.write_str("(top level)"),
            JsonPath::Key(parent, key) => {
                let at_root = matches!(parent, JsonPath::Root);
                if !at_root {
                    write!(f, "{parent}")?;
                }
                match (is_plain_key(key), at_root) {
                    (true, true) => f.write_str(key),
                    (true, false) => write!(f, ".{key}"),
                    (false, _) => write!(f, "[{}]", serde_json::Value::from(*key)),
                }
            }
            JsonPath::Index(JsonPath::Root, index) => write!(f, "[{index}]"),
            JsonPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::JsonPath;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn renders_keys_and_indexes() {
        let root = JsonPath::Root;
        let http = root.key("http");
        let first = http.index(0);
        let route = first.key("route");
        let second = route.index(1);
        let weight = second.key("weight");
        assert_eq!(weight.to_string(), "http[0].route[1].weight");
        assert_eq!(root.to_string(), "(top level)");
    }

    #[test]
    fn quotes_unusual_keys() {
        let root = JsonPath::Root;
        let headers = root.key("headers");
        let odd = headers.key("x y");
        assert_eq!(odd.to_string(), "headers[\"x y\"]");
        let dashed = headers.key("end-user");
        assert_eq!(dashed.to_string(), "headers.end-user");
    }
}
