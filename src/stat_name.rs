//! Stat names that carry their labels, for hosts whose stats API has names but no tags.
//!
//! proxy-wasm can only define a metric by name. Envoy turns parts of a name into tags (Prometheus
//! labels) with `stats_config.stats_tags` regexes, and Istio generates one such regex per
//! `extraStatTags` entry: `(<tag>=\.=(.*?);\.;)`, cutting `<tag>=.=<value>;.;` out of the name and
//! keeping `<value>` as the tag. So a name is built as
//!
//! ```text
//! traffic_shift.entry=.=reviews;.;destination=.=outbound|9080|v3|reviews…;.;subset=.=v3;.;requests_total
//! ```
//!
//! which, once the tags are cut out, leaves `traffic_shift.requests_total`; under Envoy's
//! `wasmcustom.` namespace that is exported to Prometheus as `traffic_shift_requests_total{…}`.
//! `filter-config/metrics.json` lists the same names for the Envoy and Istio configs and the
//! dashboard; a test below keeps the two in step. A new metric or tag is a constant here, listed in
//! `METRICS` or `TAGS`, and the same name in `metrics.json` (with its type and labels); then
//! `make manifests` updates the Istio settings. Any host shell (Wasm, a native module) uses
//! [`stat_name`]: gauges are named the same way as counters.

use crate::router::{Entry, Router};
use std::fmt::Write;

/// What every stat name starts with, so one `inclusionPrefixes` entry keeps them all in Istio.
pub const STAT_PREFIX: &str = "traffic_shift.";
/// Prometheus names are this followed by the metric's name.
pub const PROMETHEUS_PREFIX: &str = "traffic_shift_";

const TAG_START: &str = "=.=";
const TAG_END: &str = ";.;";

/// A metric the filter exports: its name without [`PROMETHEUS_PREFIX`], and its tags in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric(&'static str, &'static [Tag]);

/// A tag (Prometheus label) name. Only this module makes them, so every one is declared in the
/// Envoy and Istio configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag(&'static str);

/// The entry's `name`.
pub const ENTRY: Tag = Tag("entry");
/// The destination's cluster name, as set in the cluster header.
pub const DESTINATION: Tag = Tag("destination");
/// The destination's host as Istio resolves it (a short name expanded, as `destination_service`).
pub const HOST: Tag = Tag("host");
/// The destination's `subset` (empty when it has none).
pub const SUBSET: Tag = Tag("subset");
pub const TAGS: [Tag; 4] = [ENTRY, DESTINATION, HOST, SUBSET];

/// Requests sent to a destination by an entry; tagged by [`destination_tags`].
pub const REQUESTS: Metric = Metric("requests_total", &TAGS);
/// Requests no entry applied to.
pub const UNMATCHED_REQUESTS: Metric = Metric("unmatched_requests_total", &[]);
/// A rollout's share in force per destination (gauge, parts per million); tagged by [`destination_tags`].
pub const ROLLOUT_SHARE: Metric = Metric("rollout_share_ppm", &TAGS);
/// Failed answers (5xx or reset) of a rollout's guarded, growing destinations; as [`REQUESTS`].
pub const ROLLOUT_ERRORS: Metric = Metric("rollout_errors_total", &TAGS);
/// A rollout entry's progress in force, 0–100 (gauge).
pub const ROLLOUT_PROGRESS: Metric = Metric("rollout_progress_percent", &[ENTRY]);
/// 1 once a rollout entry's guard has tripped, else 0 (gauge).
pub const ROLLOUT_TRIPPED: Metric = Metric("rollout_tripped", &[ENTRY]);
pub const METRICS: [Metric; 6] = [
    REQUESTS,
    UNMATCHED_REQUESTS,
    ROLLOUT_SHARE,
    ROLLOUT_ERRORS,
    ROLLOUT_PROGRESS,
    ROLLOUT_TRIPPED,
];

impl Metric {
    pub fn name(self) -> &'static str {
        self.0
    }

    pub fn prometheus_name(self) -> String {
        format!("{PROMETHEUS_PREFIX}{}", self.0)
    }

    /// The tags every stat of this metric carries, in the order [`stat_name`] is given them.
    pub fn tags(self) -> &'static [Tag] {
        self.1
    }
}

impl Tag {
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// The stat name of `metric` with `tags` embedded, in the given order.
///
/// Values are escaped so that none can end its tag early or start another: `%`, `;`, `=` and
/// control characters become `%XX`. Ordinary entry and cluster names pass unchanged, so a label
/// still equals the cluster's name.
pub fn stat_name(metric: Metric, tags: &[(Tag, &str)]) -> String {
    let values: usize = tags
        .iter()
        .map(|(tag, value)| tag.0.len() + value.len())
        .sum();
    let mut name = String::with_capacity(
        STAT_PREFIX.len()
            + metric.0.len()
            + values
            + tags.len() * (TAG_START.len() + TAG_END.len()),
    );
    name.push_str(STAT_PREFIX);
    for (tag, value) in tags {
        name.push_str(tag.0);
        name.push_str(TAG_START);
        push_escaped(&mut name, value);
        name.push_str(TAG_END);
    }
    name.push_str(metric.0);
    name
}

/// The [`REQUESTS`] tags of one destination of an entry, so that every shell labels it alike;
/// `None` for an index the entry does not have.
pub fn destination_tags(entry: &Entry, index: usize) -> Option<[(Tag, &str); 4]> {
    let target = entry.targets.get(index)?;
    Some([
        (ENTRY, &entry.name),
        (DESTINATION, &target.cluster),
        (HOST, &target.destination.fqdn),
        (SUBSET, target.destination.subset.as_deref().unwrap_or("")),
    ])
}

/// Every counter a configuration defines, named as every shell must name it, and defines them
/// through a shell's `define` (name -> id): `(per destination [entry][destination], unmatched)`.
/// A destination without tags (an index the entry lacks) gets `None`.
pub fn define_counters<T>(
    router: &Router,
    mut define: impl FnMut(&str) -> Option<T>,
) -> (Vec<Vec<Option<T>>>, Option<T>) {
    let per_destination = router
        .entries
        .iter()
        .map(|entry| {
            (0..entry.targets.len())
                .map(|index| define(&stat_name(REQUESTS, &destination_tags(entry, index)?)))
                .collect()
        })
        .collect();
    let unmatched = define(&stat_name(UNMATCHED_REQUESTS, &[]));
    (per_destination, unmatched)
}

fn push_escaped(name: &mut String, value: &str) {
    for c in value.chars() {
        if matches!(c, '%' | ';' | '=') || c.is_control() {
            let mut bytes = [0u8; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(name, "%{byte:02X}");
            }
        } else {
            name.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_shell_defines_the_same_counters_in_decision_order() {
        let config = br#"{"http": [{"name": "a", "route": [{"destination": {"host": "h", "subset": "s"}}]}]}"#;
        let router = crate::config::parse(config).unwrap();
        let mut names = Vec::new();
        let (per_destination, unmatched) = define_counters(&router, |name| {
            names.push(name.to_string());
            Some(names.len())
        });
        assert_eq!((per_destination, unmatched), (vec![vec![Some(1)]], Some(2)));
        let tags = destination_tags(&router.entries[0], 0).unwrap();
        assert_eq!(
            names,
            [
                stat_name(REQUESTS, &tags),
                stat_name(UNMATCHED_REQUESTS, &[])
            ]
        );
    }

    /// What Envoy does with the regex Istio generates for one tag: the first match of
    /// `<tag>=.=(.*?);.;` is the value, and the whole match is cut out of the name.
    fn extract(name: &str, tag: Tag) -> Option<(String, String)> {
        let start_marker = format!("{}{TAG_START}", tag.0);
        let start = name.find(&start_marker)?;
        let value_start = start + start_marker.len();
        let value_len = name[value_start..].find(TAG_END)?;
        let value = name[value_start..value_start + value_len].to_string();
        let rest = format!(
            "{}{}",
            &name[..start],
            &name[value_start + value_len + TAG_END.len()..]
        );
        Some((value, rest))
    }

    fn unescape(value: &str) -> String {
        let bytes = value.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// Extracts every tag as Envoy would (each regex on the full name), returning the tags and the
    /// name left once all are cut out.
    fn extract_all(name: &str, tags: &[Tag]) -> (Vec<String>, String) {
        let values = tags
            .iter()
            .map(|tag| extract(name, *tag).expect("tag present").0)
            .collect();
        let mut rest = name.to_string();
        for tag in tags {
            rest = extract(&rest, *tag).expect("tag present").1;
        }
        (values, rest)
    }

    #[test]
    fn tags_are_embedded_in_order_before_the_metric() {
        let name = stat_name(
            REQUESTS,
            &[
                (ENTRY, "reviews"),
                (
                    DESTINATION,
                    "outbound|9080|v3|reviews.default.svc.cluster.local",
                ),
                (SUBSET, "v3"),
            ],
        );
        assert_eq!(
            name,
            "traffic_shift.entry=.=reviews;.;\
             destination=.=outbound|9080|v3|reviews.default.svc.cluster.local;.;\
             subset=.=v3;.;requests_total"
        );
    }

    #[test]
    fn without_tags_the_name_is_prefix_and_metric() {
        assert_eq!(
            stat_name(UNMATCHED_REQUESTS, &[]),
            "traffic_shift.unmatched_requests_total"
        );
        assert_eq!(
            UNMATCHED_REQUESTS.prometheus_name(),
            "traffic_shift_unmatched_requests_total"
        );
    }

    #[test]
    fn cutting_the_tags_out_leaves_the_metric_name() {
        let name = stat_name(
            REQUESTS,
            &[
                (ENTRY, "a"),
                (DESTINATION, "b.c"),
                (HOST, "h"),
                (SUBSET, ""),
            ],
        );
        let (values, rest) = extract_all(&name, &TAGS);
        assert_eq!(values, ["a", "b.c", "h", ""]);
        assert_eq!(rest, "traffic_shift.requests_total");
    }

    #[test]
    fn hostile_values_cannot_break_the_format() {
        let hostile = [
            "destination=.=evil;.;",
            "x;.;subset=.=v9;.;",
            ";.;",
            "=.=",
            "ends;.",
            "ends;",
            "100%",
            "%3B",
            "line\nbreak\u{7f}",
            "ünïcode.…",
            "",
        ];
        for entry in hostile {
            for destination in hostile {
                let name = stat_name(REQUESTS, &[(ENTRY, entry), (DESTINATION, destination)]);
                let (values, rest) = extract_all(&name, &[ENTRY, DESTINATION]);
                assert_eq!(rest, "traffic_shift.requests_total", "{name}");
                assert_eq!(
                    values.iter().map(|v| unescape(v)).collect::<Vec<_>>(),
                    [entry, destination],
                    "{name}"
                );
                assert!(!values.iter().any(|v| v.contains(['\n', ';', '='])));
            }
        }
    }

    #[test]
    fn ordinary_names_pass_unchanged() {
        let cluster = "outbound|9080|v3|reviews.default.svc.cluster.local";
        let name = stat_name(REQUESTS, &[(DESTINATION, cluster)]);
        assert_eq!(extract(&name, DESTINATION).unwrap().0, cluster);
    }

    #[test]
    fn destination_tags_follow_the_configuration() {
        let router = crate::config::parse(
            br#"{"http": [{"name": "reviews", "route": [
                {"destination": {"host": "reviews", "subset": "v1", "port": {"number": 9080}}, "weight": 1},
                {"destination": {"host": "ratings"}, "weight": 1}]}]}"#,
        )
        .unwrap();
        let entry = &router.entries[0];
        let values = |index| destination_tags(entry, index).map(|tags| tags.map(|(_, v)| v));
        assert_eq!(
            values(0),
            Some([
                "reviews",
                "outbound|9080|v1|reviews.default.svc.cluster.local",
                "reviews.default.svc.cluster.local",
                "v1"
            ])
        );
        assert_eq!(
            values(1),
            Some([
                "reviews",
                "outbound|||ratings.default.svc.cluster.local",
                "ratings.default.svc.cluster.local",
                ""
            ])
        );
        assert_eq!(values(2), None);
        let names = destination_tags(entry, 0).unwrap().map(|(tag, _)| tag);
        assert_eq!(names.as_slice(), REQUESTS.tags());
    }

    #[test]
    fn names_are_valid_prometheus_names() {
        let valid = |name: &str| {
            name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        for metric in METRICS {
            assert!(valid(&metric.prometheus_name()), "{metric:?}");
        }
        for tag in TAGS {
            assert!(valid(tag.name()), "{tag:?}");
        }
    }

    /// `filter-config/metrics.json` is what the Envoy and Istio configs and the dashboard are
    /// generated from: it must list exactly these names.
    #[test]
    fn metrics_json_lists_the_same_names() {
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../filter-config/metrics.json")).unwrap();
        assert_eq!(json["statPrefix"], STAT_PREFIX);
        let tags: Vec<&str> = TAGS.iter().map(|t| t.name()).collect();
        assert_eq!(json["tags"], serde_json::json!(tags));
        let listed = json["metrics"].as_object().unwrap();
        let exported: Vec<String> = METRICS.iter().map(|m| m.prometheus_name()).collect();
        let mut listed_names: Vec<&String> = listed.keys().collect();
        listed_names.sort();
        let mut exported_sorted: Vec<&String> = exported.iter().collect();
        exported_sorted.sort();
        assert_eq!(listed_names, exported_sorted);
        for metric in METRICS {
            let listed = &listed[&metric.prometheus_name()];
            assert_eq!(listed["stat"], format!("{STAT_PREFIX}{}", metric.name()));
            let labels: Vec<&str> = metric.tags().iter().map(|t| t.name()).collect();
            assert_eq!(listed["labels"], serde_json::json!(labels));
        }
    }
}
