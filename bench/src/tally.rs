//! What the collectors count: each keeps its own histograms (no lock per
//! acknowledgement), and all of them feed one per-second series.
//!
//! A second of the series is finished, its percentiles taken and its
//! histogram dropped, once every collector has moved past it, so memory
//! holds only the seconds still open however long the run is.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::harness::{Clock, Live};
use crate::stats::{Latencies, round3};

/// One second of a run, by acknowledgement time.
#[derive(Clone, Debug, Serialize)]
pub struct Second {
    /// Seconds since measuring began (this second covers `t..t+1`).
    pub t: u32,
    /// Acknowledgements in this second (its throughput in events/s).
    pub events: u64,
    pub mb_per_s: f64,
    /// Latency percentiles of the events acknowledged in this second;
    /// absent when none were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_us: Option<f64>,
}

/// An event's figures as its collector records them.
pub struct Ack {
    pub intended: Instant,
    pub sent: Instant,
    pub arrived: Instant,
    pub bytes: usize,
}

/// The per-second series all collectors of a run add to.
pub struct Series {
    state: Mutex<SeriesState>,
    collectors: usize,
    live: Arc<Live>,
}

struct SeriesState {
    /// Second `first_open + i` is `open[i]`.
    first_open: u32,
    open: VecDeque<OpenSecond>,
    done: Vec<Second>,
}

struct OpenSecond {
    latencies: Latencies,
    events: u64,
    bytes: u64,
    /// Collectors that have closed this second.
    closed_by: usize,
}

impl Series {
    pub fn new(collectors: usize, live: Arc<Live>) -> Self {
        Self {
            state: Mutex::new(SeriesState {
                first_open: 0,
                open: VecDeque::new(),
                done: Vec::new(),
            }),
            collectors: collectors.max(1),
            live,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SeriesState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One collector's figures for second `t`; each collector closes its
    /// seconds in order, empty ones included.
    fn close(&self, t: u32, latencies: &Latencies, events: u64, bytes: u64) {
        let mut state = self.lock();
        assert!(t >= state.first_open, "second {t} closed twice");
        let index = (t - state.first_open) as usize;
        while state.open.len() <= index {
            state.open.push_back(OpenSecond {
                latencies: Latencies::new(),
                events: 0,
                bytes: 0,
                closed_by: 0,
            });
        }
        let second = &mut state.open[index];
        second.latencies.add(latencies);
        second.events += events;
        second.bytes += bytes;
        second.closed_by += 1;
        while state
            .open
            .front()
            .is_some_and(|s| s.closed_by >= self.collectors)
        {
            self.finish_front(&mut state);
        }
    }

    fn finish_front(&self, state: &mut SeriesState) {
        let Some(open) = state.open.pop_front() else {
            return;
        };
        let t = state.first_open;
        state.first_open += 1;
        let l = &open.latencies;
        let has = !l.is_empty();
        if has {
            let p99_ns = (l.quantile_us(0.99) * 1000.0) as u64;
            self.live.last_p99_ns.store(p99_ns, Ordering::Relaxed);
        }
        state.done.push(Second {
            t,
            events: open.events,
            mb_per_s: round3(open.bytes as f64 / 1e6),
            p50_us: has.then(|| l.quantile_us(0.5)),
            p99_us: has.then(|| l.quantile_us(0.99)),
            max_us: has.then(|| l.max_us()),
        });
    }

    /// Every second, once all collectors are done.
    pub fn finish(&self) -> Vec<Second> {
        let mut state = self.lock();
        while !state.open.is_empty() {
            self.finish_front(&mut state);
        }
        std::mem::take(&mut state.done)
    }
}

/// One collector's sums: its share of the run's histograms, and the second
/// it is filling.
pub struct Tally {
    clock: Clock,
    live: Arc<Live>,
    series: Arc<Series>,
    pub latencies: Latencies,
    pub send_delay: Latencies,
    pub events: u64,
    pub payload_bytes: u64,
    pub late_acks: u64,
    second: u32,
    second_latencies: Latencies,
    second_events: u64,
    second_bytes: u64,
}

impl Tally {
    pub fn new(clock: Clock, live: Arc<Live>, series: Arc<Series>) -> Self {
        Self {
            clock,
            live,
            series,
            latencies: Latencies::new(),
            send_delay: Latencies::new(),
            events: 0,
            payload_bytes: 0,
            late_acks: 0,
            second: 0,
            second_latencies: Latencies::new(),
            second_events: 0,
            second_bytes: 0,
        }
    }

    pub fn record(&mut self, ack: &Ack) {
        self.live.acked.fetch_add(1, Ordering::Relaxed);
        if ack.intended < self.clock.measure_from {
            return; // warm-up
        }
        // An ack stamped before the window opened (possible only for an
        // event due right at its start) counts in second 0.
        let arrived = ack.arrived.max(ack.intended);
        let latency = arrived - ack.intended;
        self.latencies.record(latency);
        self.send_delay
            .record(ack.sent.saturating_duration_since(ack.intended));
        if arrived <= self.clock.end {
            self.events += 1;
            self.payload_bytes += ack.bytes as u64;
        } else {
            self.late_acks += 1;
        }
        // A second already closed (only by a stall of this collector longer
        // than `close_past`'s margin) counts the ack in the current one.
        let second = arrived.saturating_duration_since(self.clock.measure_from);
        let second = u32::try_from(second.as_secs()).unwrap_or(u32::MAX);
        while self.second < second {
            self.close_second();
        }
        self.second_latencies.record(latency);
        self.second_events += 1;
        self.second_bytes += ack.bytes as u64;
    }

    /// Hands the current second (empty or not) to the series and starts the
    /// next.
    fn close_second(&mut self) {
        self.series.close(
            self.second,
            &self.second_latencies,
            self.second_events,
            self.second_bytes,
        );
        self.second_latencies.reset();
        self.second_events = 0;
        self.second_bytes = 0;
        self.second += 1;
    }

    /// Closes the seconds that ended more than a second before `now`: an
    /// ack stamped in one of them has long been recorded (stamps come at
    /// most one collector turn before their record).
    pub fn close_past(&mut self, now: Instant) {
        let since = now.saturating_duration_since(self.clock.measure_from);
        let done = since.as_secs().saturating_sub(1);
        let done = u32::try_from(done).unwrap_or(u32::MAX);
        while self.second < done {
            self.close_second();
        }
    }

    /// Closes every second of the window (a stall is a zero, not a gap) and
    /// whatever the drain added.
    pub fn close(&mut self) {
        let window_seconds = (self.clock.end - self.clock.measure_from).as_secs_f64();
        let whole = window_seconds.ceil() as u32;
        while self.second < whole || self.second_events > 0 {
            self.close_second();
        }
    }

    /// Adds `other`'s run-wide sums (both closed).
    pub fn absorb(&mut self, other: &Tally) {
        self.latencies.add(&other.latencies);
        self.send_delay.add(&other.send_delay);
        self.events += other.events;
        self.payload_bytes += other.payload_bytes;
        self.late_acks += other.late_acks;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn clock() -> Clock {
        let start = Instant::now();
        Clock {
            start,
            measure_from: start,
            end: start + Duration::from_secs(2),
        }
    }

    fn ack(clock: &Clock, at_ms: u64, latency_ms: u64) -> Ack {
        let arrived = clock.measure_from + Duration::from_millis(at_ms);
        let intended = arrived - Duration::from_millis(latency_ms);
        Ack {
            intended: intended.max(clock.measure_from),
            sent: intended.max(clock.measure_from),
            arrived,
            bytes: 1000,
        }
    }

    #[test]
    fn two_collectors_make_one_series_with_every_second() {
        let clock = clock();
        let live = Arc::new(Live::default());
        let series = Arc::new(Series::new(2, Arc::clone(&live)));
        let mut a = Tally::new(clock, Arc::clone(&live), Arc::clone(&series));
        let mut b = Tally::new(clock, Arc::clone(&live), Arc::clone(&series));
        a.record(&ack(&clock, 100, 1));
        a.record(&ack(&clock, 1500, 2));
        b.record(&ack(&clock, 200, 3));
        // b's second 0 is still open: nothing finished yet.
        assert!(series.lock().done.is_empty());
        b.record(&ack(&clock, 2500, 4)); // after the window: late
        a.close();
        b.close();
        a.absorb(&b);
        let seconds = series.finish();
        let events: Vec<u64> = seconds.iter().map(|s| s.events).collect();
        assert_eq!(events, [2, 1, 1]);
        assert_eq!(seconds.iter().map(|s| s.t).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(a.events, 3);
        assert_eq!(a.late_acks, 1);
        assert_eq!(a.latencies.len(), 4);
        assert!((seconds[2].max_us.unwrap_or(0.0) - 4000.0).abs() < 10.0);
        assert!(live.last_p99_ns.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn a_quiet_collector_closes_its_seconds_so_the_others_finish() {
        let clock = clock();
        let live = Arc::new(Live::default());
        let series = Arc::new(Series::new(2, Arc::clone(&live)));
        let mut busy = Tally::new(clock, Arc::clone(&live), Arc::clone(&series));
        let mut quiet = Tally::new(clock, live, Arc::clone(&series));
        busy.record(&ack(&clock, 100, 1));
        busy.record(&ack(&clock, 1100, 1));
        quiet.close_past(clock.measure_from + Duration::from_millis(1500));
        assert!(series.lock().done.is_empty(), "second 0 ended 0.5 s ago");
        quiet.close_past(clock.measure_from + Duration::from_millis(2100));
        let done: Vec<u32> = series.lock().done.iter().map(|s| s.t).collect();
        assert_eq!(done, [0]);
    }

    #[test]
    fn a_second_without_acks_is_a_zero_not_a_gap() {
        let clock = clock();
        let live = Arc::new(Live::default());
        let series = Arc::new(Series::new(1, Arc::clone(&live)));
        let mut a = Tally::new(clock, live, Arc::clone(&series));
        a.record(&ack(&clock, 1200, 1));
        a.close();
        let seconds = series.finish();
        assert_eq!(seconds.len(), 2);
        assert_eq!(seconds[0].events, 0);
        assert!(seconds[0].p99_us.is_none());
        assert_eq!(seconds[1].events, 1);
    }
}
