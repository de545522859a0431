//! Linked canaries (`sticky.cohort`): entries of one cohort, in any service and any proxy, place a
//! user by one position that depends on the key and the cohort name alone.
//!
//! The position is a 64-bit hash of the key and the cohort. An entry's *newer* destination (the
//! one its rollout grows, else the last listed) takes the users whose position falls in the first
//! `newer share` of the 2^64 positions, so with two destinations a user on the newer version of a
//! service whose newer share is p is on the newer version of every service whose newer share is at
//! least p, and equal shares hold the very same users. The comparison is in integers: every proxy,
//! build and restart agrees to the bit.
//!
//! With more than two destinations the newer one is placed the same way (nested across the cohort,
//! monotone while it grows); a user not on it is placed among the others by weighted rendezvous
//! hashing of the position and each destination's *version* (not its cluster name): entries of the
//! cohort whose other destinations have the same versions in the same proportions place each such
//! user on the same version, and when the others shrink in proportion no user moves between them.

use crate::random::mix64;
use crate::router::Target;
use crate::sticky::{choose_hashed, fnv1a};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    /// The cohort name hashed and mixed: what the key's position is derived from.
    name_hash: u64,
    /// The destination the first slice of positions goes to.
    newer: usize,
    /// `fnv1a` of each destination's version, to line the others up across entries.
    version_hashes: Vec<u64>,
}

impl Cohort {
    /// `versions` are the entry's destinations' versions, in order; `newer` indexes them.
    pub fn new(name: &str, versions: &[&str], newer: usize) -> Self {
        Cohort {
            name_hash: mix64(fnv1a(name.as_bytes())),
            newer,
            version_hashes: versions.iter().map(|v| fnv1a(v.as_bytes())).collect(),
        }
    }

    pub fn newer(&self) -> usize {
        self.newer
    }

    /// The key's position in the cohort: the same in every entry of the cohort.
    pub fn position(&self, key: &[u8]) -> u64 {
        mix64(fnv1a(key) ^ self.name_hash)
    }

    /// The destination for `key` under `weights` (the weights in force, one per version: a slice
    /// of weights, or an entry's targets). `None` when every weight is 0.
    pub fn place(&self, key: &[u8], weights: &(impl Weights + ?Sized)) -> Option<usize> {
        self.place_position(self.position(key), weights)
    }

    pub fn place_position(
        &self,
        position: u64,
        weights: &(impl Weights + ?Sized),
    ) -> Option<usize> {
        let count = weights.count();
        let total: u64 = (0..count)
            .filter_map(|i| weights.weight(i))
            .map(u64::from)
            .sum();
        let newer_weight = u128::from(weights.weight(self.newer)?);
        // position / 2^64 < newer / total, exactly.
        if u128::from(position) * u128::from(total) < newer_weight << 64 {
            return Some(self.newer);
        }
        if count == 2 {
            // Two destinations (the usual canary): the other one, with no second hash.
            let other = 1 - self.newer;
            return weights
                .weight(other)
                .is_some_and(|w| w > 0)
                .then_some(other);
        }
        let each = (0..count).map(|i| weights.weight(i).unwrap_or(0));
        choose_hashed(
            position,
            self.version_hashes.iter().copied().zip(each),
            Some(self.newer),
        )
    }
}

/// The weights a cohort places by, one per destination.
pub trait Weights {
    fn count(&self) -> usize;
    fn weight(&self, index: usize) -> Option<u32>;
}

impl Weights for [u32] {
    fn count(&self) -> usize {
        self.len()
    }
    fn weight(&self, index: usize) -> Option<u32> {
        self.get(index).copied()
    }
}

impl<const N: usize> Weights for [u32; N] {
    fn count(&self) -> usize {
        N
    }
    fn weight(&self, index: usize) -> Option<u32> {
        self.get(index).copied()
    }
}

impl Weights for Vec<u32> {
    fn count(&self) -> usize {
        self.len()
    }
    fn weight(&self, index: usize) -> Option<u32> {
        self.get(index).copied()
    }
}

impl Weights for [Target] {
    fn count(&self) -> usize {
        self.len()
    }
    fn weight(&self, index: usize) -> Option<u32> {
        self.get(index).map(|t| t.weight)
    }
}

/// The newer destination of an entry: the last one its rollout grows (`growing`, from
/// `Schedule::growing`), else the last one listed.
pub fn newer_destination(destinations: usize, growing: Option<&[bool]>) -> usize {
    growing
        .and_then(|grows| grows.iter().rposition(|g| *g))
        .unwrap_or(destinations.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::schedule::Schedule;
    use crate::sticky;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const KEYS: usize = 100_000;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("user-{i}@example.com")).collect()
    }

    /// Within 5 sigma of `share` of `n`.
    fn assert_share(count: usize, n: usize, share: f64, what: &str) {
        let sigma = (n as f64 * share * (1.0 - share)).sqrt().max(1.0);
        let expected = n as f64 * share;
        assert!(
            (count as f64 - expected).abs() <= 5.0 * sigma,
            "{what}: {count} of {n}, expected {expected:.0} ± {:.0}",
            5.0 * sigma
        );
    }

    /// Newer shares as (old, new) weights of different totals, so equal shares come from unequal
    /// weights; several equal pairs (10%, 50%) and one at every step of a coarse grid.
    const SHARES: &[(u32, u32)] = &[
        (1, 0),
        (999, 1),
        (99, 1),
        (9, 1),
        (90, 10),
        (900_000, 100_000),
        (4, 1),
        (7, 3),
        (1, 1),
        (500, 500),
        (2, 3),
        (3, 7),
        (1, 4),
        (1, 9),
        (1, 99),
        (0, 1),
    ];

    #[test]
    fn newer_users_are_nested_at_every_pair_of_shares_and_equal_at_equal_shares() {
        // Each entry in a different service with its own version names and order: only the role
        // (newer) and the cohort line them up.
        let services = [
            Cohort::new("release-2026-12", &["v1", "v3"], 1),
            Cohort::new("release-2026-12", &["v2", "v1"], 0),
        ];
        let keys = keys(KEYS);
        // on_newer[s][k]: whether key k is on the newer version at share s (first service for even
        // s, the second for odd s: nesting must hold across services as within one).
        let on_newer: Vec<Vec<bool>> = SHARES
            .iter()
            .enumerate()
            .map(|(s, (old, new))| {
                let cohort = &services[s % 2];
                let weights = if cohort.newer() == 1 {
                    [*old, *new]
                } else {
                    [*new, *old]
                };
                keys.iter()
                    .map(|k| cohort.place(k.as_bytes(), &weights) == Some(cohort.newer()))
                    .collect()
            })
            .collect();
        let share = |(old, new): (u32, u32)| f64::from(new) / (f64::from(old) + f64::from(new));
        let mut pairs = 0;
        for (a, share_a) in SHARES.iter().enumerate() {
            let count = on_newer[a].iter().filter(|n| **n).count();
            assert_share(count, KEYS, share(*share_a), &format!("share {share_a:?}"));
            for (b, share_b) in SHARES.iter().enumerate() {
                // p <= q in exact integers: new_a / total_a <= new_b / total_b.
                let (pa, ta) = (u64::from(share_a.1), u64::from(share_a.0 + share_a.1));
                let (pb, tb) = (u64::from(share_b.1), u64::from(share_b.0 + share_b.1));
                if pa * tb > pb * ta {
                    continue;
                }
                pairs += 1;
                let escaped = (0..KEYS)
                    .filter(|k| on_newer[a][*k] && !on_newer[b][*k])
                    .count();
                assert_eq!(escaped, 0, "{share_a:?} -> {share_b:?}: not nested");
                if pa * tb == pb * ta {
                    assert_eq!(on_newer[a], on_newer[b], "{share_a:?} = {share_b:?}");
                }
            }
        }
        assert!(pairs > 100, "{pairs} ordered pairs checked");
    }

    #[test]
    fn different_cohorts_draw_independently() {
        let release = Cohort::new("release-a", &["v1", "v2"], 1);
        let other = Cohort::new("release-b", &["v1", "v2"], 1);
        let keys = keys(KEYS);
        let both = keys
            .iter()
            .filter(|k| {
                release.place(k.as_bytes(), &[90, 10]) == Some(1)
                    && other.place(k.as_bytes(), &[70, 30]) == Some(1)
            })
            .count();
        assert_share(
            both,
            KEYS,
            0.1 * 0.3,
            "on both canaries of unrelated cohorts",
        );
    }

    #[test]
    fn shares_follow_the_weights_with_any_number_of_destinations() {
        let keys = keys(KEYS);
        for (versions, weights, newer) in [
            (&["v1", "v2"][..], &[3u32, 1][..], 1),
            (&["v1", "v2", "v3"][..], &[20, 30, 50][..], 2),
            (&["v1", "v2", "v3"][..], &[20, 30, 50][..], 0),
            (&["a", "b", "c", "d"][..], &[1, 0, 5, 4][..], 3),
        ] {
            let cohort = Cohort::new("shares", versions, newer);
            let mut counts = vec![0usize; versions.len()];
            for key in &keys {
                counts[cohort.place(key.as_bytes(), weights).unwrap()] += 1;
            }
            let total: u32 = weights.iter().sum();
            for (i, (count, weight)) in counts.iter().zip(weights).enumerate() {
                let share = f64::from(*weight) / f64::from(total);
                assert_share(
                    *count,
                    KEYS,
                    share,
                    &format!("{versions:?} {weights:?} [{i}]"),
                );
            }
        }
    }

    #[test]
    fn zero_weights_are_never_chosen() {
        let cohort = Cohort::new("c", &["v1", "v2", "v3"], 2);
        for key in keys(2_000) {
            assert_eq!(cohort.place(key.as_bytes(), &[0, 1, 0]), Some(1));
            assert_eq!(cohort.place(key.as_bytes(), &[0, 0, 7]), Some(2));
            assert_eq!(cohort.place(key.as_bytes(), &[0, 0, 0]), None);
        }
        assert_eq!(Cohort::new("c", &[], 0).place(b"k", &[]), None);
    }

    #[test]
    fn a_rollout_is_monotone_no_user_leaves_the_growing_destination() {
        let keys = keys(KEYS);
        for (from, target) in [
            (vec![100, 0], vec![0, 100]),
            (vec![95, 5], vec![50, 50]),
            // Three destinations, the old ones shrinking in proportion, the growing one first.
            (vec![10, 60, 30], vec![100, 0, 0]),
        ] {
            let schedule = Schedule {
                start_ms: 0,
                steps: Vec::new(),
                from,
                target,
            };
            let growing = schedule.growing();
            let newer = newer_destination(growing.len(), Some(&growing));
            let versions: Vec<String> = (0..growing.len()).map(|i| format!("v{i}")).collect();
            let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
            let cohort = Cohort::new("ramp", &versions, newer);
            let ramp: Vec<Vec<u32>> = (0..=100).map(|p| schedule.weights(p)).collect();
            for key in &keys {
                let position = cohort.position(key.as_bytes());
                let mut previous = cohort.place_position(position, &ramp[0]);
                for (progress, weights) in ramp.iter().enumerate().skip(1) {
                    let now = cohort.place_position(position, weights);
                    assert!(
                        now == previous || now == Some(newer),
                        "{key}: {previous:?} -> {now:?} at progress {progress} of {schedule:?}"
                    );
                    previous = now;
                }
            }
        }
    }

    #[test]
    fn with_more_destinations_the_others_line_up_by_version_not_by_order() {
        // Two services listing their versions in different orders, the newer (v3) at different
        // places, the others in the same proportions (1:2): same version for every user.
        let reviews = Cohort::new("release", &["v1", "v2", "v3"], 2);
        let ratings = Cohort::new("release", &["v3", "v2", "v1"], 0);
        let keys = keys(20_000);
        let (mut on_v1, mut on_v3_reviews, mut on_v3_ratings) = (0, 0, 0);
        for key in &keys {
            let a = reviews.place(key.as_bytes(), &[10, 20, 70]).unwrap();
            let b = ratings.place(key.as_bytes(), &[10, 40, 20]).unwrap();
            let version_a = ["v1", "v2", "v3"][a];
            let version_b = ["v3", "v2", "v1"][b];
            // reviews' v3 share (70%) is above ratings' (~14%): ratings' v3 users are on reviews' v3.
            if version_b == "v3" {
                assert_eq!(version_a, "v3", "{key}");
                on_v3_ratings += 1;
            }
            if version_a != "v3" {
                assert_eq!(version_a, version_b, "{key}");
            }
            on_v1 += usize::from(version_a == "v1");
            on_v3_reviews += usize::from(version_a == "v3");
        }
        assert_share(on_v1, keys.len(), 0.1, "reviews v1");
        assert_share(on_v3_reviews, keys.len(), 0.7, "reviews v3");
        assert_share(on_v3_ratings, keys.len(), 10.0 / 70.0, "ratings v3");
    }

    #[test]
    fn the_newer_destination_is_the_growing_one_else_the_last() {
        assert_eq!(newer_destination(2, None), 1);
        assert_eq!(newer_destination(3, Some(&[false, true, false])), 1);
        assert_eq!(newer_destination(3, Some(&[true, false, true])), 2);
        assert_eq!(newer_destination(3, Some(&[false, false, false])), 2);
        assert_eq!(newer_destination(0, None), 0);
    }

    #[test]
    fn placement_costs_one_hash_of_the_key_and_matches_the_sticky_hash_family() {
        // The position is the sticky key hash mixed with the cohort: one FNV pass over the key.
        let cohort = Cohort::new("c", &["v1", "v2"], 1);
        assert_eq!(
            cohort.position(b"alice"),
            mix64(sticky::fnv1a(b"alice") ^ mix64(sticky::fnv1a(b"c")))
        );
    }
}
