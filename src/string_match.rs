//! Istio's `StringMatch` over raw bytes: values that are not UTF-8 simply do not match.

/// The compiled size one pattern may take (bytes of the engine's program, per VM). Ordinary
/// patterns need 1 to 8 KiB (`.{0,256}` needs 32 KiB); a counted-repetition bomb such as
/// `(?:.{1000}){200}` needs megabytes and is refused. It also bounds the work per request,
/// which grows with program size times value length.
pub const REGEX_SIZE_LIMIT: usize = 32 * 1024;

/// An RE2-style pattern that must match the whole value, as Envoy's `safe_regex` does.
/// `regex-lite` guarantees linear-time matching, so a hostile value cannot stall a worker.
#[derive(Debug, Clone)]
pub struct WholeRegex {
    pattern: String,
    compiled: regex_lite::Regex,
}

impl WholeRegex {
    /// Fails with the engine's reason on an invalid pattern, or one whose compiled program would
    /// exceed [`REGEX_SIZE_LIMIT`].
    pub fn new(pattern: &str) -> Result<Self, String> {
        let compiled = regex_lite::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                let reason = e.to_string().replace('\n', " ");
                if reason.contains("size limit") {
                    format!(
                        "regex too large: it compiles beyond the {} KiB limit; simplify it",
                        REGEX_SIZE_LIMIT / 1024
                    )
                } else {
                    format!("invalid regex: {reason}")
                }
            })?;
        Ok(WholeRegex {
            pattern: pattern.to_string(),
            compiled,
        })
    }

    /// The same pattern, matching regardless of case (for `ignoreUriCase`).
    pub fn ignoring_case(&self) -> Result<Self, String> {
        let mut insensitive = WholeRegex::new(&format!("(?i:{})", self.pattern))?;
        insensitive.pattern = self.pattern.clone();
        Ok(insensitive)
    }

    fn matches(&self, value: &[u8]) -> bool {
        std::str::from_utf8(value).is_ok_and(|text| self.compiled.is_match(text))
    }
}

impl PartialEq for WholeRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for WholeRegex {}

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
            // Compiled case-insensitive already (see `WholeRegex::ignoring_case`).
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
        let regex = StringMatch::Regex(WholeRegex::new("/reviews/[0-9]+").unwrap());
        assert!(regex.matches(b"/reviews/12"));
        assert!(!regex.matches(b"/reviews/12/x"), "anchored at the end");
        assert!(!regex.matches(b"x/reviews/12"), "anchored at the start");
        assert!(!regex.matches(b"/reviews/\xff"));
        let either = StringMatch::Regex(WholeRegex::new("v1|v2").unwrap());
        assert!(either.matches(b"v2"));
        assert!(
            !either.matches(b"v1v2"),
            "alternation stays inside the anchors"
        );
        assert!(WholeRegex::new("(unclosed")
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
        let regex = WholeRegex::new("/Reviews/.*").unwrap();
        let insensitive = StringMatch::Regex(regex.ignoring_case().unwrap());
        assert!(insensitive.matches_ignoring_ascii_case(b"/REVIEWS/1"));
        assert!(!StringMatch::Regex(regex).matches(b"/REVIEWS/1"));
    }
}
