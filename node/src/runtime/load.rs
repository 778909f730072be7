//! Append rates per segment, which auto-scaling reads (`GetSegmentLoad`).
//!
//! Each segment's rate is an exponentially weighted moving average with the
//! scaling window as its time constant: a burst shorter than the window
//! moves it a little, a rate held for the window moves it most of the way.
//! Rates are not journaled: after a restart they build up again, which only
//! delays scaling by a window.

use std::collections::HashMap;

/// The rates of one segment at the time of its last update.
#[derive(Clone, Copy, Debug, Default)]
struct Meter {
    events_per_s: f64,
    bytes_per_s: f64,
    at_ms: u64,
}

/// Rates of the segments of one core. One entry per segment that received
/// an append and still exists, so it is bounded by the core's segments.
pub struct SegmentLoads {
    window_ms: u64,
    meters: HashMap<String, Meter>,
}

impl SegmentLoads {
    pub fn new(window_ms: u64) -> Self {
        assert!(window_ms > 0, "the scaling window is positive");
        Self {
            window_ms,
            meters: HashMap::new(),
        }
    }

    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// Counts an append of `events` events and `bytes` bytes at `now_ms`.
    /// A segment without a meter gets one only if `exists` says so, so
    /// appends to missing segments leave nothing behind; asked only then,
    /// so a metered segment's append costs one lookup.
    pub fn record(
        &mut self,
        segment: &str,
        events: u64,
        bytes: u64,
        now_ms: u64,
        exists: impl FnOnce() -> bool,
    ) {
        let window_s = self.window_ms as f64 / 1000.0;
        let meter = match self.meters.get_mut(segment) {
            Some(meter) => meter,
            None if exists() => self.meters.entry(segment.to_owned()).or_insert(Meter {
                at_ms: now_ms,
                ..Meter::default()
            }),
            None => return,
        };
        *meter = decayed(*meter, now_ms, self.window_ms);
        meter.events_per_s += events as f64 / window_s;
        meter.bytes_per_s += bytes as f64 / window_s;
    }

    /// (events per second, bytes per second) at `now_ms`.
    pub fn rates(&self, segment: &str, now_ms: u64) -> (f64, f64) {
        self.meters.get(segment).map_or((0.0, 0.0), |meter| {
            let meter = decayed(*meter, now_ms, self.window_ms);
            (meter.events_per_s, meter.bytes_per_s)
        })
    }

    /// The segment is gone.
    pub fn forget(&mut self, segment: &str) {
        self.meters.remove(segment);
    }
}

fn decayed(meter: Meter, now_ms: u64, window_ms: u64) -> Meter {
    let elapsed = now_ms.saturating_sub(meter.at_ms) as f64;
    let keep = (-elapsed / window_ms as f64).exp();
    Meter {
        events_per_s: meter.events_per_s * keep,
        bytes_per_s: meter.bytes_per_s * keep,
        at_ms: now_ms.max(meter.at_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rate_converges_to_itself() {
        let mut loads = SegmentLoads::new(1_000);
        // 100 events of 10 bytes per second, in 10 ms steps, for 10 windows.
        for step in 0..1_000 {
            loads.record("s/t/0", 1, 10, step * 10, || true);
        }
        let (events, bytes) = loads.rates("s/t/0", 10_000);
        assert!((events - 100.0).abs() < 5.0, "{events}");
        assert!((bytes - 1_000.0).abs() < 50.0, "{bytes}");
    }

    #[test]
    fn an_idle_segment_cools_down_and_a_forgotten_one_is_zero() {
        let mut loads = SegmentLoads::new(1_000);
        loads.record("a", 1_000, 1_000, 0, || true);
        loads.record("missing", 1, 1, 0, || false);
        assert_eq!(loads.rates("missing", 0), (0.0, 0.0));
        let (hot, _) = loads.rates("a", 0);
        let (cool, _) = loads.rates("a", 5_000);
        assert!(cool < hot / 100.0, "{hot} then {cool}");
        loads.forget("a");
        assert_eq!(loads.rates("a", 5_000), (0.0, 0.0));
    }
}
