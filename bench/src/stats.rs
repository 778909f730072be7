//! Latency histograms and the summaries the reports print.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency a histogram tracks: one hour. Anything longer is clamped
/// (and still shows as the maximum).
const MAX_TRACKED_NS: u64 = 3_600 * 1_000_000_000;

/// Significant decimal digits the histogram keeps: 0.1% resolution.
const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram in nanoseconds.
pub struct Latencies(Histogram<u64>);

impl Latencies {
    pub fn new() -> Self {
        match Histogram::new_with_bounds(1, MAX_TRACKED_NS, SIGNIFICANT_DIGITS) {
            Ok(histogram) => Self(histogram),
            Err(e) => panic!("constant histogram bounds rejected: {e}"),
        }
    }

    pub fn from_samples(samples_ns: &[u64]) -> Self {
        let mut latencies = Self::new();
        for &ns in samples_ns {
            latencies.record_ns(ns);
        }
        latencies
    }

    pub fn record_ns(&mut self, ns: u64) {
        self.0.saturating_record(ns.max(1));
    }

    pub fn record(&mut self, latency: Duration) {
        self.record_ns(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// The latency at `quantile` (0..=1), in microseconds.
    pub fn quantile_us(&self, quantile: f64) -> f64 {
        us(self.0.value_at_quantile(quantile))
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            p50: self.quantile_us(0.5),
            p90: self.quantile_us(0.9),
            p99: self.quantile_us(0.99),
            p999: self.quantile_us(0.999),
            p9999: self.quantile_us(0.9999),
            max: us(self.0.max()),
        }
    }

    pub fn floor_summary(&self) -> FloorLatency {
        FloorLatency {
            p50: self.quantile_us(0.5),
            p99: self.quantile_us(0.99),
            p999: self.quantile_us(0.999),
        }
    }
}

/// Nanoseconds as microseconds, rounded to 0.1 µs.
fn us(ns: u64) -> f64 {
    (ns as f64 / 100.0).round() / 10.0
}

/// Workload latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub p9999: f64,
    pub max: f64,
}

/// Device-floor latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FloorLatency {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

/// `numerator / denominator`, or 0 when the denominator is 0 (nothing measured).
pub fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        round3(numerator / denominator)
    } else {
        0.0
    }
}

/// Rounds to three decimals, so reports do not print float noise.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_in_microseconds() {
        let samples: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        let summary = Latencies::from_samples(&samples).summary();
        assert!((summary.p50 - 500.0).abs() < 1.0, "{summary:?}");
        assert!((summary.max - 1000.0).abs() < 1.0, "{summary:?}");
        assert_eq!(ratio(1.0, 0.0), 0.0);
        assert_eq!(ratio(1.0, 3.0), 0.333);
    }
}
