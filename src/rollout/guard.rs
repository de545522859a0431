//! The canary guard: error counts of the growing destinations over a sliding window of time
//! buckets, the rule that trips the rollout back to `from`, and what counts as a failure.
//!
//! The window is `BUCKETS` buckets of `window / BUCKETS` each, named by their absolute index
//! (`unix_ms / bucket_ms`), so counts from any worker or process line up without coordination.
//! The totals at an instant are those of the bucket holding it and the `BUCKETS − 1` before: they
//! cover between `window − window / BUCKETS` and `window` of history. The window travels between
//! workers as bytes ([`Window::encode`]), so a host's shared store needs no knowledge of it.

pub const BUCKETS: usize = 10;
const BUCKET_BYTES: usize = 24;
/// The size of [`Window::encode`]'s bytes.
pub const WINDOW_BYTES: usize = BUCKETS * BUCKET_BYTES;

/// `guard` as configured: trip when, over `window_ms`, at least `min_requests` answered and more
/// than `max_error_rate` of them failed. The guard watches from the first step until the last one
/// has been in force for `window_ms + bake_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    pub max_error_rate: f64,
    pub min_requests: u64,
    pub window_ms: u64,
    pub bake_ms: u64,
}

/// What the end of a watched stream says about the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered, below 500.
    Success,
    /// The upstream answered 5xx, or Envoy answered 5xx for it (connect failure, refused, reset,
    /// overflow, timeout, no healthy host).
    Failure,
    /// Nothing the upstream did: the client went away first, or another filter answered.
    NotCounted,
}

/// Envoy's `response.code_details` prefixes that name a failure of the upstream (Envoy's
/// `ResponseCodeDetailValues`): resets before or after the answer started (connection failure,
/// refused, remote reset, overflow, termination), per-try and overall timeouts, max stream duration.
const UPSTREAM_DETAILS: [&[u8]; 4] = [
    b"upstream_",
    b"response_timeout",
    b"no_healthy_upstream",
    b"maintenance_mode",
];

/// The outcome of a stream from its response code (absent when no answer was sent: the client
/// reset or abandoned it) and, read only for a 5xx, Envoy's `response.code_details`.
pub fn outcome(code: Option<u64>, details: impl FnOnce() -> Option<Vec<u8>>) -> Outcome {
    match code {
        Some(100..=499) => Outcome::Success,
        Some(500..=599) => {
            let Some(details) = details() else {
                return Outcome::NotCounted;
            };
            let upstream = details == b"via_upstream"
                || UPSTREAM_DETAILS.iter().any(|p| details.starts_with(p));
            if upstream {
                Outcome::Failure
            } else {
                Outcome::NotCounted
            }
        }
        _ => Outcome::NotCounted,
    }
}

impl Guard {
    pub fn bucket_ms(&self) -> u64 {
        (self.window_ms / BUCKETS as u64).max(1)
    }

    /// How long after the last step the guard keeps watching.
    pub fn watch_after_last_step_ms(&self) -> u64 {
        self.window_ms.saturating_add(self.bake_ms)
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
    pub fn plus(self, other: Totals) -> Totals {
        Totals {
            requests: self.requests.saturating_add(other.requests),
            errors: self.errors.saturating_add(other.errors),
        }
    }

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

/// Counts per time bucket; a bucket slot is reused once its time has left the window. Time in a
/// window never goes back: counts stamped before its newest bucket (a worker whose clock is behind,
/// or a clock stepped back) go to the newest bucket, so they are kept and nothing newer is erased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    buckets: [Bucket; BUCKETS],
}

fn bucket_of(now_ms: i64, bucket_ms: u64) -> u64 {
    u64::try_from(now_ms).unwrap_or(0) / bucket_ms
}

impl Window {
    fn newest(&self) -> u64 {
        self.buckets.iter().map(|b| b.index).max().unwrap_or(0)
    }

    /// The bucket index of `now_ms` for this window: never before its newest bucket.
    fn current(&self, now_ms: i64, bucket_ms: u64) -> u64 {
        bucket_of(now_ms, bucket_ms).max(self.newest())
    }

    /// Adds counts to the bucket holding `now_ms` (or the newest, when that is later).
    pub fn add(&mut self, now_ms: i64, bucket_ms: u64, counts: Totals) {
        let index = self.current(now_ms, bucket_ms);
        let Some(slot) = self.buckets.get_mut((index % BUCKETS as u64) as usize) else {
            return;
        };
        if slot.index != index {
            *slot = Bucket {
                index,
                counts: Totals::default(),
            };
        }
        slot.counts = slot.counts.plus(counts);
    }

    /// The counts of the window ending in the bucket that holds `now_ms` (or the newest).
    pub fn totals(&self, now_ms: i64, bucket_ms: u64) -> Totals {
        let current = self.current(now_ms, bucket_ms);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| b.index >= oldest && b.index <= current)
            .fold(Totals::default(), |sum, b| sum.plus(b.counts))
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
        if bytes.len() != WINDOW_BYTES {
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
            bake_ms: 0,
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
        // A clock behind the window's newest bucket reads the window as of that bucket.
        assert_eq!(w.totals(T0 + 29_999, bucket), counts(21, 1));
    }

    #[test]
    fn a_clock_stepping_back_never_erases_a_newer_bucket() {
        let bucket = guard().bucket_ms();
        let mut w = Window::default();
        w.add(T0 + 30_000, bucket, counts(40, 4));
        // Ten buckets earlier maps to the same slot: it must not replace the newer bucket.
        w.add(T0, bucket, counts(5, 5));
        assert_eq!(
            w.totals(T0 + 30_000, bucket),
            counts(45, 9),
            "kept, none erased"
        );
        assert_eq!(
            w.totals(T0, bucket),
            counts(45, 9),
            "a late clock sees the same window"
        );
        // Time moves on from the newest bucket only.
        assert_eq!(w.totals(T0 + 60_000, bucket), counts(0, 0));
    }

    #[test]
    fn only_what_the_upstream_did_counts() {
        let details = |d: &'static str| move || Some(d.as_bytes().to_vec());
        let never = || -> Option<Vec<u8>> { panic!("details are read only for a 5xx") };
        assert_eq!(outcome(Some(200), never), Outcome::Success);
        assert_eq!(outcome(Some(404), never), Outcome::Success);
        assert_eq!(
            outcome(Some(503), details("via_upstream")),
            Outcome::Failure
        );
        assert_eq!(
            outcome(Some(500), details("via_upstream")),
            Outcome::Failure
        );
        for envoys_own in [
            "upstream_reset_before_response_started{connection_failure}",
            "upstream_reset_before_response_started{connection_refused}",
            "upstream_reset_before_response_started{remote_reset}",
            "upstream_reset_before_response_started{overflow}",
            "upstream_per_try_timeout",
            "response_timeout",
            "no_healthy_upstream",
        ] {
            assert_eq!(
                outcome(Some(503), details(envoys_own)),
                Outcome::Failure,
                "{envoys_own}"
            );
        }
        // The client went away: no response code at all, whatever the details say.
        assert_eq!(
            outcome(None, details("downstream_remote_disconnect")),
            Outcome::NotCounted
        );
        assert_eq!(outcome(Some(0), never), Outcome::NotCounted);
        // Envoy's 5xx for something else than the upstream (another filter, no cluster).
        assert_eq!(
            outcome(Some(503), details("cluster_not_found")),
            Outcome::NotCounted
        );
        assert_eq!(
            outcome(Some(500), details("lua_response")),
            Outcome::NotCounted
        );
        assert_eq!(outcome(Some(503), || None), Outcome::NotCounted);
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
