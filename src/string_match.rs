//! Istio's `StringMatch` over raw bytes: values that are not UTF-8 simply do not match.

pub use crate::whole_regex::{RegexBudget, WholeRegex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringMatch {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    /// Gateway API's `PathPrefix`: whole `/`-separated segments (`/foo` matches `/foo/bar`, not
    /// `/foobar`). Held without its trailing `/`, so `/` is the empty prefix and matches every path.
    PathSegments(Vec<u8>),
    Regex(WholeRegex),
}

/// `value` starts with the segments of `prefix`, compared by `same`.
fn has_segments(value: &[u8], prefix: &[u8], same: fn(&[u8], &[u8]) -> bool) -> bool {
    value
        .get(..prefix.len())
        .is_some_and(|head| same(head, prefix))
        && value.get(prefix.len()).is_none_or(|next| *next == b'/')
}

impl StringMatch {
    pub fn matches(&self, value: &[u8]) -> bool {
        match self {
            StringMatch::Exact(expected) => value == expected.as_slice(),
            StringMatch::Prefix(prefix) => value.starts_with(prefix),
            StringMatch::PathSegments(prefix) => has_segments(value, prefix, |a, b| a == b),
            StringMatch::Regex(regex) => regex.matches(value),
        }
    }

    /// For `ignoreUriCase`: compares ASCII letters case-insensitively.
    pub fn matches_ignoring_ascii_case(&self, value: &[u8]) -> bool {
        match self {
            StringMatch::Exact(expected) => value.eq_ignore_ascii_case(expected),
            StringMatch::Prefix(prefix) => value
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
            StringMatch::PathSegments(prefix) => {
                has_segments(value, prefix, <[u8]>::eq_ignore_ascii_case)
            }
            // `ignoreUriCase` never applies to a regex, as in Envoy (config/match_block.rs).
            StringMatch::Regex(regex) => regex.matches(value),
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
    fn path_segments_match_whole_segments() {
        let foo = StringMatch::PathSegments(b"/foo".to_vec());
        assert!(foo.matches(b"/foo"));
        assert!(foo.matches(b"/foo/"));
        assert!(foo.matches(b"/foo/bar"));
        assert!(!foo.matches(b"/foobar"));
        assert!(!foo.matches(b"/fo"));
        assert!(!foo.matches(b"/Foo"));
        assert!(foo.matches_ignoring_ascii_case(b"/FOO/bar"));
        assert!(!foo.matches_ignoring_ascii_case(b"/FOOBAR"));
        let root = StringMatch::PathSegments(Vec::new());
        assert!(root.matches(b"/"));
        assert!(root.matches(b"/anything"));
    }

    #[test]
    fn non_utf8_values_never_match_text() {
        let exact = StringMatch::Exact(b"caf\xc3\xa9".to_vec());
        assert!(!exact.matches(b"caf\xe9"));
        assert!(!StringMatch::Prefix(b"a".to_vec()).matches(b"\xff\xfe"));
    }

    #[test]
    fn regex_matches_the_whole_value_and_only_text() {
        let regex = StringMatch::Regex(
            WholeRegex::new("/reviews/[0-9]+", &mut RegexBudget::default()).unwrap(),
        );
        assert!(regex.matches(b"/reviews/12"));
        assert!(!regex.matches(b"/reviews/12/x"), "anchored at the end");
        assert!(!regex.matches(b"x/reviews/12"), "anchored at the start");
        assert!(!regex.matches(b"/reviews/\xff"));
        let either =
            StringMatch::Regex(WholeRegex::new("v1|v2", &mut RegexBudget::default()).unwrap());
        assert!(either.matches(b"v2"));
        assert!(
            !either.matches(b"v1v2"),
            "alternation stays inside the anchors"
        );
        assert!(WholeRegex::new("(unclosed", &mut RegexBudget::default())
            .unwrap_err()
            .starts_with("invalid regex"));
    }

    #[test]
    fn ignoring_case() {
        let prefix = StringMatch::Prefix(b"/Reviews".to_vec());
        assert!(prefix.matches_ignoring_ascii_case(b"/reviews/1"));
        assert!(!prefix.matches_ignoring_ascii_case(b"/rev"));
        let exact = StringMatch::Exact(b"/A".to_vec());
        assert!(exact.matches_ignoring_ascii_case(b"/a"));
        let regex = WholeRegex::new("/Reviews/.*", &mut RegexBudget::default()).unwrap();
        let regex = StringMatch::Regex(regex);
        assert!(!regex.matches_ignoring_ascii_case(b"/REVIEWS/1"));
        assert!(regex.matches_ignoring_ascii_case(b"/Reviews/1"));
    }
}
