//! Compile time and per-request cost against the number of header names a configuration reads
//! (BENCHMARKS.md, "Compile time"): `cargo run --release --example scale [SIZES...]`.
//!
//! Two layouts in each of the two shapes: one header name per entry (VirtualService `http`
//! entries, HTTPRoute `rules`), and all names in one entry (one `match` block, one `matches`
//! item), which stays under the 4 MiB document limit at 100,000 names. Then the cost of one
//! decision at 10 and 40,000 attributes, for a request the first entry takes and for one that
//! falls through every entry.
//!
//! Times are this thread's CPU time (Linux `/proc/thread-self/schedstat`), not wall time, so that
//! other work on a shared machine does not inflate them; a compile under 0.2 s is repeated and averaged.

use std::borrow::Cow;
use std::collections::HashMap;

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Seconds of CPU `work` took.
fn cpu_seconds<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let started = cpu_ns();
    let result = work();
    (result, (cpu_ns() - started) as f64 / 1e9)
}
use traffic_shift::random::SplitMix64;
use traffic_shift::request::RequestSource;
use traffic_shift::router::Router;

const DESTINATION: &str = r#"{"destination":{"host":"r"}}"#;
const BACKEND: &str = r#"{"name":"reviews-v1","port":9080}"#;

fn each_entry_vs(n: usize) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"name":"e{i}","match":[{{"headers":{{"x-h{i}":{{}}}}}}],"route":[{DESTINATION}]}}"#
            )
        })
        .collect();
    format!(r#"{{"http":[{}]}}"#, entries.join(","))
}

fn one_entry_vs(n: usize) -> String {
    let names: Vec<String> = (0..n)
        .map(|i| format!(r#""x-h{i}":{{"exact":"1"}}"#))
        .collect();
    format!(
        r#"{{"http":[{{"name":"e","match":[{{"headers":{{{}}}}}],"route":[{DESTINATION}]}}]}}"#,
        names.join(",")
    )
}

fn each_rule_route(n: usize) -> String {
    let rules: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"matches":[{{"headers":[{{"name":"x-h{i}","value":"1"}}]}}],"backendRefs":[{BACKEND}]}}"#
            )
        })
        .collect();
    format!(r#"{{"rules":[{}]}}"#, rules.join(","))
}

fn one_rule_route(n: usize) -> String {
    let names: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"name":"x-h{i}","value":"1"}}"#))
        .collect();
    format!(
        r#"{{"rules":[{{"matches":[{{"headers":[{}]}}],"backendRefs":[{BACKEND}]}}]}}"#,
        names.join(",")
    )
}

/// A layout's name and its document for n names.
type Layout = (&'static str, fn(usize) -> String);

/// A request's headers from a map.
struct Headers(HashMap<String, Vec<u8>>);

impl RequestSource for Headers {
    fn header(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        self.0.get(name).map(|v| Cow::Borrowed(&v[..]))
    }
    fn route_name(&self) -> Option<Cow<'_, [u8]>> {
        None
    }
}

fn compile(layout: &str, json: &str) -> Option<Router> {
    // Short compiles are repeated: the scheduler updates a thread's CPU time only every few ms.
    let (mut parsed, mut took) = cpu_seconds(|| traffic_shift::config::parse(json.as_bytes()));
    let mut runs = 1;
    while took < 0.2 && runs < 200 {
        let (again, more) = cpu_seconds(|| traffic_shift::config::parse(json.as_bytes()));
        (parsed, took, runs) = (again, took + more, runs + 1);
    }
    let took = took / f64::from(runs);
    match &parsed {
        Ok(router) => println!(
            "| {layout} | {} | {:.1} KiB | {:.1} ms |",
            router.attributes.len(),
            json.len() as f64 / 1024.0,
            took * 1e3
        ),
        Err(e) => println!(
            "| {layout} | - | {:.1} KiB | refused in {:.1} ms: {} |",
            json.len() as f64 / 1024.0,
            took * 1e3,
            e.to_string().chars().take(90).collect::<String>()
        ),
    }
    parsed.ok()
}

/// Microseconds per decision, over enough decisions to take about a quarter of a second.
fn per_request(router: &Router, request: &Headers) -> f64 {
    let mut random = SplitMix64::new(1);
    let mut rounds = 1;
    loop {
        let ((), took) = cpu_seconds(|| {
            for _ in 0..rounds {
                std::hint::black_box(router.decide(request, &mut random));
            }
        });
        if took > 0.25 || rounds >= 1 << 24 {
            return took * 1e6 / rounds as f64;
        }
        rounds *= 4;
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    println!("| layout | attributes | JSON | compile |");
    println!("|---|---:|---:|---:|");
    let layouts: [Layout; 4] = [
        ("http, one name per entry", each_entry_vs),
        ("http, all names in one entry", one_entry_vs),
        ("rules, one name per rule", each_rule_route),
        ("rules, all names in one rule", one_rule_route),
    ];
    for &n in &sizes {
        for (name, layout) in layouts {
            compile(&format!("{name}, {n}"), &layout(n));
        }
    }
    println!();
    println!("| entries (attributes) | request | us per decision |");
    println!("|---|---|---:|");
    for n in [10, 40_000] {
        let Some(router) = traffic_shift::config::parse(each_entry_vs(n).as_bytes()).ok() else {
            println!("| {n} | refused | - |");
            continue;
        };
        for (what, header) in [
            ("taken by the first entry", "x-h0".to_string()),
            ("falls through to the last", format!("x-h{}", n - 1)),
        ] {
            let request = Headers(HashMap::from([(header, b"1".to_vec())]));
            println!(
                "| {n} ({}) | {what} | {:.3} |",
                router.attributes.len(),
                per_request(&router, &request)
            );
        }
    }
}
