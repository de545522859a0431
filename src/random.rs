//! Randomness for the weighted choice: injected, so choices are testable.

/// A source of uniformly distributed 64-bit values.
pub trait RandomSource {
    fn next_u64(&mut self) -> u64;

    /// A uniform value in `0..bound` without modulo bias (Lemire's multiply-and-reject).
    /// `bound` must be non-zero.
    fn below(&mut self, bound: u64) -> u64 {
        let mut product = u128::from(self.next_u64()) * u128::from(bound);
        if (product as u64) < bound {
            // Only the few low values that would over-represent some results are redrawn.
            let threshold = bound.wrapping_neg() % bound;
            while (product as u64) < threshold {
                product = u128::from(self.next_u64()) * u128::from(bound);
            }
        }
        (product >> 64) as u64
    }
}

/// SplitMix64: tiny state, fast, statistically sound for load spreading (not for secrets).
/// Seeded once per VM from the host's entropy, so requests never call the host for randomness.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }
}

/// The SplitMix64 output function; also a good 64-bit mixer for hashing.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Replays fixed values, to drive the choice to exact places.
    struct Replay(Vec<u64>, usize);
    impl RandomSource for Replay {
        fn next_u64(&mut self) -> u64 {
            let value = self.0[self.1 % self.0.len()];
            self.1 += 1;
            value
        }
    }

    #[test]
    fn below_maps_the_full_range_onto_the_bound() {
        let mut low = Replay(vec![1], 0);
        assert_eq!(low.below(10), 0);
        let mut high = Replay(vec![u64::MAX], 0);
        assert_eq!(high.below(10), 9);
        let mut half = Replay(vec![1 << 63], 0);
        assert_eq!(half.below(4_294_967_295), 2_147_483_647);
    }

    #[test]
    fn below_rejects_the_biased_low_values() {
        // With bound 3, threshold = 2^64 mod 3 = 1: a draw whose low product is 0 is redrawn.
        let mut source = Replay(vec![0, u64::MAX], 0);
        assert_eq!(source.below(3), 2);
        assert_eq!(source.1, 2, "the first draw must have been rejected");
    }

    #[test]
    fn splitmix_is_deterministic_for_a_seed() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(a.next_u64(), SplitMix64::new(43).next_u64());
    }

    #[test]
    fn below_is_uniform_over_a_small_bound() {
        let mut rng = SplitMix64::new(7);
        let mut counts = [0u32; 5];
        let draws = 50_000;
        for _ in 0..draws {
            counts[rng.below(5) as usize] += 1;
        }
        // 5 sigma of a binomial(50000, 0.2) is about 447.
        for count in counts {
            assert!((count as i64 - 10_000).abs() < 447, "{counts:?}");
        }
    }
}
