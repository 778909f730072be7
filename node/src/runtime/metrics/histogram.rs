//! A Prometheus histogram of durations, owned by one core.
//!
//! Plain `Cell`s: one thread per core, so observing costs a few compares and
//! two additions, no atomics. Buckets are kept per bound (not cumulative);
//! the exposition adds them up.

use std::cell::Cell;
use std::time::Duration;

/// Upper bounds of the buckets, in nanoseconds: 10 µs to 10 s, about three
/// per decade. A durable append here takes ~100 µs (one O_DSYNC write), so
/// the low end is fine-grained; a stalled disk shows up in the top buckets.
pub const BOUNDS_NS: [u64; 18] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    10_000_000_000,
];

/// Observations per bucket (the last one is `+Inf`), their sum and count.
#[derive(Default)]
pub struct Histogram {
    buckets: [Cell<u64>; BOUNDS_NS.len() + 1],
    sum_ns: Cell<u64>,
}

/// A copy of a histogram's figures, sent from its core to the scraper.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Per bucket, not cumulative; `BOUNDS_NS.len() + 1` entries.
    pub buckets: Vec<u64>,
    pub sum_ns: u64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let index = BOUNDS_NS.partition_point(|&bound| bound < ns);
        let bucket = &self.buckets[index];
        bucket.set(bucket.get() + 1);
        self.sum_ns.set(self.sum_ns.get().saturating_add(ns));
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: self.buckets.iter().map(Cell::get).collect(),
            sum_ns: self.sum_ns.get(),
        }
    }
}

impl HistogramSnapshot {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_lands_in_the_first_bucket_at_or_above_it() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(10)); // on the bound: `le` is inclusive
        h.observe(Duration::from_micros(11));
        h.observe(Duration::from_secs(60)); // past every bound: +Inf
        let s = h.snapshot();
        assert_eq!((s.buckets[0], s.buckets[1]), (1, 1));
        assert_eq!(s.buckets[BOUNDS_NS.len()], 1);
        assert_eq!(s.count(), 3);
        assert_eq!(s.sum_ns, 10_000 + 11_000 + 60_000_000_000);
    }
}
