//! What the core asks about a request, and a per-request memo so each value is fetched once.

use crate::whole_regex::RegexBudget;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The host's view of the request. Each shell implements it with its host's calls (proxy-wasm's
/// header and property reads; the dynamic module's filter and cluster-specifier callbacks); tests
/// with `test_kit::FakeRequest`.
pub trait RequestSource {
    /// A request header's first value (or a pseudo-header such as `:path`) as raw bytes: borrowed
    /// where the host's copy outlives the decision, owned where the host handed a copy over.
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>>;
    /// Whether a value after the first of a repeated header passes `test`. Envoy's route matching
    /// tries every value of a repeated header, so a header condition whose first value fails asks
    /// for the others. A source that holds one value per name has no others.
    fn any_later_value(&self, _name: &str, _test: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        false
    }
    /// Envoy's route name (`xds.route_name`).
    fn route_name(&self) -> Option<Cow<'_, [u8]>>;
}

/// Something a compiled configuration reads from a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attribute {
    Header(String),
    RouteName,
}

/// What fetching an attribute costs the host, cheapest first (measured per host call in Envoy 1.40,
/// BENCHMARKS.md): a header lookup that finds nothing returns a status only (~0.3 us); a value is
/// handed over through a call back into the module's allocator (~1.6 us); a property is dearer still.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FetchCost {
    /// A header that selects special traffic: usually absent, so a lookup is a cheap miss.
    UsuallyAbsentHeader,
    /// A pseudo-header (`:path`, `:method`, `:authority`, `:scheme`): always present, always handed over.
    AlwaysPresentHeader,
    /// `xds.route_name`, through `get_property`.
    Property,
}

/// Compile-time registry of attributes: each distinct one gets a slot number. Lookups by name are
/// hashed, so registering n attributes costs O(n) whatever their number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    list: Vec<Attribute>,
    /// The slot of each header name in `list`.
    headers: HashMap<String, usize>,
    route_name: Option<usize>,
    /// Slots of headers that are not pseudo-headers but that a request usually carries when it is
    /// read at all: sticky keys (a returning user sends its key).
    usually_present: HashSet<usize>,
    /// The header the filter itself writes (`clusterHeader`), which a configuration must not read:
    /// its value on arrival is the client's.
    written_by_filter: Option<String>,
    /// The configuration's compiled regexes so far: the registry travels through every step of a
    /// configuration's compile, so it carries their budget too.
    regex_budget: RegexBudget,
}

impl Attributes {
    pub fn slot(&mut self, attribute: Attribute) -> usize {
        let next = self.list.len();
        let slot = match &attribute {
            Attribute::Header(name) => match self.headers.get(name) {
                Some(slot) => return *slot,
                None => {
                    self.headers.insert(name.clone(), next);
                    next
                }
            },
            Attribute::RouteName => *self.route_name.get_or_insert(next),
        };
        if slot == next {
            self.list.push(attribute);
        }
        slot
    }

    /// Names the header the filter writes, so that compiling can refuse to read it.
    pub fn set_written_by_filter(&mut self, name: &str) {
        self.written_by_filter = Some(name.to_string());
    }

    /// Whether `slot` is the header the filter writes.
    pub fn is_written_by_filter(&self, slot: usize) -> bool {
        match (self.list.get(slot), &self.written_by_filter) {
            (Some(Attribute::Header(name)), Some(written)) => name == written,
            _ => false,
        }
    }

    pub fn written_by_filter(&self) -> Option<&str> {
        self.written_by_filter.as_deref()
    }

    /// The slot of a header already registered, without registering it.
    pub fn find_header(&self, name: &str) -> Option<usize> {
        self.headers.get(name).copied()
    }

    /// What fetching the attribute in `slot` costs (an unknown slot is fetched as nothing).
    pub fn fetch_cost(&self, slot: usize) -> FetchCost {
        match self.list.get(slot) {
            Some(Attribute::Header(name)) if name.starts_with(':') => {
                FetchCost::AlwaysPresentHeader
            }
            Some(Attribute::Header(_)) | None => FetchCost::UsuallyAbsentHeader,
            Some(Attribute::RouteName) => FetchCost::Property,
        }
    }

    pub fn header(&mut self, name: &str) -> usize {
        match self.headers.get(name) {
            Some(slot) => *slot,
            None => self.slot(Attribute::Header(name.to_string())),
        }
    }

    /// A sticky key's header: read only to hash it, and usually present when read.
    pub fn sticky_header(&mut self, name: &str) -> usize {
        let slot = self.header(name);
        self.usually_present.insert(slot);
        slot
    }

    /// Whether a shell should take all request headers in one call rather than one at a time.
    /// Through proxy-wasm, a value costs one call back into the module's allocator and the whole
    /// map costs about one such call, while a lookup that finds nothing is cheap; so the whole map is
    /// cheaper once a request reads two values, which a configuration reading two headers that are
    /// there when read (pseudo-headers, sticky keys) does on every request that gets as far as both.
    pub fn reads_several_values(&self) -> bool {
        (0..self.list.len())
            .filter(|slot| {
                self.fetch_cost(*slot) == FetchCost::AlwaysPresentHeader
                    || self.usually_present.contains(slot)
            })
            .nth(1)
            .is_some()
    }

    /// The budget the configuration's regexes are charged to as they compile.
    pub fn regex_budget(&mut self) -> &mut RegexBudget {
        &mut self.regex_budget
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// How many attributes a configuration may read with its per-request memo kept on the stack (the
/// bench's realistic configuration reads six).
pub const INLINE_ATTRIBUTES: usize = 8;

/// In a larger configuration, the first slots (registered first: the first entries' attributes,
/// pseudo-headers) are memoized in a vector of at most this many, allocated per request; later
/// slots only once a request fetches them. So a request costs what it touches, not what the
/// configuration names: 2 KiB at most up front, whatever the number of attributes.
pub const DENSE_ATTRIBUTES: usize = 64;

/// One attribute's memo: `None` until fetched, then what the source handed over.
type Fetched<'a> = Option<Option<Cow<'a, [u8]>>>;

/// Slots are small integers the compiler handed out, never chosen by a client: hashing them
/// needs no protection against collisions, only speed.
#[derive(Default)]
struct SlotHasher(u64);

impl Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8 | u64::from(*byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_usize(&mut self, slot: usize) {
        // Fibonacci hashing: spreads consecutive slots over the table's high bits.
        self.0 = (slot as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The memo's storage: on the stack for the usual configuration, so a decision allocates nothing;
/// for a large one, a short vector for the first slots and only the fetched ones beyond.
#[allow(
    clippy::large_enum_variant,
    reason = "the inline variant is the point: 192 bytes of stack instead of an allocation"
)]
enum Memo<'a> {
    Inline([Fetched<'a>; INLINE_ATTRIBUTES]),
    Large {
        first: Vec<Fetched<'a>>,
        fetched: HashMap<usize, Fetched<'a>, BuildHasherDefault<SlotHasher>>,
    },
}

impl<'a> Memo<'a> {
    fn new(len: usize) -> Self {
        if len <= INLINE_ATTRIBUTES {
            Memo::Inline([const { None }; INLINE_ATTRIBUTES])
        } else {
            Memo::Large {
                first: vec![None; len.min(DENSE_ATTRIBUTES)],
                fetched: HashMap::default(),
            }
        }
    }

    fn is_fetched(&self, slot: usize) -> bool {
        match self {
            Memo::Inline(slots) => slots.get(slot).is_some_and(Option::is_some),
            Memo::Large { first, fetched } => match first.get(slot) {
                Some(memo) => memo.is_some(),
                None => fetched.contains_key(&slot),
            },
        }
    }

    /// The memo of `slot` (the caller has checked that the registry knows the slot).
    fn slot_mut(&mut self, slot: usize) -> Option<&mut Fetched<'a>> {
        match self {
            Memo::Inline(slots) => slots.get_mut(slot),
            Memo::Large { first, fetched } => match first.get_mut(slot) {
                Some(memo) => Some(memo),
                None => Some(fetched.entry(slot).or_insert(None)),
            },
        }
    }
}

/// Fetches attributes lazily, at most once each, for one request.
pub struct Lookup<'a, S: RequestSource> {
    source: &'a S,
    attributes: &'a Attributes,
    cache: Memo<'a>,
}

impl<'a, S: RequestSource> Lookup<'a, S> {
    pub fn new(source: &'a S, attributes: &'a Attributes) -> Self {
        Lookup {
            source,
            attributes,
            cache: Memo::new(attributes.len()),
        }
    }

    /// Whether `slot` was already fetched for this request, so reading it costs no host call.
    pub fn is_fetched(&self, slot: usize) -> bool {
        self.cache.is_fetched(slot)
    }

    /// Whether any value of the attribute in `slot` passes `test`; `None` when it is absent.
    /// The first value comes from the memo; a regular header whose first value fails is asked for
    /// its later values (pseudo-headers and properties have one value).
    pub fn any_value(&mut self, slot: usize, mut test: impl FnMut(&[u8]) -> bool) -> Option<bool> {
        if test(self.get(slot)?) {
            return Some(true);
        }
        Some(match self.attributes.list.get(slot) {
            Some(Attribute::Header(name)) if !name.starts_with(':') => {
                self.source.any_later_value(name, &mut test)
            }
            _ => false,
        })
    }

    pub fn get(&mut self, slot: usize) -> Option<&[u8]> {
        // The registry bounds the slots: an inline memo has spare ones that name nothing.
        let attribute = self.attributes.list.get(slot)?;
        let cached = self.cache.slot_mut(slot)?;
        cached
            .get_or_insert_with(|| match attribute {
                Attribute::Header(name) => self.source.header(name),
                Attribute::RouteName => self.source.route_name(),
            })
            .as_deref()
    }
}

/// The path without its query string or fragment, as Envoy's route path matching sees it.
pub fn path_only(path: &[u8]) -> &[u8] {
    let end = path
        .iter()
        .position(|b| *b == b'?' || *b == b'#')
        .unwrap_or(path.len());
    &path[..end]
}

/// The value of the first query parameter called `name`, both as sent: Envoy 1.40's route
/// matching compares a parameter's name and value without percent-decoding them. A parameter
/// without `=` has the empty value.
pub fn query_param<'p>(path: &'p [u8], name: &[u8]) -> Option<&'p [u8]> {
    let start = path.iter().position(|b| *b == b'?')? + 1;
    let query = &path[start..];
    let query = &query[..query.iter().position(|b| *b == b'#').unwrap_or(query.len())];
    query.split(|b| *b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_kit::FakeRequest;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn each_attribute_is_fetched_once() {
        let source = FakeRequest::new(&[("x-user", b"alice")]);
        let mut attributes = Attributes::default();
        let user = attributes.header("x-user");
        let missing = attributes.header("x-missing");
        assert_eq!(attributes.header("x-user"), user);
        let mut lookup = Lookup::new(&source, &attributes);
        for _ in 0..3 {
            assert_eq!(lookup.get(user), Some(&b"alice"[..]));
            assert_eq!(lookup.get(missing), None);
        }
        assert_eq!(source.fetched(), ["x-user", "x-missing"]);
        assert!(lookup.is_fetched(user) && lookup.is_fetched(missing));
        assert_eq!(lookup.get(99), None);
        assert!(!lookup.is_fetched(99));
        assert_eq!(
            lookup.get(INLINE_ATTRIBUTES - 1),
            None,
            "a spare inline slot"
        );
    }

    #[test]
    fn a_memo_too_large_for_the_stack_behaves_the_same() {
        let source = FakeRequest::new(&[("x-last", b"z")]);
        let mut attributes = Attributes::default();
        for i in 0..INLINE_ATTRIBUTES {
            attributes.header(&format!("x-{i}"));
        }
        let last = attributes.header("x-last");
        let mut lookup = Lookup::new(&source, &attributes);
        assert_eq!(lookup.get(last), Some(&b"z"[..]));
        assert_eq!(lookup.get(last), Some(&b"z"[..]));
        assert_eq!(lookup.get(0), None);
        assert!(lookup.is_fetched(last) && lookup.is_fetched(0) && !lookup.is_fetched(1));
        assert_eq!(source.fetched(), ["x-last", "x-0"]);
    }

    #[test]
    fn a_large_configuration_memoizes_what_the_request_fetches() {
        let source = FakeRequest::new(&[("x-9999", b"last"), ("x-3", b"early")]);
        let mut attributes = Attributes::default();
        let slots: Vec<usize> = (0..10_000)
            .map(|i| attributes.header(&format!("x-{i}")))
            .collect();
        assert_eq!(slots, (0..10_000).collect::<Vec<_>>(), "one slot per name");
        assert_eq!(attributes.find_header("x-4321"), Some(4321));
        assert_eq!(attributes.find_header("x-10000"), None);
        let route = attributes.slot(Attribute::RouteName);
        assert_eq!(attributes.slot(Attribute::RouteName), route);
        let mut lookup = Lookup::new(&source, &attributes);
        for _ in 0..2 {
            assert_eq!(lookup.get(9999), Some(&b"last"[..]));
            assert_eq!(lookup.get(3), Some(&b"early"[..]));
            assert_eq!(lookup.get(DENSE_ATTRIBUTES), None);
        }
        assert!(lookup.is_fetched(9999) && lookup.is_fetched(3));
        assert!(lookup.is_fetched(DENSE_ATTRIBUTES) && !lookup.is_fetched(DENSE_ATTRIBUTES + 1));
        assert!(!lookup.is_fetched(4) && !lookup.is_fetched(20_000));
        assert_eq!(
            lookup.get(20_000),
            None,
            "a slot the registry does not know"
        );
        assert_eq!(
            source.fetched(),
            ["x-9999", "x-3", &format!("x-{DENSE_ATTRIBUTES}")]
        );
    }

    #[test]
    fn pseudo_headers_cost_more_than_other_headers_and_properties_most() {
        let mut attributes = Attributes::default();
        let user = attributes.header("x-user");
        let path = attributes.header(":path");
        let route = attributes.slot(Attribute::RouteName);
        assert_eq!(attributes.fetch_cost(user), FetchCost::UsuallyAbsentHeader);
        assert_eq!(attributes.fetch_cost(path), FetchCost::AlwaysPresentHeader);
        assert_eq!(attributes.fetch_cost(route), FetchCost::Property);
        assert!(FetchCost::UsuallyAbsentHeader < FetchCost::AlwaysPresentHeader);
        assert!(FetchCost::AlwaysPresentHeader < FetchCost::Property);
    }

    #[test]
    fn two_pseudo_headers_make_the_whole_map_the_cheaper_read() {
        let mut attributes = Attributes::default();
        attributes.header("x-canary");
        attributes.header("end-user");
        attributes.slot(Attribute::RouteName);
        attributes.header(":path");
        assert!(!attributes.reads_several_values(), "one value at most");
        attributes.header(":path");
        assert!(!attributes.reads_several_values(), "the same value twice");
        attributes.header(":authority");
        assert!(attributes.reads_several_values());

        let mut sticky = Attributes::default();
        sticky.sticky_header("x-user-id");
        sticky.header("x-user-id");
        assert!(!sticky.reads_several_values(), "one sticky key");
        sticky.header(":authority");
        assert!(sticky.reads_several_values(), "a sticky key and hosts");
    }

    #[test]
    fn paths_and_queries() {
        assert_eq!(path_only(b"/reviews/1?u=x#f"), b"/reviews/1");
        assert_eq!(path_only(b"/"), b"/");
        // Names and values as sent, as Envoy 1.40 compares them: no percent-decoding, `+` kept.
        let path = b"/p?a=1&user=j%41son&flag&sp%20ace=x+y&a=2&eq=b=c#frag";
        assert_eq!(query_param(path, b"user"), Some(&b"j%41son"[..]));
        assert_eq!(query_param(path, b"flag"), Some(&b""[..]));
        assert_eq!(query_param(path, b"sp%20ace"), Some(&b"x+y"[..]));
        assert_eq!(query_param(path, b"sp ace"), None);
        assert_eq!(
            query_param(path, b"a"),
            Some(&b"1"[..]),
            "the first of a repeated one"
        );
        assert_eq!(query_param(path, b"eq"), Some(&b"b=c"[..]));
        assert_eq!(query_param(path, b"nope"), None);
        assert_eq!(query_param(b"/no-query", b"a"), None);
    }

    #[test]
    fn a_repeated_header_offers_its_later_values_only_when_the_first_fails() {
        let source = FakeRequest::new(&[
            ("x-env", b"staging"),
            ("x-env", b"prod"),
            (":method", b"GET"),
        ]);
        let mut attributes = Attributes::default();
        let env = attributes.header("x-env");
        let method = attributes.header(":method");
        let missing = attributes.header("x-missing");
        let mut lookup = Lookup::new(&source, &attributes);
        assert_eq!(lookup.any_value(env, |v| v == b"staging"), Some(true));
        assert_eq!(source.fetched(), ["x-env"], "the first value decided");
        assert_eq!(lookup.any_value(env, |v| v == b"prod"), Some(true));
        assert_eq!(lookup.any_value(env, |v| v == b"dev"), Some(false));
        assert_eq!(lookup.any_value(missing, |_| true), None);
        // A pseudo-header has one value: no later values are asked for.
        assert_eq!(lookup.any_value(method, |v| v == b"POST"), Some(false));
        assert_eq!(
            source.fetched(),
            ["x-env", "+x-env", "+x-env", "x-missing", ":method"]
        );
    }
}
