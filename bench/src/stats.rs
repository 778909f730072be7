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

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every sample of `other`.
    pub fn add(&mut self, other: &Latencies) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// Forgets every sample (keeps the buckets' memory).
    pub fn reset(&mut self) {
        self.0.reset();
    }

    /// The largest latency recorded, in microseconds.
    pub fn max_us(&self) -> f64 {
        us(self.0.max())
    }

    /// The percentile spectrum for a chart: latencies at 0, 90, 99, 99.9, ...
    /// percent in quarter-"nine" steps, as far as the sample count resolves,
    /// then the maximum (at 100).
    pub fn distribution(&self) -> Vec<PercentilePoint> {
        let mut points = Vec::new();
        if self.is_empty() {
            return points;
        }
        // The highest percentile with at least one sample above it.
        let resolvable = (self.len() as f64).log10();
        let mut nines = 0.0f64;
        while nines <= resolvable {
            let quantile = 1.0 - 10f64.powf(-nines);
            points.push(PercentilePoint {
                percentile: round3(quantile * 100.0),
                us: self.quantile_us(quantile),
            });
            nines += 0.25;
        }
        points.push(PercentilePoint {
            percentile: 100.0,
            us: self.max_us(),
        });
        points
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

/// One point of a percentile spectrum.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PercentilePoint {
    pub percentile: f64,
    pub us: f64,
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

    #[test]
    fn the_distribution_climbs_to_the_maximum() {
        let samples: Vec<u64> = (1..=10_000).map(|i| i * 1000).collect();
        let points = Latencies::from_samples(&samples).distribution();
        assert_eq!(points.first().map(|p| p.percentile), Some(0.0));
        assert_eq!(points.last().map(|p| p.percentile), Some(100.0));
        assert!(points.iter().any(|p| p.percentile == 99.99), "{points:?}");
        assert!(
            !points
                .iter()
                .any(|p| p.percentile > 99.99 && p.percentile < 100.0)
        );
        assert!(
            points
                .windows(2)
                .all(|w| w[0].us <= w[1].us && w[0].percentile < w[1].percentile)
        );
        assert!(Latencies::new().distribution().is_empty());
    }
}
