//! Journal workloads: open-loop latency at a fixed rate, and throughput.
//!
//! Both call the journal directly on this thread: no channel, no thread hop,
//! so what is measured is the journal and the disk.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use spate_journal::direct::DirectStorage;
use spate_journal::{AppendError, Journal, Lsn, RecordKind};

use crate::pacing::{precise_sleeps, wait_until};
use crate::stats::Latencies;

/// Polls in a row without progress after which a workload gives up: the
/// journal cannot move (no file can be prepared, nothing can be released).
const MAX_IDLE_POLLS: u32 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Open loop at a fixed rate, one record at a time.
    Latency,
    /// As fast as the journal takes records.
    Throughput,
}

#[derive(Clone, Debug)]
pub struct WorkloadOptions {
    pub mode: Mode,
    pub seconds: f64,
    pub warmup: f64,
    pub record_bytes: usize,
    /// Events per second (latency mode).
    pub rate: f64,
    /// Payload bytes between checkpoints, after which files are released.
    pub checkpoint_bytes: u64,
    /// One progress line per second on stderr.
    pub progress: bool,
}

/// What a workload measured, warm-up excluded.
pub struct Measured {
    pub latencies: Latencies,
    /// Records made durable in the measured window.
    pub events: u64,
    pub payload_bytes: u64,
    pub seconds: f64,
}

pub fn run(
    journal: &mut Journal<DirectStorage>,
    opts: &WorkloadOptions,
) -> anyhow::Result<Measured> {
    match opts.mode {
        Mode::Latency => latency(journal, opts),
        Mode::Throughput => throughput(journal, opts),
    }
}

/// Open loop: event `i` is due at `start + i / rate`. Its latency runs from
/// that intended time to its durable ack, so a stall also counts against
/// every event that should have been sent during it.
fn latency(
    journal: &mut Journal<DirectStorage>,
    opts: &WorkloadOptions,
) -> anyhow::Result<Measured> {
    assert!(opts.rate > 0.0, "rate must be positive");
    precise_sleeps();
    let payload = payload(opts.record_bytes);
    let window = Window::new(opts);
    let mut measured = Measured::new();
    let mut driver = Driver::new(journal, opts.checkpoint_bytes);
    let mut progress = Progress::new(opts.progress, window.measure_from);
    let mut last_ack = window.measure_from;
    for i in 0u64.. {
        let intended = window.start + Duration::from_secs_f64(i as f64 / opts.rate);
        if intended >= window.end {
            break;
        }
        wait_until(intended);
        let lsn = driver.append(&payload)?;
        while driver.journal.durable_lsn() <= lsn {
            driver.wait()?;
        }
        let acked = Instant::now();
        driver.appended(payload.len())?;
        if intended >= window.measure_from {
            measured.count(payload.len());
            measured.latencies.record(acked - intended);
            last_ack = acked;
            progress.tick(acked, &measured);
        }
    }
    measured.seconds = (last_ack.max(window.end) - window.measure_from).as_secs_f64();
    Ok(measured)
}

/// Appends as fast as the journal accepts, polling without waiting after each
/// append (so full batches go out at once) and waiting when it answers Busy.
/// A record's latency runs from its append call to its durable ack.
fn throughput(
    journal: &mut Journal<DirectStorage>,
    opts: &WorkloadOptions,
) -> anyhow::Result<Measured> {
    let payload = payload(opts.record_bytes);
    let window = Window::new(opts);
    let mut measured = Measured::new();
    let mut driver = Driver::new(journal, opts.checkpoint_bytes);
    let mut progress = Progress::new(opts.progress, window.measure_from);
    // Append times of the records not yet durable, from LSN `first` on;
    // `None` for checkpoints.
    let mut pending = Pending {
        first: driver.journal.next_lsn(),
        times: VecDeque::new(),
    };
    loop {
        let now = Instant::now();
        if now >= window.end {
            break;
        }
        if let Some(lsn) = driver.try_append(&payload)? {
            pending.push(lsn, Some(now));
            if let Some(checkpoint) = driver.appended(payload.len())? {
                pending.push(checkpoint, None);
            }
            driver.journal.poll(false).context("journal failed")?;
        } else {
            driver.wait()?;
        }
        let acked = Instant::now();
        let in_window = acked >= window.measure_from;
        pending.acknowledge(driver.journal.durable_lsn(), |appended| {
            // Throughput counts what became durable in the window; latency
            // only records appended in it (not queued during the warm-up).
            if in_window {
                measured.count(payload.len());
            }
            if appended >= window.measure_from {
                measured.latencies.record(acked - appended);
            }
        });
        progress.tick(acked, &measured);
    }
    measured.seconds = (Instant::now() - window.measure_from).as_secs_f64();
    // Finish the records still in flight for their latencies; they are not
    // counted as events, being acknowledged after the window closed.
    driver.journal.flush().context("journal failed")?;
    let acked = Instant::now();
    pending.acknowledge(driver.journal.durable_lsn(), |appended| {
        if appended >= window.measure_from {
            measured.latencies.record(acked - appended);
        }
    });
    Ok(measured)
}

impl Measured {
    fn new() -> Self {
        Self {
            latencies: Latencies::new(),
            events: 0,
            payload_bytes: 0,
            seconds: 0.0,
        }
    }

    /// Counts one event of `bytes` payload made durable in the window.
    fn count(&mut self, bytes: usize) {
        self.events += 1;
        self.payload_bytes += bytes as u64;
    }
}

/// The run's clock: warm-up from `start`, measurement from `measure_from`
/// until `end`.
struct Window {
    start: Instant,
    measure_from: Instant,
    end: Instant,
}

impl Window {
    fn new(opts: &WorkloadOptions) -> Self {
        let start = Instant::now();
        let measure_from = start + Duration::from_secs_f64(opts.warmup.max(0.0));
        let end = measure_from + Duration::from_secs_f64(opts.seconds.max(0.0));
        Self {
            start,
            measure_from,
            end,
        }
    }
}

/// Append times of records in flight, indexed by LSN.
struct Pending {
    first: Lsn,
    times: VecDeque<Option<Instant>>,
}

impl Pending {
    fn push(&mut self, lsn: Lsn, appended: Option<Instant>) {
        assert_eq!(
            lsn,
            self.first + self.times.len() as u64,
            "LSNs are consecutive"
        );
        self.times.push_back(appended);
    }

    /// Hands the append time of each data record below `durable` to `acked`,
    /// and forgets those records.
    fn acknowledge(&mut self, durable: Lsn, mut acked: impl FnMut(Instant)) {
        while self.first < durable {
            let Some(appended) = self.times.pop_front() else {
                break;
            };
            self.first += 1;
            if let Some(appended) = appended {
                acked(appended);
            }
        }
    }
}

/// The journal plus what keeps it moving: periodic checkpoints so files can
/// be released and recycled, and a guard against waiting forever.
struct Driver<'j> {
    journal: &'j mut Journal<DirectStorage>,
    /// Payload bytes between checkpoints.
    checkpoint_every: u64,
    since_checkpoint: u64,
    /// A checkpoint appended and not yet released below.
    checkpoint: Option<Lsn>,
    /// Waits in a row that saw neither durable progress nor an accepted append.
    idle_waits: u32,
}

impl<'j> Driver<'j> {
    fn new(journal: &'j mut Journal<DirectStorage>, checkpoint_every: u64) -> Self {
        let checkpoint_every = checkpoint_every.max(1);
        Self {
            journal,
            checkpoint_every,
            since_checkpoint: 0,
            checkpoint: None,
            idle_waits: 0,
        }
    }

    /// Appends a data record; `None` if the journal is busy.
    fn try_append(&mut self, payload: &[u8]) -> anyhow::Result<Option<Lsn>> {
        match self.journal.append(RecordKind::Data, payload) {
            Ok(lsn) => {
                self.idle_waits = 0;
                Ok(Some(lsn))
            }
            Err(AppendError::Busy) => Ok(None),
            Err(error) => Err(error).context("append failed"),
        }
    }

    /// Appends a data record, waiting while the journal is busy.
    fn append(&mut self, payload: &[u8]) -> anyhow::Result<Lsn> {
        loop {
            match self.try_append(payload)? {
                Some(lsn) => return Ok(lsn),
                None => self.wait()?,
            }
        }
    }

    /// Counts `bytes` of payload appended, and appends a checkpoint when one
    /// is due. Returns the checkpoint's LSN if it appended one.
    fn appended(&mut self, bytes: usize) -> anyhow::Result<Option<Lsn>> {
        self.since_checkpoint += bytes as u64;
        self.release_durable_checkpoint();
        if self.since_checkpoint < self.checkpoint_every || self.checkpoint.is_some() {
            return Ok(None);
        }
        match self.journal.checkpoint(b"spate-bench checkpoint") {
            Ok(lsn) => {
                self.since_checkpoint = 0;
                self.checkpoint = Some(lsn);
                Ok(Some(lsn))
            }
            Err(AppendError::Busy) => Ok(None), // Due again after the next append.
            Err(error) => Err(error).context("checkpoint failed"),
        }
    }

    /// Lets the journal recycle the files below our checkpoint once it is durable.
    fn release_durable_checkpoint(&mut self) {
        if let Some(lsn) = self.checkpoint
            && self
                .journal
                .last_checkpoint()
                .is_some_and(|durable| durable >= lsn)
        {
            self.journal.release(lsn);
            self.checkpoint = None;
        }
    }

    /// Polls, blocking until some operation finishes. Fails once the journal
    /// has made no progress for `MAX_IDLE_POLLS` waits in a row: it is stuck
    /// (no file can be prepared, or every file holds unreleased records).
    fn wait(&mut self) -> anyhow::Result<()> {
        self.release_durable_checkpoint();
        let before = self.journal.durable_lsn();
        let after = self.journal.poll(true).context("journal failed")?;
        self.idle_waits = if after > before {
            0
        } else {
            self.idle_waits + 1
        };
        if self.idle_waits >= MAX_IDLE_POLLS {
            let prepare = self.journal.prepare_error();
            bail!(
                "journal made no progress in {MAX_IDLE_POLLS} polls (last prepare error: {prepare:?})"
            );
        }
        Ok(())
    }
}

/// Sleeps until shortly before `t`, then spins.
pub(crate) fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// One line per second on stderr, if asked for.
struct Progress {
    enabled: bool,
    next: Instant,
}

impl Progress {
    fn new(enabled: bool, from: Instant) -> Self {
        Self {
            enabled,
            next: from + Duration::from_secs(1),
        }
    }

    fn tick(&mut self, now: Instant, measured: &Measured) {
        if !self.enabled || now < self.next {
            return;
        }
        self.next += Duration::from_secs(1);
        let p99 = measured.latencies.quantile_us(0.99);
        eprintln!(
            "  {} events, {:.1} MB, p99 {p99:.1} µs",
            measured.events,
            measured.payload_bytes as f64 / 1e6
        );
    }
}
