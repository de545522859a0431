//! `make test`'s bounded pass over the fuzz entry points (the fuzz/ crate's library, so both run the
//! same code): a deterministic pseudo-random corpus of configurations and hostile requests, plus every
//! input fuzzing has found. `make fuzz` explores further with libFuzzer.

// Harness code: a panic is how a failing input is reported, as in libFuzzer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use traffic_shift::random::{RandomSource, SplitMix64};
use traffic_shift_fuzz::cursor::push_field;
use traffic_shift_fuzz::rich_config::{REQUEST_HEADERS, RICH_CONFIG, RICH_GATEWAY_CONFIG};

const CONFIG_INPUTS: u64 = 1_200;
const REQUEST_INPUTS: u64 = 8_000;

/// Inputs fuzzing found, kept so they stay fixed: (what went wrong, input to the config target).
const CONFIG_REGRESSIONS: &[(&str, &[u8])] = &[
    // Reasons quoted raw text from the document, so a JSON "\n" escape split the single log line.
    ("newline in an unknown key", br#"{"a\nb": 1}"#),
    ("newline in a long string value", br#"{"hosts": "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"}"#),
    ("newline in a header name", br#"{"clusterHeader": "a\r\nb"}"#),
    ("newline in a cookie name", br#"{"http": [{"sticky": {"cookie": "a\nb"}, "route": []}]}"#),
    ("newline in a host", br#"{"hosts": ["a\nb"]}"#),
    ("newline in a template placeholder", br#"{"clusterName": "{a\nb}"}"#),
    ("newline in a rendered cluster name", br#"{"http": [{"route": [{"destination": {"host": "a\nb"}}]}]}"#),
    ("newline in a repeated entry name", br#"{"http": [{"name": "a\nb", "route": [{"destination": {"host": "a"}}]}, {"name": "a\nb", "route": [{"destination": {"host": "a"}}]}]}"#),
];

/// Words the documents and requests are made of, so random edits stay near what the parser knows.
#[rustfmt::skip]
const TOKENS: &[&[u8]] = &[
    b"{", b"}", b"[", b"]", b":", b",", b"\"", b"null", b"-1", b"0", b"4294967296", b"1.5", b"\"http\"",
    b"\"route\"", b"\"destination\"", b"\"weight\"", b"\"host\"", b"\"subset\"", b"\"match\"",
    b"\"headers\"", b"\"sticky\"", b"\"regex\"", b"{host}", b".*", b"jason", b"/reviews", b"/api/V1",
    b"POST", b"http", b"shift", b"reviews", b"reviews:9080", b"[::1]:80", b"a.example.com", b"off",
    b"user=", b"; ", b"?", b"canary=1", b"&flag", b"%", b"%ff", b"#", b"\xff\xfe", b"\xc3", b"\0",
    b"\r\n", b" ",
];

fn below(rng: &mut SplitMix64, bound: usize) -> usize {
    rng.below(bound as u64) as usize
}

fn random_bytes(rng: &mut SplitMix64, max_len: usize) -> Vec<u8> {
    let len = below(rng, max_len + 1);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

fn token(rng: &mut SplitMix64) -> &'static [u8] {
    TOKENS[below(rng, TOKENS.len())]
}

/// A few byte-level edits: flips, cuts, token inserts, duplicated ranges.
fn mutate_bytes(seed: &[u8], rng: &mut SplitMix64) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + below(rng, 8) {
        let at = below(rng, out.len() + 1);
        let span = below(rng, 16).min(out.len() - at);
        match below(rng, 4) {
            0 if at < out.len() => out[at] ^= 1 << below(rng, 8),
            1 => {
                out.drain(at..at + span);
            }
            2 => {
                let copy = out[at..at + span].to_vec();
                out.splice(at..at, copy);
            }
            _ => {
                out.splice(at..at, token(rng).iter().copied());
            }
        }
    }
    out
}

fn plugin_configs() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/filter-config/plugin");
    let mut seeds = vec![
        RICH_CONFIG.as_bytes().to_vec(),
        RICH_GATEWAY_CONFIG.as_bytes().to_vec(),
    ];
    for file in std::fs::read_dir(dir).expect("filter-config/plugin exists") {
        seeds.push(std::fs::read(file.expect("readable entry").path()).expect("readable file"));
    }
    assert!(seeds.len() > 1, "no example configurations in {dir}");
    seeds
}

#[test]
fn config_target_holds_on_random_and_mutated_documents() {
    let seeds = plugin_configs();
    let mut rng = SplitMix64::new(0x7261_6666_6963);
    let mut valid = [0u64; 3];
    for i in 0..CONFIG_INPUTS {
        let input = match i % 3 {
            0 => random_bytes(&mut rng, 256),
            1 => mutate_bytes(&seeds[below(&mut rng, seeds.len())], &mut rng),
            _ => random_bytes(&mut rng, 48), // read as an edit list by the structured half
        };
        for (count, ok) in valid.iter_mut().zip(traffic_shift_fuzz::config(&input)) {
            *count += u64::from(ok);
        }
    }
    // The corpus must reach both outcomes, or it tests only the first checks of the parser.
    for (what, count) in ["raw", "edited", "edited HTTPRoute"].iter().zip(valid) {
        assert!(
            count > 0 && count < CONFIG_INPUTS * 9 / 10,
            "{count} valid {what} documents"
        );
    }
}

#[test]
fn config_regressions_stay_fixed() {
    let failed: Vec<String> = CONFIG_REGRESSIONS
        .iter()
        .filter(|(_, input)| {
            std::panic::catch_unwind(|| traffic_shift_fuzz::config(input)).is_err()
        })
        .map(|(what, input)| format!("{what}: {}", String::from_utf8_lossy(input)))
        .collect();
    assert!(
        failed.is_empty(),
        "found inputs fail again:\n{}",
        failed.join("\n")
    );
}

/// Values that make the rich configuration's conditions hold, per REQUEST_HEADERS slot (then route name).
#[rustfmt::skip]
const PLAUSIBLE: &[&[&[u8]]] = &[
    &[b"/reviews/1", b"/REVIEWS/42", b"/API/V1", b"/api/v1?x=1", b"/?canary=1&flag", b"/x?canary=%31&flag="],
    &[b"reviews", b"reviews:9080", b"a.example.com", b"[::1]:10000", b"REVIEWS.prod.svc.cluster.local."],
    &[b"POST", b"GET"],
    &[b"http", b"https"],
    &[b"jason", b"xaxaxab"],
    &[b"1", b""],
    &[b"off", b"on"],
    &[b"u1", b"u2", b""],
    &[b"user=alice", b"a=1; user=\"bob\"", b"user="],
    &[b"outbound|9080|v2|reviews"],
    &[b"shift"],
];

/// A header value: often one the configuration matches, else hostile: absent, random (mostly
/// non-UTF-8) bytes, dictionary words, hundreds of cookies, rarely 60 KiB.
fn hostile_value(rng: &mut SplitMix64, slot: usize) -> Option<Vec<u8>> {
    match below(rng, 40) {
        0..=19 => Some(PLAUSIBLE[slot][below(rng, PLAUSIBLE[slot].len())].to_vec()),
        20..=23 => None,
        24..=29 => Some(random_bytes(rng, 64)),
        30 => Some(
            b"a=1; "
                .repeat(below(rng, 400))
                .into_iter()
                .chain(*b"user=x")
                .collect(),
        ),
        31 if below(rng, 8) == 0 => Some(vec![b'x'; 60 * 1024]),
        _ => Some(
            (0..below(rng, 5))
                .flat_map(|_| token(rng).to_vec())
                .collect(),
        ),
    }
}

#[test]
fn request_target_holds_on_hostile_headers() {
    let mut rng = SplitMix64::new(0x0072_6571_7565_7374);
    let routers = [
        traffic_shift_fuzz::request_target::rich_router(),
        traffic_shift_fuzz::request_target::rich_gateway_router(),
    ];
    // Per router, decisions per entry; the last slot: no entry applied.
    let mut decided: Vec<Vec<u64>> = routers
        .iter()
        .map(|router| vec![0u64; router.entries.len() + 1])
        .collect();
    for _ in 0..REQUEST_INPUTS {
        let mut input = rng.next_u64().to_le_bytes().to_vec();
        for slot in 0..=REQUEST_HEADERS.len() {
            push_field(&mut input, hostile_value(&mut rng, slot).as_deref());
        }
        for (counts, decision) in decided.iter_mut().zip(traffic_shift_fuzz::request(&input)) {
            let none = counts.len() - 1;
            counts[decision.map_or(none, |d| d.entry)] += 1;
        }
    }
    // Every entry of each rich configuration (and "none") must have been reached.
    assert!(
        decided.iter().flatten().all(|n| *n > 0),
        "decisions per entry: {decided:?}"
    );
}

#[cfg(not(target_family = "wasm"))]
#[test]
fn dynamic_module_shell_refuses_or_compiles_as_the_core() {
    let seeds = plugin_configs();
    let mut rng = SplitMix64::new(0x0073_6865_6c6c);
    let mut accepted = 0;
    for i in 0..CONFIG_INPUTS / 4 {
        let input = match i % 2 {
            0 => random_bytes(&mut rng, 128),
            _ => mutate_bytes(&seeds[below(&mut rng, seeds.len())], &mut rng),
        };
        accepted += u64::from(traffic_shift_fuzz::shell_config(&input));
    }
    for (_, input) in CONFIG_REGRESSIONS {
        traffic_shift_fuzz::shell_config(input);
    }
    assert!(
        accepted > 0 && accepted < CONFIG_INPUTS / 4,
        "{accepted} accepted"
    );
}

#[cfg(not(target_family = "wasm"))]
#[test]
fn dynamic_module_shell_routes_hostile_requests_to_configured_clusters() {
    let mut rng = SplitMix64::new(0x0073_6865_6c72);
    let mut routed = 0u64;
    for _ in 0..REQUEST_INPUTS / 4 {
        let mut input = rng.next_u64().to_le_bytes().to_vec();
        for slot in 0..=REQUEST_HEADERS.len() {
            push_field(&mut input, hostile_value(&mut rng, slot).as_deref());
        }
        routed += u64::from(traffic_shift_fuzz::shell_request(&input).is_some());
    }
    assert!(routed > 0 && routed < REQUEST_INPUTS / 4, "{routed} routed");
}

/// Patterns for the regex path: RE2 classes, anchors, refusals (too long, too large, not RE2).
const REGEX_PATTERNS: &[&str] = &[
    r"\p{L}+",
    r"\d{3}-\w+\s?",
    r".*[0-9a-f]{32}.*",
    r"(?i)straße|σ",
    r"[^\x00-\x7f]*",
    r"\bv[0-9]\b",
    r"(?:.{1000}){200}",
    r"[a&&b]",
    r"(",
    "",
    // Found by the request target: the parser's message drew the pattern, carriage returns and all.
    "#\r\r\r\r?[:",
];

#[test]
fn regex_path_holds_on_hostile_values() {
    let mut rng = SplitMix64::new(0x0072_6567_6578);
    let long_pattern = "a".repeat(1025);
    let patterns = REGEX_PATTERNS
        .iter()
        .copied()
        .chain([long_pattern.as_str()]);
    for pattern in patterns {
        for _ in 0..20 {
            let mut input = rng.next_u64().to_le_bytes().to_vec();
            for _ in 0..=REQUEST_HEADERS.len() {
                push_field(&mut input, None);
            }
            push_field(&mut input, Some(pattern.as_bytes()));
            let value = match below(&mut rng, 4) {
                0 => random_bytes(&mut rng, 64),
                1 => "Zoë 123-ab σ v1 ".repeat(below(&mut rng, 50)).into_bytes(),
                2 => vec![b'a'; below(&mut rng, 4096)],
                _ => pattern.as_bytes().to_vec(),
            };
            push_field(&mut input, Some(&value));
            traffic_shift_fuzz::request(&input);
        }
    }
}

#[test]
fn huge_configurations_compile_with_each_name_once() {
    // count (two bytes, scaled to 100,000 names), layout, repeat every (two bytes).
    for (count, layout, repeat) in [
        (0u16, 0u8, 0u16),
        (13_107, 0, 0), // 20,000 names, one entry each
        (13_107, 1, 0),
        (13_107, 2, 0),
        (13_107, 3, 0),
        (6_553, 1, 7),  // 10,000 names, 7 distinct
        (6_553, 3, 7),  // duplicates in one HTTPRoute list: refused
        (65_535, 3, 0), // 100,000 names in one rule
    ] {
        let mut input = count.to_le_bytes().to_vec();
        input.push(layout);
        input.extend_from_slice(&repeat.to_le_bytes());
        traffic_shift_fuzz::huge_config(&input);
    }
}
