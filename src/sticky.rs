//! Sticky assignment: the same key always reaches the same destination, everywhere.
//!
//! The hash is fixed (no per-process seed), so every worker, restart and proxy agrees:
//! FNV-1a (64-bit) of the key bytes and of each destination's cluster name, combined and
//! finished with the SplitMix64 mixer. The destination is chosen by weighted rendezvous hashing:
//! each destination `d` with weight `w` scores `-ln(u(key, d)) / w`, where `u` is the hash mapped
//! into (0, 1), and the lowest score wins. This gives each destination a share of keys equal to
//! its share of the weights, and makes ramps monotone: when one destination's weight grows and
//! the others shrink, no key leaves the growing destination; when the others shrink in
//! proportion (the usual ramp), every key that moves, moves to it.

use crate::random::mix64;

/// FNV-1a, 64-bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A value in (0, 1) that depends only on the key and the destination.
fn unit_interval(key_hash: u64, destination_hash: u64) -> f64 {
    let mixed = mix64(key_hash ^ mix64(destination_hash));
    // The top 53 bits, centred in their bucket so the value is never 0 or 1.
    ((mixed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// [`choose`] over parallel slices of hashes and weights.
pub fn choose_among(key: &[u8], hashes: &[u64], weights: &[u32]) -> Option<usize> {
    choose(key, hashes.iter().copied().zip(weights.iter().copied()))
}

/// The destination for `key` among `(hash, weight)` per destination, where the hash is `fnv1a` of
/// its cluster name. Destinations of weight 0 are never chosen. `None` when every weight is 0.
pub fn choose(key: &[u8], destinations: impl Iterator<Item = (u64, u32)>) -> Option<usize> {
    choose_hashed(fnv1a(key), destinations, None)
}

/// [`choose`] from a key already hashed, leaving out destination `except` (a cohort places its
/// newer destination first and picks among the others with this).
#[inline]
pub fn choose_hashed(
    key_hash: u64,
    destinations: impl Iterator<Item = (u64, u32)>,
    except: Option<usize>,
) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for (index, (hash, weight)) in destinations.enumerate() {
        if weight == 0 || except == Some(index) {
            continue;
        }
        let score = -unit_interval(key_hash, hash).ln() / f64::from(weight);
        if best.is_none_or(|(lowest, _)| score < lowest) {
            best = Some((score, index));
        }
    }
    best.map(|(_, index)| index)
}

/// The value of cookie `name` in a `Cookie` header; malformed pieces are skipped, not fatal.
pub fn cookie_value<'h>(header: &'h [u8], name: &[u8]) -> Option<&'h [u8]> {
    header.split(|b| *b == b';').find_map(|piece| {
        let piece = piece.trim_ascii();
        let eq = piece.iter().position(|b| *b == b'=')?;
        let (key, value) = (piece[..eq].trim_ascii(), piece[eq + 1..].trim_ascii());
        if key != name {
            return None;
        }
        let unquoted = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        Some(unquoted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn hashes(names: &[&str]) -> Vec<u64> {
        names.iter().map(|n| fnv1a(n.as_bytes())).collect()
    }

    #[test]
    fn fnv1a_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn same_key_same_destination() {
        let dests = hashes(&["v1", "v3"]);
        for user in 0..200 {
            let key = format!("user-{user}");
            let first = choose_among(key.as_bytes(), &dests, &[50, 50]);
            assert_eq!(first, choose_among(key.as_bytes(), &dests, &[50, 50]));
        }
    }

    #[test]
    fn shares_follow_weights_across_keys() {
        let dests = hashes(&[
            "outbound|9080|v1|r",
            "outbound|9080|v2|r",
            "outbound|9080|v3|r",
        ]);
        let weights = [20, 30, 50];
        let users = 20_000;
        let mut counts = [0f64; 3];
        for user in 0..users {
            let key = format!("user-{user}");
            counts[choose_among(key.as_bytes(), &dests, &weights).unwrap()] += 1.0;
        }
        for (count, weight) in counts.iter().zip(weights) {
            let p = f64::from(weight) / 100.0;
            let sigma = (users as f64 * p * (1.0 - p)).sqrt();
            assert!((count - users as f64 * p).abs() < 5.0 * sigma, "{counts:?}");
        }
    }

    #[test]
    fn ramp_is_monotone() {
        let dests = hashes(&["v1", "v3"]);
        for user in 0..5_000 {
            let key = format!("user-{user}");
            let mut previous = choose_among(key.as_bytes(), &dests, &[100, 0]).unwrap();
            for v3 in [1, 10, 50, 80, 99, 100] {
                let now = choose_among(key.as_bytes(), &dests, &[100 - v3, v3]).unwrap();
                assert!(!(previous == 1 && now == 0), "{key} left v3 at weight {v3}");
                previous = now;
            }
        }
        // Three destinations, the others shrinking in proportion: moves only go to the grower.
        let three = hashes(&["a", "b", "c"]);
        for user in 0..5_000 {
            let key = format!("user-{user}");
            let before = choose_among(key.as_bytes(), &three, &[40, 40, 20]).unwrap();
            let after = choose_among(key.as_bytes(), &three, &[20, 20, 60]).unwrap();
            assert!(after == before || after == 2, "{key}: {before} -> {after}");
        }
    }

    #[test]
    fn zero_weights_are_skipped() {
        let dests = hashes(&["v1", "v2"]);
        assert_eq!(choose_among(b"anyone", &dests, &[0, 7]), Some(1));
        assert_eq!(choose_among(b"anyone", &dests, &[0, 0]), None);
    }

    #[test]
    fn cookies_are_parsed_leniently() {
        let header = b"a=1; user=alice ;broken; =x; quoted=\"bob\"; user=second";
        assert_eq!(cookie_value(header, b"user"), Some(&b"alice"[..]));
        assert_eq!(cookie_value(header, b"quoted"), Some(&b"bob"[..]));
        assert_eq!(cookie_value(header, b"broken"), None);
        assert_eq!(cookie_value(header, b"missing"), None);
        assert_eq!(
            cookie_value(b"user=\xff\xfe", b"user"),
            Some(&b"\xff\xfe"[..])
        );
        assert_eq!(cookie_value(b";;;", b"user"), None);
    }
}
