//! The open loop every driver runs under.
//!
//! Producer threads send at their events' intended times (event `k` of
//! producer `p` of `P` is due at `start + (k·P + p) / rate`), or as fast as
//! the window lets through at `rate = max`. Each send hands its
//! acknowledgement future to its producer's collector task, which waits for
//! all of them at once and records each latency from the event's *intended*
//! send time to the moment the driver's client signalled the ack (see
//! [`crate::stamp`]). A stall therefore counts against every event that
//! should have been sent during it (no coordinated omission), and an early
//! ack is never held behind a late one. One collector per producer keeps
//! the harness from being what limits a run at `rate = max`.
//!
//! With `txn_events`, each send is one transaction of that many events
//! (`Driver::send_events_at`): the schedule, the window and the latencies
//! are then per transaction, from its intended start to its commit.
//!
//! The collectors also keep per-second figures (by acknowledgement time)
//! for the report's charts ([`crate::tally`]), and the counters the
//! progress line shows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::mpsc;

use crate::driver::{AckFuture, Driver, Lane};
use crate::pacing::{precise_sleeps, wait_until};
use crate::progress::{self, ProgressMode};
use crate::spec::Workload;
use crate::stamp::Stamped;
use crate::stats::Latencies;
use crate::tally::{Ack, Series, Tally};

pub use crate::tally::Second;

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
    // Each producer has its own share of the window, shared with its own
    // collector only: one window for all was a lock every send and every ack
    // of every producer contended for.
    let share = limit.div_ceil(workload.producers.max(1));
    let windows: Arc<[InFlight]> = (0..workload.producers)
        .map(|_| InFlight::new(share))
        .collect();
    let live = Arc::new(Live {
        transactions: workload.txn_events > 0,
        ..Live::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let clock = Clock::new(workload);
    let series = Arc::new(Series::new(workload.producers, Arc::clone(&live)));
    let mut issues = Vec::with_capacity(workload.producers);
    let mut collectors = Vec::with_capacity(workload.producers);
    for producer in 0..workload.producers {
        let (issue, issued) = mpsc::unbounded_channel();
        issues.push(issue);
        let tally = Tally::new(clock, Arc::clone(&live), Arc::clone(&series));
        collectors.push(runtime.spawn(collect(
            issued,
            tally,
            clock.start,
            Windows {
                all: Arc::clone(&windows),
                own: producer,
            },
            Arc::clone(&stop),
        )));
    }
    let display = progress::start(progress, label, clock, Arc::clone(&live));
    let sent = std::thread::scope(|scope| {
        let senders: Vec<_> = issues
            .into_iter()
            .enumerate()
            .map(|(producer, issue)| {
                let lanes: Vec<usize> = (0..lanes.len())
                    .filter(|&i| lanes[i].producer == producer)
                    .collect();
                let sender = Sender {
                    producer,
                    lanes,
                    driver,
                    workload,
                    clock,
                    issue,
                    window: &windows[producer],
                    live: &live,
                    stop: &stop,
                };
                std::thread::Builder::new()
                    .name(format!("bench-producer-{producer}"))
                    .spawn_scoped(scope, move || sender.run())
            })
            .collect();
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
    let collected = runtime.block_on(futures_util::future::join_all(collectors));
    if let Some(display) = display {
        display.finish();
    }
    // A collector's error is the one that explains why sending stopped.
    let mut total: Option<Tally> = None;
    for collected in collected {
        let tally = collected.context("a collector task")??;
        match &mut total {
            Some(total) => total.absorb(&tally),
            None => total = Some(tally),
        }
    }
    sent?;
    let total = total.context("a run has at least one producer")?;
    Ok(Measured {
        latencies: total.latencies,
        send_delay: total.send_delay,
        events: total.events,
        payload_bytes: total.payload_bytes,
        late_acks: total.late_acks,
        seconds: (clock.end - clock.measure_from).as_secs_f64(),
        series: series.finish(),
        clock,
    })
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

/// Waits for every acknowledgement of one producer, in whatever order they
/// come, and measures each one; returns its tally, closed.
async fn collect(
    mut issued: mpsc::UnboundedReceiver<Issued>,
    mut tally: Tally,
    base: Instant,
    window: Windows,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Tally> {
    let mut pending = FuturesUnordered::new();
    let mut open = true;
    let mut deadline = None;
    // A collector whose acks stopped coming still closes its seconds, so
    // the others' are summarized and dropped rather than kept open.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let result = loop {
        if !open && pending.is_empty() {
            break Ok(());
        }
        tokio::select! {
            biased;
            Some(done) = pending.next(), if !pending.is_empty() => {
                let ((result, arrived), mut ack): ((anyhow::Result<()>, Instant), Ack) = done;
                window.own().release();
                if let Err(e) = result {
                    break Err(e);
                }
                ack.arrived = arrived;
                tally.record(&ack);
            }
            next = issued.recv(), if open => match next {
                Some(Issued { ack, intended, sent, bytes }) => {
                    // `arrived` is filled in from the stamp.
                    let meta = Ack { intended, sent, arrived: intended, bytes };
                    let stamped = Stamped::new(ack, base);
                    pending.push(async move { (stamped.await, meta) });
                }
                None => {
                    open = false;
                    deadline = Some(tokio::time::Instant::now() + DRAIN_PATIENCE);
                }
            },
            _ = tick.tick() => tally.close_past(Instant::now()),
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
        // Every producer may wait for room its collector will never make.
        window.close_all();
        return Err(e);
    }
    tally.close();
    Ok(tally)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The producers' windows, and which one a collector makes room in.
struct Windows {
    all: Arc<[InFlight]>,
    own: usize,
}

impl Windows {
    fn own(&self) -> &InFlight {
        &self.all[self.own]
    }

    fn close_all(&self) {
        self.all.iter().for_each(InFlight::close);
    }
}

/// Events in flight, bounded: senders wait for room; the collectors make
/// room as acknowledgements arrive, and close it when the run fails.
struct InFlight {
    state: Mutex<Places>,
    room: Condvar,
    limit: usize,
}

struct Places {
    taken: usize,
    closed: bool,
    /// Senders blocked on `room`: only then is it signalled (a notification
    /// is a system call, once per ack at max rate otherwise).
    waiting: usize,
}

impl InFlight {
    fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new(Places {
                taken: 0,
                closed: false,
                waiting: 0,
            }),
            room: Condvar::new(),
            limit: limit.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Places> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place; `false` once closed.
    fn acquire(&self) -> bool {
        let mut state = self.lock();
        while state.taken >= self.limit && !state.closed {
            state.waiting += 1;
            state = self.room.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting -= 1;
        }
        if state.closed {
            return false;
        }
        state.taken += 1;
        true
    }

    fn release(&self) {
        let mut state = self.lock();
        state.taken = state.taken.saturating_sub(1);
        let waiting = state.waiting > 0;
        drop(state);
        if waiting {
            self.room.notify_one();
        }
    }

    fn close(&self) {
        self.lock().closed = true;
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

    /// `workload` through `driver`, its lanes derived, no progress line.
    fn run_quietly(driver: &Instant0, workload: &Workload) -> anyhow::Result<Measured> {
        let lanes = lanes(workload.producers, workload.segments);
        run(driver, &lanes, workload, &runtime(), ProgressMode::Off, "t")
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
        let measured = run_quietly(&driver, &workload).expect("runs");
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
        let measured = run_quietly(&driver, &workload).expect("runs");
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
        let measured = run_quietly(&driver, &workload).expect("runs");
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
        let error = run_quietly(&driver, &workload).err().expect("fails");
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
