//! The open loop every driver runs under.
//!
//! Producer threads send at their events' intended times (event `k` of
//! producer `p` of `P` is due at `start + (k·P + p) / rate`), or as fast as
//! the window lets through at `rate = max`. Each send hands its
//! acknowledgement future to one collector task, which waits for all of
//! them at once and records each latency from the event's *intended* send
//! time when its own acknowledgement arrives. A stall therefore counts
//! against every event that should have been sent during it (no
//! coordinated omission), and an early ack is never held behind a late one.
//!
//! With `txn_events`, each send is one transaction of that many events
//! (`Driver::send_events_at`): the schedule, the window and the latencies
//! are then per transaction, from its intended start to its commit.
//!
//! The collector also keeps per-second figures (by acknowledgement time)
//! for the report's charts, and the counters the progress line shows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::driver::{AckFuture, Driver, Lane};
use crate::pacing::{precise_sleeps, wait_until};
use crate::progress::{self, ProgressMode};
use crate::spec::Workload;
use crate::stats::{Latencies, round3};

/// How long after the last send the run waits for outstanding
/// acknowledgements before it gives up on the system under test.
const DRAIN_PATIENCE: Duration = Duration::from_secs(30);

/// At a fixed rate, the most events in flight before senders wait (and so
/// fall behind their schedule, which the latencies then show): a bound on
/// memory should the system stall, far above any healthy backlog.
const FIXED_RATE_WINDOW: usize = 1 << 20;

/// What a run measured, warm-up excluded. A send is one event, or with
/// `txn_events` one transaction of that many events: `events` and the
/// series count sends, `payload_bytes` every event's bytes.
pub struct Measured {
    /// Intended send time to acknowledgement, of every event due in the
    /// measured window (including those acknowledged after it closed).
    pub latencies: Latencies,
    /// Actual send time minus intended send time: the harness's own
    /// lateness (OMB's "publish delay"); large values mean the sender, not
    /// the system, was saturated.
    pub send_delay: Latencies,
    /// Events due in the window and acknowledged before it closed.
    pub events: u64,
    pub payload_bytes: u64,
    /// Events due in the window but acknowledged after it closed.
    pub late_acks: u64,
    pub seconds: f64,
    /// One entry per second of the window (and of the drain after it, if
    /// acknowledgements were still arriving).
    pub series: Vec<Second>,
    /// When the run began, measuring began and the window closed, so a
    /// driver's own figures can be cut to the same window.
    pub clock: Clock,
}

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

/// The run's timeline: warm-up from `start`, measured from `measure_from`
/// until `end`.
#[derive(Clone, Copy)]
pub struct Clock {
    pub start: Instant,
    pub measure_from: Instant,
    pub end: Instant,
}

impl Clock {
    fn new(workload: &Workload) -> Self {
        let start = Instant::now();
        let measure_from = start + Duration::from_secs_f64(workload.warmup);
        let end = measure_from + Duration::from_secs_f64(workload.seconds);
        Self {
            start,
            measure_from,
            end,
        }
    }
}

/// Counters the collector updates and the progress line reads.
#[derive(Default)]
pub struct Live {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    /// p99 of the last full second, in nanoseconds (0 before the first).
    pub last_p99_ns: AtomicU64,
    /// Set once the senders are done and the run waits for the last acks.
    pub draining: AtomicBool,
    /// Each send is a transaction (the line counts commits, not events).
    pub transactions: bool,
}

/// Runs `workload` against `driver` over `lanes` and measures it.
/// `runtime` runs the collector (and the Redis and NATS clients).
pub fn run(
    driver: &dyn Driver,
    lanes: &[Lane],
    workload: &Workload,
    runtime: &tokio::runtime::Runtime,
    progress: ProgressMode,
    label: &str,
) -> anyhow::Result<Measured> {
    let limit = match workload.rate_per_s() {
        Some(_) => FIXED_RATE_WINDOW,
        None => workload.window,
    };
    let window = Arc::new(InFlight::new(limit));
    let live = Arc::new(Live {
        transactions: workload.txn_events > 0,
        ..Live::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (issue, issued) = mpsc::unbounded_channel();
    let clock = Clock::new(workload);
    let collector = runtime.spawn(collect(
        issued,
        clock,
        Arc::clone(&window),
        Arc::clone(&live),
        Arc::clone(&stop),
    ));
    let display = progress::start(progress, label, clock, Arc::clone(&live));
    let sent = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..workload.producers)
            .map(|producer| {
                let lanes: Vec<usize> = (0..lanes.len())
                    .filter(|&i| lanes[i].producer == producer)
                    .collect();
                let sender = Sender {
                    producer,
                    lanes,
                    driver,
                    workload,
                    clock,
                    issue: issue.clone(),
                    window: &window,
                    live: &live,
                    stop: &stop,
                };
                std::thread::Builder::new()
                    .name(format!("bench-producer-{producer}"))
                    .spawn_scoped(scope, move || sender.run())
            })
            .collect();
        drop(issue);
        let mut result = Ok(());
        for sender in senders {
            let outcome = match sender {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a producer thread panicked"))),
                Err(e) => Err(anyhow::Error::from(e).context("starting a producer thread")),
            };
            if let Err(e) = outcome {
                stop.store(true, Ordering::Relaxed);
                result = result.and(Err(e));
            }
        }
        result
    });
    live.draining.store(true, Ordering::Relaxed);
    let collected = runtime.block_on(collector);
    if let Some(display) = display {
        display.finish();
    }
    // The collector's error is the one that explains why sending stopped.
    let measured = collected.context("the collector task")??;
    sent?;
    Ok(measured)
}

/// One producer: its lanes, its share of the schedule, its random sizes.
struct Sender<'a> {
    producer: usize,
    lanes: Vec<usize>,
    driver: &'a dyn Driver,
    workload: &'a Workload,
    clock: Clock,
    issue: mpsc::UnboundedSender<Issued>,
    window: &'a InFlight,
    live: &'a Live,
    stop: &'a AtomicBool,
}

/// An event sent, on its way to the collector.
struct Issued {
    ack: AckFuture,
    intended: Instant,
    sent: Instant,
    bytes: usize,
}

impl Sender<'_> {
    fn run(self) -> anyhow::Result<()> {
        precise_sleeps();
        let sizes = &self.workload.event_bytes;
        let payload = crate::workload::payload(sizes.max());
        // Seeded per producer: the same workload draws the same sizes.
        let mut rng = SmallRng::seed_from_u64(self.producer as u64 + 1);
        let producers = self.workload.producers as f64;
        let rate = self.workload.rate_per_s();
        let mut events: Vec<&[u8]> = Vec::with_capacity(self.workload.txn_events);
        for k in 0u64.. {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let intended = match rate {
                Some(rate) => {
                    let due = (k as f64 * producers + self.producer as f64) / rate;
                    let at = self.clock.start + Duration::from_secs_f64(due);
                    if at >= self.clock.end {
                        break;
                    }
                    wait_until(at);
                    if !self.window.acquire() {
                        break;
                    }
                    at
                }
                None => {
                    if !self.window.acquire() {
                        break;
                    }
                    let now = Instant::now();
                    if now >= self.clock.end {
                        self.window.release();
                        break;
                    }
                    now
                }
            };
            let lane = self.lanes[k as usize % self.lanes.len()];
            let (ack, sent, bytes) = if self.workload.txn_events == 0 {
                let bytes = sizes.sample(&mut rng);
                let sent = Instant::now();
                let ack = self.driver.send_at(lane, &payload[..bytes], intended);
                (ack, sent, bytes)
            } else {
                events.clear();
                events.extend(
                    (0..self.workload.txn_events).map(|_| &payload[..sizes.sample(&mut rng)]),
                );
                let bytes = events.iter().map(|e| e.len()).sum();
                let sent = Instant::now();
                let ack = self.driver.send_events_at(lane, &events, intended);
                (ack, sent, bytes)
            };
            self.live.sent.fetch_add(1, Ordering::Relaxed);
            let issued = Issued {
                ack,
                intended,
                sent,
                bytes,
            };
            if self.issue.send(issued).is_err() {
                bail!("the collector stopped early");
            }
        }
        Ok(())
    }
}

/// Waits for every acknowledgement, in whatever order they come, and
/// measures each one.
async fn collect(
    mut issued: mpsc::UnboundedReceiver<Issued>,
    clock: Clock,
    window: Arc<InFlight>,
    live: Arc<Live>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Measured> {
    let mut tally = Tally::new(clock, live);
    let mut pending = FuturesUnordered::new();
    let mut open = true;
    let mut deadline = None;
    let result = loop {
        if !open && pending.is_empty() {
            break Ok(());
        }
        tokio::select! {
            biased;
            Some(done) = pending.next(), if !pending.is_empty() => {
                let (result, acked, issued): (anyhow::Result<()>, Instant, Meta) = done;
                window.release();
                if let Err(e) = result {
                    break Err(e);
                }
                tally.record(acked, &issued);
            }
            next = issued.recv(), if open => match next {
                Some(Issued { ack, intended, sent, bytes }) => {
                    let meta = Meta { intended, sent, bytes };
                    pending.push(async move {
                        let result = ack.await;
                        (result, Instant::now(), meta)
                    });
                }
                None => {
                    open = false;
                    deadline = Some(tokio::time::Instant::now() + DRAIN_PATIENCE);
                }
            },
            () = sleep_until(deadline), if deadline.is_some() => {
                break Err(anyhow::anyhow!(
                    "{} events still unacknowledged {DRAIN_PATIENCE:?} after the last send",
                    pending.len()
                ));
            }
        }
    };
    if let Err(e) = result {
        stop.store(true, Ordering::Relaxed);
        window.close();
        return Err(e);
    }
    Ok(tally.finish())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the collector keeps of a sent event while it waits for its ack.
struct Meta {
    intended: Instant,
    sent: Instant,
    bytes: usize,
}

/// The collector's sums: the run's histograms and the per-second series.
struct Tally {
    clock: Clock,
    live: Arc<Live>,
    latencies: Latencies,
    send_delay: Latencies,
    events: u64,
    payload_bytes: u64,
    late_acks: u64,
    series: Vec<Second>,
    /// The second being filled, and its figures so far.
    second: u32,
    second_latencies: Latencies,
    second_events: u64,
    second_bytes: u64,
}

impl Tally {
    fn new(clock: Clock, live: Arc<Live>) -> Self {
        Self {
            clock,
            live,
            latencies: Latencies::new(),
            send_delay: Latencies::new(),
            events: 0,
            payload_bytes: 0,
            late_acks: 0,
            series: Vec::new(),
            second: 0,
            second_latencies: Latencies::new(),
            second_events: 0,
            second_bytes: 0,
        }
    }

    fn record(&mut self, acked: Instant, issued: &Meta) {
        self.live.acked.fetch_add(1, Ordering::Relaxed);
        if issued.intended < self.clock.measure_from {
            return; // warm-up
        }
        let latency = acked - issued.intended;
        self.latencies.record(latency);
        self.send_delay.record(issued.sent - issued.intended);
        if acked <= self.clock.end {
            self.events += 1;
            self.payload_bytes += issued.bytes as u64;
        } else {
            self.late_acks += 1;
        }
        let second = (acked - self.clock.measure_from).as_secs();
        let second = u32::try_from(second).unwrap_or(u32::MAX);
        while self.second < second {
            self.close_second();
        }
        self.second_latencies.record(latency);
        self.second_events += 1;
        self.second_bytes += issued.bytes as u64;
    }

    /// Closes the current second (empty or not) and starts the next.
    fn close_second(&mut self) {
        let has = !self.second_latencies.is_empty();
        let l = &self.second_latencies;
        if has {
            let p99_ns = (l.quantile_us(0.99) * 1000.0) as u64;
            self.live.last_p99_ns.store(p99_ns, Ordering::Relaxed);
        }
        self.series.push(Second {
            t: self.second,
            events: self.second_events,
            mb_per_s: round3(self.second_bytes as f64 / 1e6),
            p50_us: has.then(|| l.quantile_us(0.5)),
            p99_us: has.then(|| l.quantile_us(0.99)),
            max_us: has.then(|| l.max_us()),
        });
        self.second_latencies.reset();
        self.second_events = 0;
        self.second_bytes = 0;
        self.second += 1;
    }

    fn finish(mut self) -> Measured {
        let window_seconds = (self.clock.end - self.clock.measure_from).as_secs_f64();
        // Every second of the window appears, even one without acks (a
        // stall is a zero, not a gap), then whatever the drain added.
        let whole = window_seconds.ceil() as u32;
        while self.second < whole || self.second_events > 0 {
            self.close_second();
        }
        Measured {
            latencies: self.latencies,
            send_delay: self.send_delay,
            events: self.events,
            payload_bytes: self.payload_bytes,
            late_acks: self.late_acks,
            seconds: window_seconds,
            series: self.series,
            clock: self.clock,
        }
    }
}

/// Events in flight, bounded: senders wait for room; the collector makes
/// room as acknowledgements arrive, and closes it when the run fails.
struct InFlight {
    state: Mutex<(usize, bool)>,
    room: Condvar,
    limit: usize,
}

impl InFlight {
    fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new((0, false)),
            room: Condvar::new(),
            limit: limit.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place; `false` once closed.
    fn acquire(&self) -> bool {
        let mut state = self.lock();
        while state.0 >= self.limit && !state.1 {
            state = self.room.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.1 {
            return false;
        }
        state.0 += 1;
        true
    }

    fn release(&self) {
        let mut state = self.lock();
        state.0 = state.0.saturating_sub(1);
        drop(state);
        self.room.notify_one();
    }

    fn close(&self) {
        self.lock().1 = true;
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::driver::{Setup, lanes};
    use crate::spec::{EventSize, Rate};

    /// Acknowledges every event at once, counting what it saw.
    #[derive(Default)]
    struct Instant0 {
        sent: AtomicUsize,
        bytes: AtomicUsize,
        fail_after: Option<usize>,
    }

    impl Driver for Instant0 {
        fn connect(_: &Setup<'_>) -> anyhow::Result<Self> {
            Ok(Self::default())
        }

        fn send(&self, lane: usize, payload: &[u8]) -> AckFuture {
            assert!(lane < 4);
            let n = self.sent.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(payload.len(), Ordering::Relaxed);
            let fail = self.fail_after.is_some_and(|after| n >= after);
            let ack: Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> =
                Box::pin(async move {
                    if fail {
                        bail!("refused on purpose")
                    }
                    Ok(())
                });
            ack
        }

        fn durability(&self) -> String {
            "none".into()
        }

        fn teardown(self: Box<Self>, _: bool) {}
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime")
    }

    fn small(rate: Rate) -> Workload {
        Workload {
            producers: 2,
            segments: 4,
            event_bytes: EventSize::Uniform { min: 10, max: 20 },
            rate,
            seconds: 0.3,
            warmup: 0.1,
            window: 8,
            ..Workload::default()
        }
    }

    #[test]
    fn a_fixed_rate_run_sends_its_schedule_and_counts_the_window() {
        let driver = Instant0::default();
        let workload = small(Rate::PerSecond(1000.0));
        let lanes = lanes(workload.producers, workload.segments);
        let measured = run(
            &driver,
            &lanes,
            &workload,
            &runtime(),
            ProgressMode::Off,
            "t",
        )
        .expect("runs");
        // 0.4 s at 1000/s: the schedule is exact; only when each event
        // leaves depends on the machine.
        assert_eq!(driver.sent.load(Ordering::Relaxed), 400);
        assert!(measured.events + measured.late_acks <= 300);
        assert!(measured.latencies.len() >= measured.events);
        assert_eq!(measured.series.first().map(|s| s.t), Some(0));
        let bytes = driver.bytes.load(Ordering::Relaxed);
        assert!((400 * 10..=400 * 20).contains(&bytes), "{bytes}");
    }

    #[test]
    fn a_max_rate_run_stays_within_its_window_and_stops_on_time() {
        let driver = Instant0::default();
        let workload = small(Rate::Max);
        let lanes = lanes(workload.producers, workload.segments);
        let measured = run(
            &driver,
            &lanes,
            &workload,
            &runtime(),
            ProgressMode::Off,
            "t",
        )
        .expect("runs");
        assert!(measured.events > 0);
        // 0.3 s is one second of series (a second more only if the last
        // acks came a whole second late).
        assert_eq!(measured.series.first().map(|s| s.t), Some(0));
        assert!(measured.series[0].events > 0);
    }

    #[test]
    fn a_transaction_workload_sends_its_events_together_and_counts_their_bytes() {
        let driver = Instant0::default();
        let workload = Workload {
            txn_events: 3,
            ..small(Rate::PerSecond(1000.0))
        };
        let lanes = lanes(workload.producers, workload.segments);
        let measured = run(
            &driver,
            &lanes,
            &workload,
            &runtime(),
            ProgressMode::Off,
            "t",
        )
        .expect("runs");
        // 400 transactions of 3 events each; the measured ones count their
        // events' bytes.
        assert_eq!(driver.sent.load(Ordering::Relaxed), 1200);
        assert!(measured.events + measured.late_acks <= 300);
        if let Some(per_send) = measured.payload_bytes.checked_div(measured.events) {
            assert!((30..=60).contains(&per_send), "{per_send}");
        }
    }

    #[test]
    fn a_refused_event_ends_the_run_with_its_error() {
        let driver = Instant0 {
            fail_after: Some(5),
            ..Instant0::default()
        };
        let workload = small(Rate::PerSecond(1000.0));
        let lanes = lanes(workload.producers, workload.segments);
        let error = run(
            &driver,
            &lanes,
            &workload,
            &runtime(),
            ProgressMode::Off,
            "t",
        )
        .err()
        .expect("fails");
        assert!(
            format!("{error:#}").contains("refused on purpose"),
            "{error:#}"
        );
        assert!(
            driver.sent.load(Ordering::Relaxed) < 400,
            "sending stopped early"
        );
    }
}
