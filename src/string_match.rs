//! Istio's `StringMatch` over raw bytes: values that are not UTF-8 simply do not match.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringMatch {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
}

impl StringMatch {
    pub fn matches(&self, value: &[u8]) -> bool {
        match self {
            StringMatch::Exact(expected) => value == expected.as_slice(),
            StringMatch::Prefix(prefix) => value.starts_with(prefix),
        }
    }

    /// For `ignoreUriCase`: compares ASCII letters case-insensitively.
    pub fn matches_ignoring_ascii_case(&self, value: &[u8]) -> bool {
        match self {
            StringMatch::Exact(expected) => value.eq_ignore_ascii_case(expected),
            StringMatch::Prefix(prefix) => value
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn exact_and_prefix() {
        let exact = StringMatch::Exact(b"jason".to_vec());
        assert!(exact.matches(b"jason"));
        assert!(!exact.matches(b"jason2"));
        assert!(!exact.matches(b"Jason"));
        let prefix = StringMatch::Prefix(b"/api/".to_vec());
        assert!(prefix.matches(b"/api/v1"));
        assert!(!prefix.matches(b"/ap"));
        assert!(StringMatch::Prefix(Vec::new()).matches(b""));
    }

    #[test]
    fn non_utf8_values_never_match_text() {
        let exact = StringMatch::Exact(b"caf\xc3\xa9".to_vec());
        assert!(!exact.matches(b"caf\xe9"));
        assert!(!StringMatch::Prefix(b"a".to_vec()).matches(b"\xff\xfe"));
    }

    #[test]
    fn ignoring_case() {
        let prefix = StringMatch::Prefix(b"/Reviews".to_vec());
        assert!(prefix.matches_ignoring_ascii_case(b"/reviews/1"));
        assert!(!prefix.matches_ignoring_ascii_case(b"/rev"));
        let exact = StringMatch::Exact(b"/A".to_vec());
        assert!(exact.matches_ignoring_ascii_case(b"/a"));
    }
}
