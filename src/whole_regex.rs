//! `safe_regex` as Envoy runs it: RE2 syntax, a whole-value match, linear time, bounded size.
//!
//! The engine is `regex-automata`'s lazy DFA alone (no backtracker, no literal prefilters, no
//! Pike VM): like RE2's DFA it builds each state the first time an input reaches it, so the usual
//! pattern scans a value at a table lookup per byte, and a pattern whose states do not fit its
//! cache rebuilds them, at worst the program's size per byte (RE2 falls back to its NFA there,
//! which costs the same). A value that is not UTF-8 never matches: the automaton reads UTF-8 only.

use crate::re2_syntax;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Hir, Look};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;

/// Istio refuses a longer regex (`len(re) > 1024`, in bytes) in its validation.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// The largest program accepted, in NFA states. Envoy refuses a regex whose RE2 program is larger
/// than `re2.max_program_size.error_level`: 100 by default, which Istio raises to 32768 in every
/// proxy's bootstrap, relying on its 1024-byte limit instead. A state of this NFA is about one RE2
/// instruction (both are byte-level Thompson programs with UTF-8 ranges), so the same number
/// accepts what Envoy accepts under Istio. It also bounds the worst case per request: a pattern
/// whose lazy DFA thrashes costs at most about this many steps per byte of the value, as RE2's
/// fallback to its NFA does.
pub const MAX_PROGRAM_STATES: usize = 32 * 1024;

/// Memory the compiler may use for one pattern before giving up, so that a repetition bomb such as
/// `(?:.{1000}){1000}` is refused early instead of being built and then measured.
const MAX_NFA_BYTES: usize = 4 << 20;

/// The lazy DFA's cache per pattern (and per worker thread): a base that holds every state of
/// the usual pattern, plus room proportional to the program for the larger ones.
const CACHE_BASE_BYTES: usize = 32 << 10;
const CACHE_BYTES_PER_STATE: usize = 64;

/// What all the regexes of one configuration may take compiled, per VM (each worker's VM compiles
/// its own copy): programs plus the most their caches can grow to. An ordinary regex takes about
/// 40 KiB of it, so about 800 fit; 2,000 copies of `.{0,200}` do not.
pub const CONFIG_REGEX_BYTES: usize = 32 << 20;

/// The compiled size of the regexes of one configuration so far, charged as each compiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegexBudget {
    used: usize,
}

impl RegexBudget {
    fn charge(&mut self, bytes: usize) -> Result<(), String> {
        let total = self.used.saturating_add(bytes);
        if total > CONFIG_REGEX_BYTES {
            return Err(format!(
                "the regexes up to this one take {} KiB compiled (this one {} KiB), more than the {} MiB \
                 one configuration may use; use fewer or simpler regexes",
                total >> 10,
                bytes >> 10,
                CONFIG_REGEX_BYTES >> 20
            ));
        }
        self.used = total;
        Ok(())
    }

    /// Bytes charged so far.
    pub fn used(&self) -> usize {
        self.used
    }
}

type CacheFactory = Box<dyn Fn() -> Cache + Send + Sync + UnwindSafe + RefUnwindSafe>;

struct Compiled {
    dfa: DFA,
    /// One cache per thread that matches (one per VM in Wasm; per worker in the native module).
    caches: Pool<Cache, CacheFactory>,
}

/// An RE2 pattern that must match the whole value, as Envoy's `safe_regex` does.
#[derive(Clone)]
pub struct WholeRegex {
    pattern: String,
    compiled: Arc<Compiled>,
}

impl std::fmt::Debug for WholeRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WholeRegex").field(&self.pattern).finish()
    }
}

impl WholeRegex {
    /// Compiles `pattern`, charging what it takes to `budget`. Fails with the reason on a pattern
    /// that is not RE2, is longer than Istio accepts, compiles larger than Envoy accepts under
    /// Istio, or would take the configuration past its budget.
    pub fn new(pattern: &str, budget: &mut RegexBudget) -> Result<Self, String> {
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(format!(
                "regex too long: {} bytes, more than the {MAX_PATTERN_BYTES} Istio accepts",
                pattern.len()
            ));
        }
        let parsed = re2_syntax::parse(pattern).map_err(|e| format!("invalid regex: {e}"))?;
        Self::compile(pattern, parsed, budget)
    }

    fn compile(pattern: &str, parsed: Hir, budget: &mut RegexBudget) -> Result<Self, String> {
        let too_large = || {
            format!(
                "regex too large: its program exceeds {MAX_PROGRAM_STATES} states, the size Envoy \
                 accepts under Istio; simplify it"
            )
        };
        // Anchored at the start by the search, at the end here: the whole value must match.
        let whole = Hir::concat(vec![parsed, Hir::look(Look::End)]);
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .nfa_size_limit(Some(MAX_NFA_BYTES))
                    .which_captures(thompson::WhichCaptures::None),
            )
            .build_from_hir(&whole)
            .map_err(|_| too_large())?;
        let states = nfa.states().len();
        if states > MAX_PROGRAM_STATES {
            return Err(too_large());
        }
        let cache_bytes = CACHE_BASE_BYTES + CACHE_BYTES_PER_STATE * states;
        budget.charge(nfa.memory_usage() + cache_bytes)?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .cache_capacity(cache_bytes)
                    // Never give up on a thrashing cache: keep rebuilding states (linear time).
                    .minimum_cache_clear_count(None),
            )
            .build_from_nfa(nfa)
            .map_err(|e| format!("regex too large: {e}"))?;
        let for_caches = dfa.clone();
        let caches: Pool<Cache, CacheFactory> =
            Pool::new(Box::new(move || for_caches.create_cache()));
        Ok(WholeRegex {
            pattern: pattern.to_string(),
            compiled: Arc::new(Compiled { dfa, caches }),
        })
    }

    pub fn matches(&self, value: &[u8]) -> bool {
        let compiled = &*self.compiled;
        let mut cache = compiled.caches.get();
        let input = Input::new(value).anchored(Anchored::Yes).earliest(true);
        // The DFA is built with no quit bytes and never gives up, so the search cannot fail; if it
        // did, the value would count as not matching.
        matches!(compiled.dfa.try_search_fwd(&mut cache, &input), Ok(Some(_)))
    }
}

impl PartialEq for WholeRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for WholeRegex {}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn regex(pattern: &str) -> WholeRegex {
        WholeRegex::new(pattern, &mut RegexBudget::default()).unwrap()
    }

    fn refusal(pattern: &str) -> String {
        WholeRegex::new(pattern, &mut RegexBudget::default()).unwrap_err()
    }

    #[test]
    fn unicode_classes_as_re2_has_them() {
        let letters = regex(r"\p{L}+");
        assert!(letters.matches("Zoë".as_bytes()));
        assert!(letters.matches("日本語".as_bytes()));
        assert!(!letters.matches(b"abc1"));
        assert!(
            regex(r"\pL\pN").matches("é٣".as_bytes()),
            "one-letter names"
        );
        assert!(regex(r"\p{Lu}\p{Ll}+").matches(b"Reviews"));
        assert!(!regex(r"\p{Lu}\p{Ll}+").matches(b"reviews"));
        assert!(regex(r"\p{Greek}+").matches("αβγ".as_bytes()), "scripts");
        assert!(!regex(r"\p{Greek}+").matches(b"abc"));
        assert!(regex(r"\P{L}+").matches(b"123-_"), "negated");
        assert!(
            regex(r"[\p{Han}\p{N}]+").matches("中文12".as_bytes()),
            "in a class"
        );
        assert!(
            regex(r"[[:alpha:]]+[[:digit:]]").matches(b"abc1"),
            "POSIX classes"
        );
        assert!(regex(r"\p{Any}+").matches("a\nß".as_bytes()));
    }

    #[test]
    fn perl_classes_are_ascii_as_in_re2() {
        assert!(regex(r"\d+").matches(b"0123456789"));
        assert!(!regex(r"\d").matches("٣".as_bytes()), "Arabic-Indic digit");
        assert!(regex(r"\D").matches("٣".as_bytes()));
        assert!(regex(r"\w+").matches(b"a_Z9"));
        assert!(!regex(r"\w").matches("é".as_bytes()));
        assert!(regex(r"\W").matches("é".as_bytes()));
        assert!(regex(r"\s+").matches(b" \t\n\r\x0c"));
        assert!(
            !regex(r"\s").matches(b"\x0b"),
            "RE2's \\s has no vertical tab"
        );
        assert!(!regex(r"\s").matches("\u{a0}".as_bytes()));
        assert!(regex(r"[\d\s]+").matches(b"1 2"), "inside a class");
        assert!(regex(r"[^\d]+").matches(b"ab"));
        assert!(regex(r"[\D]").matches("٣".as_bytes()));
        assert!(!regex(r"[\D]").matches(b"3"));
        assert!(regex(r"[a\W]+").matches(b"a-a"));
        assert!(!regex(r"[a\W]").matches(b"b"));
        assert!(regex(r".*\bv2\b.*").matches(b"api v2 beta"));
        assert!(!regex(r".*\bv2\b.*").matches(b"apiv2"));
        assert!(
            regex(r".*\bv2\b.*").matches("év2".as_bytes()),
            "é is not a word character for RE2's \\b"
        );
        assert!(regex(r"a\Bb").matches(b"ab"));
    }

    #[test]
    fn flags_as_in_re2() {
        assert!(regex(r"(?i)reviews").matches(b"REVIEWS"));
        assert!(
            !regex(r"(?i)straße").matches("STRASSE".as_bytes()),
            "simple case folding only, as RE2"
        );
        assert!(
            regex(r"(?i)σ").matches("Σ".as_bytes()),
            "Unicode case folding"
        );
        assert!(regex(r"(?s)a.b").matches(b"a\nb"));
        assert!(!regex(r"a.b").matches(b"a\nb"));
        assert!(regex(r"(?m)a$\nb").matches(b"a\nb"));
        assert!(regex(r"(?U)a+").matches(b"aaa"));
        assert!(regex(r"(?P<version>v[0-9])").matches(b"v1"));
        assert!(regex(r"a{2,3}").matches(b"aaa"));
        assert!(!regex(r"a{2,3}").matches(b"aaaa"));
    }

    #[test]
    fn extensions_re2_lacks_are_refused() {
        for pattern in [
            r"[a-z&&[^x]]",
            r"[a-z--x]",
            r"[[a-z]x]",
            r"\b{start}a",
            r"\<a",
            r"(?x) a b",
            r"(?-u:a)",
            r"(?R)a",
        ] {
            let reason = refusal(pattern);
            assert!(
                reason.starts_with("invalid regex: ") && reason.contains("not RE2 syntax"),
                "{pattern}: {reason}"
            );
        }
        assert_eq!(
            refusal("(unclosed"),
            "invalid regex: unclosed group (at bytes 0..1 of the pattern)"
        );
        let reason = refusal("\r\n[a");
        assert_eq!(
            reason,
            "invalid regex: unclosed character class (at bytes 2..3 of the pattern)"
        );
        assert!(
            refusal(r"a\1").starts_with("invalid regex:"),
            "backreference"
        );
        assert!(
            refusal(r"(?=a)").starts_with("invalid regex:"),
            "look-around"
        );
    }

    #[test]
    fn the_whole_value_must_match_and_only_utf8() {
        let either = regex("v1|v2");
        assert!(either.matches(b"v1") && either.matches(b"v2"));
        assert!(!either.matches(b"v1v2") && !either.matches(b"xv1") && !either.matches(b"v1x"));
        assert!(regex("").matches(b""));
        assert!(!regex("").matches(b"a"));
        assert!(!regex(".*").matches(b"ok\xff"), "not UTF-8");
        assert!(!regex(r"(?s).*").matches(b"\xc3"));
        assert!(regex(r"(?s).*").matches("ok\né".as_bytes()));
    }

    #[test]
    fn istio_length_limit_in_bytes() {
        let longest = "a".repeat(MAX_PATTERN_BYTES);
        assert!(regex(&longest).matches(longest.as_bytes()));
        assert_eq!(
            refusal(&format!("{longest}a")),
            "regex too long: 1025 bytes, more than the 1024 Istio accepts"
        );
        // Two bytes a character: 513 characters are 1026 bytes, as Istio's len() counts.
        assert!(refusal(&"é".repeat(513)).starts_with("regex too long: 1026 bytes"));
    }

    #[test]
    fn program_size_limit() {
        // Counted repetition multiplies the program: refused whatever the text length.
        for bomb in [
            r"(?:.{1000}){200}",
            r"\p{L}{1000}",
            r"(?:(?:a{100}){100}){100}",
        ] {
            assert_eq!(
                refusal(bomb),
                "regex too large: its program exceeds 32768 states, the size Envoy accepts under Istio; simplify it",
                "{bomb}"
            );
        }
        // Large but accepted: what Istio's proxies accept too.
        assert!(regex(r".{0,256}").matches(b"abc"));
        assert!(regex(r"[a-z]*a[a-z]{200}").matches(&[b'a'; 201]));
        assert!(regex(r".*a.{676}").matches(&[b'a'; 677]));
    }

    #[test]
    fn each_configuration_has_a_budget() {
        let mut budget = RegexBudget::default();
        let mut accepted = 0;
        let reason = loop {
            match WholeRegex::new(".{0,200}", &mut budget) {
                Ok(_) => accepted += 1,
                Err(reason) => break reason,
            }
            assert!(accepted < 2000, "2,000 copies of .{{0,200}} fit the budget");
        };
        assert!(accepted > 10, "{accepted}");
        assert!(budget.used() <= CONFIG_REGEX_BYTES);
        assert!(
            reason.contains("more than the 32 MiB one configuration may use"),
            "{reason}"
        );
        // Ordinary patterns: hundreds fit.
        let mut budget = RegexBudget::default();
        for i in 0..500 {
            WholeRegex::new(&format!("/api/v{i}/[a-z0-9-]+(/.*)?"), &mut budget).unwrap();
        }
    }

    #[test]
    fn clones_share_the_compiled_program_and_match_across_threads() {
        let regex = regex(r"[0-9a-f]{8}");
        let copy = regex.clone();
        assert_eq!(regex, copy);
        #[cfg(not(target_family = "wasm"))]
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        assert!(copy.matches(b"deadbeef"));
                        assert!(!copy.matches(b"deadbeeg"));
                    }
                });
            }
        });
        assert!(regex.matches(b"01234567"));
    }
}
