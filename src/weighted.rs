//! Picking one destination by relative weight.

use crate::random::RandomSource;

/// Cumulative weights of an entry's destinations, for an O(log n) unbiased choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedChoice {
    /// `cumulative[i]` is the sum of the weights of destinations `0..=i`.
    cumulative: Vec<u64>,
}

impl WeightedChoice {
    /// `None` when no destination has weight (nothing could ever be picked).
    /// Weights are `u32`, so the sum of up to 2^32 of them fits in a `u64`.
    pub fn new(weights: &[u32]) -> Option<Self> {
        let mut total = 0u64;
        let cumulative: Vec<u64> = weights
            .iter()
            .map(|w| {
                total += u64::from(*w);
                total
            })
            .collect();
        (total > 0).then_some(WeightedChoice { cumulative })
    }

    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The index of the destination a uniform draw in `0..total` falls on.
    pub fn index_for(&self, draw: u64) -> usize {
        self.cumulative.partition_point(|&upto| upto <= draw)
    }

    pub fn pick(&self, random: &mut impl RandomSource) -> usize {
        match self.cumulative.len() {
            1 => 0,
            _ => self.index_for(random.below(self.total())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SplitMix64;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn draws_land_on_their_interval() {
        let choice = WeightedChoice::new(&[20, 30, 50]).unwrap();
        assert_eq!(choice.total(), 100);
        assert_eq!(choice.index_for(0), 0);
        assert_eq!(choice.index_for(19), 0);
        assert_eq!(choice.index_for(20), 1);
        assert_eq!(choice.index_for(49), 1);
        assert_eq!(choice.index_for(50), 2);
        assert_eq!(choice.index_for(99), 2);
    }

    #[test]
    fn zero_weights_are_never_picked() {
        let choice = WeightedChoice::new(&[0, 5, 0, 5, 0]).unwrap();
        for draw in 0..10 {
            let index = choice.index_for(draw);
            assert!(index == 1 || index == 3, "draw {draw} -> {index}");
        }
    }

    #[test]
    fn all_zero_has_no_choice() {
        assert_eq!(WeightedChoice::new(&[0, 0]), None);
        assert_eq!(WeightedChoice::new(&[]), None);
    }

    #[test]
    fn large_totals_do_not_overflow() {
        let choice = WeightedChoice::new(&[u32::MAX, u32::MAX, 1]).unwrap();
        assert_eq!(choice.total(), 2 * u64::from(u32::MAX) + 1);
        assert_eq!(choice.index_for(u64::from(u32::MAX) - 1), 0);
        assert_eq!(choice.index_for(u64::from(u32::MAX)), 1);
        assert_eq!(choice.index_for(choice.total() - 1), 2);
    }

    #[test]
    fn shares_follow_weights_within_five_sigma() {
        let weights = [1u32, 3, 4_000_000_000];
        let choice = WeightedChoice::new(&[1, 3]).unwrap();
        let mut rng = SplitMix64::new(1);
        let draws = 40_000u32;
        let mut counts = [0u32; 2];
        for _ in 0..draws {
            counts[choice.pick(&mut rng)] += 1;
        }
        let expected = f64::from(draws) * 0.25;
        let sigma = (f64::from(draws) * 0.25 * 0.75).sqrt();
        assert!(
            (f64::from(counts[0]) - expected).abs() < 5.0 * sigma,
            "{counts:?}"
        );
        // A weight next to 2^32 keeps a tiny one tiny: no measurable bias toward small indexes.
        let skewed = WeightedChoice::new(&weights).unwrap();
        let hits_small = (0..draws).filter(|_| skewed.pick(&mut rng) < 2).count();
        assert!(
            hits_small <= 1,
            "{hits_small} hits on weights 1 and 3 out of 4e9"
        );
    }
}
