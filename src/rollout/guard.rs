//! The canary guard: error counts of the growing destinations over a sliding window of time
//! buckets, and the rule that trips the rollout back to `from`.
//!
//! The window is `BUCKETS` buckets of `window / BUCKETS` each, named by their absolute index
//! (`unix_ms / bucket_ms`), so counts from any worker or process line up without coordination.
//! The totals at an instant are those of the bucket holding it and the `BUCKETS − 1` before: they
//! cover between `window − window / BUCKETS` and `window` of history. The window travels between
//! workers as bytes ([`Window::encode`]), so a host's shared store needs no knowledge of it.

pub const BUCKETS: usize = 10;
const BUCKET_BYTES: usize = 24;

/// `guard` as configured: trip when, over `window_ms`, at least `min_requests` answered and more
/// than `max_error_rate` of them failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    pub max_error_rate: f64,
    pub min_requests: u64,
    pub window_ms: u64,
}

impl Guard {
    pub fn bucket_ms(&self) -> u64 {
        (self.window_ms / BUCKETS as u64).max(1)
    }

    pub fn trips(&self, totals: Totals) -> bool {
        totals.requests >= self.min_requests.max(1)
            && totals.errors as f64 > self.max_error_rate * totals.requests as f64
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
}

impl Totals {
    /// The share of failed requests in tenths of a percent (rounded down), 0 when there were none.
    pub fn error_permille(&self) -> u64 {
        self.errors.saturating_mul(1_000) / self.requests.max(1)
    }
}

/// `"12.5%"` from tenths of a percent: integer formatting keeps float printing out of the module.
pub fn percent(permille: u64) -> String {
    format!("{}.{}%", permille / 10, permille % 10)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bucket {
    index: u64,
    counts: Totals,
}

/// Counts per time bucket; a bucket slot is reused once its time has left the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    buckets: [Bucket; BUCKETS],
}

fn bucket_of(now_ms: i64, bucket_ms: u64) -> u64 {
    u64::try_from(now_ms).unwrap_or(0) / bucket_ms
}

impl Window {
    /// Adds counts to the bucket holding `now_ms`.
    pub fn add(&mut self, now_ms: i64, bucket_ms: u64, counts: Totals) {
        let index = bucket_of(now_ms, bucket_ms);
        let Some(slot) = self.buckets.get_mut((index % BUCKETS as u64) as usize) else {
            return;
        };
        if slot.index != index {
            *slot = Bucket {
                index,
                counts: Totals::default(),
            };
        }
        slot.counts.requests = slot.counts.requests.saturating_add(counts.requests);
        slot.counts.errors = slot.counts.errors.saturating_add(counts.errors);
    }

    /// The counts of the window ending in the bucket that holds `now_ms`.
    pub fn totals(&self, now_ms: i64, bucket_ms: u64) -> Totals {
        let current = bucket_of(now_ms, bucket_ms);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| b.index >= oldest && b.index <= current)
            .fold(Totals::default(), |sum, b| Totals {
                requests: sum.requests.saturating_add(b.counts.requests),
                errors: sum.errors.saturating_add(b.counts.errors),
            })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(BUCKETS * BUCKET_BYTES);
        for bucket in &self.buckets {
            for value in [bucket.index, bucket.counts.requests, bucket.counts.errors] {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
        bytes
    }

    /// The window [`Window::encode`] wrote; an empty window for anything else (nothing stored yet).
    pub fn decode(bytes: &[u8]) -> Self {
        let mut window = Window::default();
        if bytes.len() != BUCKETS * BUCKET_BYTES {
            return window;
        }
        let value = |at: usize| {
            bytes
                .get(at..at + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_le_bytes)
        };
        for (i, bucket) in window.buckets.iter_mut().enumerate() {
            let at = i * BUCKET_BYTES;
            *bucket = Bucket {
                index: value(at),
                counts: Totals {
                    requests: value(at + 8),
                    errors: value(at + 16),
                },
            };
        }
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const T0: i64 = 1_796_119_200_000;

    fn guard() -> Guard {
        Guard {
            max_error_rate: 0.05,
            min_requests: 50,
            window_ms: 30_000,
        }
    }

    fn counts(requests: u64, errors: u64) -> Totals {
        Totals { requests, errors }
    }

    #[test]
    fn counts_leave_the_window_bucket_by_bucket() {
        let g = guard();
        let bucket = g.bucket_ms();
        assert_eq!(bucket, 3_000);
        let mut w = Window::default();
        w.add(T0, bucket, counts(10, 1));
        w.add(T0 + 2_999, bucket, counts(5, 5)); // the same bucket
        w.add(T0 + 3_000, bucket, counts(20, 0)); // the next one
        assert_eq!(w.totals(T0 + 3_000, bucket), counts(35, 6));
        // The first bucket is in the window for 10 buckets (27 s to 30 s of age), then leaves.
        assert_eq!(w.totals(T0 + 29_999, bucket), counts(35, 6));
        assert_eq!(w.totals(T0 + 30_000, bucket), counts(20, 0));
        assert_eq!(w.totals(T0 + 33_000, bucket), counts(0, 0));
        // A slot is reused for a later bucket: the old counts are gone, not added.
        w.add(T0 + 30_000, bucket, counts(1, 1));
        assert_eq!(w.totals(T0 + 30_000, bucket), counts(21, 1));
        // Counts from the future (a clock behind another worker's) are not in the window yet.
        assert_eq!(w.totals(T0 + 29_999, bucket), counts(20, 0));
    }

    #[test]
    fn trips_only_past_both_thresholds() {
        let g = guard();
        assert!(!g.trips(counts(49, 49)), "too few requests");
        assert!(!g.trips(counts(100, 5)), "5% is not more than 5%");
        assert!(g.trips(counts(100, 6)));
        assert!(g.trips(counts(50, 50)));
        let any_error = Guard {
            max_error_rate: 0.0,
            min_requests: 0,
            ..g
        };
        assert!(!any_error.trips(counts(0, 0)), "no traffic never trips");
        assert!(any_error.trips(counts(1, 1)));
        assert_eq!(percent(counts(200, 30).error_permille()), "15.0%");
        assert_eq!(percent(counts(3, 1).error_permille()), "33.3%");
        assert_eq!(counts(0, 0).error_permille(), 0);
        assert_eq!(percent((g.max_error_rate * 1000.0).round() as u64), "5.0%");
    }

    #[test]
    fn a_window_survives_its_bytes() {
        let mut w = Window::default();
        w.add(T0, 100, counts(7, 3));
        w.add(T0 + 250, 100, counts(u64::MAX, 1));
        let back = Window::decode(&w.encode());
        assert_eq!(back, w);
        assert_eq!(back.totals(T0 + 250, 100), counts(u64::MAX, 4));
        assert_eq!(Window::decode(b""), Window::default());
        assert_eq!(Window::decode(&[1, 2, 3]), Window::default());
    }

    #[test]
    fn short_windows_still_have_buckets() {
        let tiny = Guard {
            window_ms: 5,
            ..guard()
        };
        assert_eq!(tiny.bucket_ms(), 1);
    }
}
