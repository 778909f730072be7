//! `spate-bench txn`: transactions on a stream, open loop. Each producer
//! starts transactions at their intended times (`--rate` transactions/s,
//! or as many as `--window` allows at `max`): begin, `--txn-events`
//! writes, flush, commit (`driver::spate_txn`). Latency runs from a
//! transaction's intended start to its commit's answer (the open loop's
//! own measure, so a stall counts against every transaction due during
//! it); the report adds the commit call alone (call to answer), begin and
//! flush, transactions/s and the events and MB/s committed, the floor and
//! the ratios, and with `--verify` whether reading the stream back finds
//! exactly the events committed. A workload file with `txn_events` run by
//! `append` comes here too.

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use spate_client::StreamCut;

use crate::append::{AppendConfig, AppendRatio, AppendReport, OutputArgs, Throughput};
use crate::driver::spate_txn::{TxnDriver, TxnTimes};
use crate::driver::{self, Driver, DriverKind, Setup};
use crate::floor::FloorReport;
use crate::harness::{self, Measured, Second};
use crate::progress::ProgressMode;
use crate::read::{Consumed, ConsumerReport};
use crate::report::Ratio;
use crate::spec::{ConsumerMode, EventSize, Workload, WorkloadFlags};
use crate::stats::{Latencies, LatencySummary, PercentilePoint, ratio, round3};

/// Events per transaction when neither the workload nor `--txn-events`
/// says.
pub const DEFAULT_TXN_EVENTS: usize = 10;

/// The lease each transaction asks for unless `--lease-ms` says.
pub const DEFAULT_LEASE_MS: u64 = 30_000;

/// The most transactions in flight at once (`--window` above it is cut to
/// it): each open transaction holds a thread of the blocking pool.
pub const MAX_TXNS_IN_FLIGHT: usize = 256;

/// `spate-bench txn`.
#[derive(Clone, Debug, clap::Args)]
pub struct TxnArgs {
    /// What to run (--stream is required; --rate and --window count
    /// transactions; --txn-events defaults to 10 here).
    #[command(flatten)]
    pub workload: WorkloadFlags,
    /// Address of the Spate node (any core).
    #[arg(long, default_value = "127.0.0.1:9870")]
    pub node: String,
    /// The lease each transaction asks for, in milliseconds (its writes
    /// and flush renew it as they go; the client refuses one outside
    /// 100..=3600000).
    #[arg(long, default_value_t = DEFAULT_LEASE_MS)]
    pub lease_ms: u64,
    /// Afterwards, read the stream back (a reader group, from where it
    /// ended before the run) and check it holds exactly the events
    /// committed; a mismatch fails the run after the report.
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The design brief's JSON for transactions: `events`, `throughput` and
/// `latency_us` (intended start to commit answer) as every report has
/// them, plus the transactions' own figures.
#[derive(Clone, Debug, Serialize)]
pub struct TxnReport {
    /// `txn`.
    pub workload: &'static str,
    pub driver: DriverKind,
    /// Events of the transactions due in the window and committed in it.
    pub events: u64,
    pub seconds: f64,
    /// Committed events and their payload MB (10^6 bytes) per second.
    pub throughput: Throughput,
    /// Transactions due in the window and committed in it.
    pub txns: u64,
    pub txns_per_s: f64,
    /// A transaction's intended start to its commit's answer.
    pub latency_us: LatencySummary,
    /// Transactions behind `latency_us`: every one due in the window,
    /// including those committed after it closed.
    pub latency_samples: u64,
    /// Transactions due in the window and committed after it closed.
    pub late_commits: u64,
    /// `commit`, call to answer: after the explicit flush, the node's merge
    /// of the transaction into the stream, durable.
    pub commit_latency_us: LatencySummary,
    /// `begin_transaction`, call to answer.
    pub begin_latency_us: LatencySummary,
    /// `flush`, call to answer: the events durable in the transaction's
    /// segments.
    pub flush_latency_us: LatencySummary,
    /// How late the harness itself started transactions.
    pub send_delay_us: LatencySummary,
    pub floor: FloorReport,
    pub ratio: TxnRatio,
    pub config: TxnConfig,
    /// With `--verify`: what reading the stream back found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// With consumers: payload MB/s they read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_mb_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers: Option<ConsumerReport>,
    /// Percentile spectrum of `latency_us`.
    pub latency_distribution: Vec<PercentilePoint>,
    /// One entry per second, by commit time: `events` there counts
    /// transactions.
    pub series: Vec<Second>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TxnRatio {
    /// `latency_us` over the floor, as every report has it.
    #[serde(flatten)]
    pub floor: Ratio,
    /// The commit call over the floor's 4 KiB durable write (the faster
    /// sync mode's).
    pub commit_p50_vs_floor_p50: f64,
    pub commit_p99_vs_floor_p99: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_vs_seq_read: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TxnConfig {
    pub name: String,
    pub target: String,
    pub durability: String,
    pub stream: String,
    pub producers: usize,
    pub segments: usize,
    pub event_bytes: EventSize,
    pub mean_event_bytes: f64,
    pub txn_events: usize,
    /// Transactions per second offered; 0: as many as the window allows.
    pub rate: f64,
    /// Transactions in flight at most.
    pub window: usize,
    pub warmup_s: f64,
    pub keys: u64,
    pub lease_ms: u64,
    pub consumers: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_mode: Option<ConsumerMode>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Verify {
    /// Events of every transaction committed (warm-up and late ones too).
    pub committed_events: u64,
    /// Events read back from where the stream ended before the run.
    pub read_events: u64,
    pub matches: bool,
    pub read_seconds: f64,
}

/// How one transaction run goes, beyond the workload.
pub struct TxnOptions {
    pub lease: Duration,
    pub verify: bool,
    pub keep: bool,
}

pub fn main(args: &TxnArgs) -> anyhow::Result<()> {
    let mut workload = args.workload.resolve()?;
    if workload.stream.is_none() {
        bail!("spate-bench txn needs --stream SCOPE/NAME");
    }
    if workload.txn_events == 0 {
        workload.txn_events = DEFAULT_TXN_EVENTS;
    }
    workload.validate()?;
    let progress = ProgressMode::choose(args.output.progress);
    let floor = crate::append::measure_floor(&args.output.floor_dir, &workload, progress)?;
    let runtime = crate::append::runtime()?;
    let options = TxnOptions {
        lease: Duration::from_millis(args.lease_ms),
        verify: args.verify,
        keep: args.output.keep,
    };
    let report = run(&args.node, &workload, &floor, &runtime, progress, &options)?;
    emit(&args.output, &report)
}

/// Prints the report (and writes it with `--report`); a failed
/// verification then fails the run.
pub fn emit(output: &OutputArgs, report: &TxnReport) -> anyhow::Result<()> {
    if let Some(dir) = &output.report {
        crate::html::write_report(dir, report, &[report.chart_view()])?;
    }
    if output.json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{}", report.human());
    }
    if let Some(v) = &report.verify
        && !v.matches
    {
        bail!(
            "verification failed: {} events committed, {} read back",
            v.committed_events,
            v.read_events
        );
    }
    Ok(())
}

/// Connects the transaction driver at `target`, runs `workload` (its
/// consumers too), verifies if asked, tears down, reports.
pub fn run(
    target: &str,
    workload: &Workload,
    floor: &FloorReport,
    runtime: &tokio::runtime::Runtime,
    progress: ProgressMode,
    options: &TxnOptions,
) -> anyhow::Result<TxnReport> {
    let mut workload = workload.clone();
    workload.window = workload.window.min(MAX_TXNS_IN_FLIGHT);
    let workload = &workload;
    let lanes = driver::lanes(workload.producers, workload.segments);
    let run_id = driver::run_id();
    let setup = Setup {
        reply_spin: std::time::Duration::ZERO,
        target,
        producers: workload.producers,
        segments: workload.segments,
        lanes: &lanes,
        run_id: &run_id,
        stream: workload.stream.as_deref(),
        keys: workload.keys,
        runtime: runtime.handle(),
    };
    let driver = TxnDriver::connect(&setup, options.lease)
        .with_context(|| format!("connecting to the Spate node at {target}"))?;
    let durability = driver.durability();
    let stream = driver.stream().to_string();
    let outcome = measure(
        &driver, target, &lanes, workload, runtime, progress, options,
    );
    Box::new(driver).teardown(options.keep);
    let (measured, consumed, timings, verify) = outcome?;
    let config = TxnConfig {
        name: workload.name.clone(),
        target: target.to_string(),
        durability,
        stream,
        producers: workload.producers,
        segments: workload.segments,
        event_bytes: workload.event_bytes.clone(),
        mean_event_bytes: workload.event_bytes.mean(),
        txn_events: workload.txn_events,
        rate: workload.rate_per_s().unwrap_or(0.0),
        window: workload.window,
        warmup_s: workload.warmup,
        keys: workload.keys,
        lease_ms: options.lease.as_millis() as u64,
        consumers: workload.consumers,
        consumer_mode: (workload.consumers > 0).then_some(workload.consumer_mode),
    };
    Ok(TxnReport::new(
        measured,
        consumed.as_ref(),
        &timings,
        verify,
        floor.clone(),
        config,
    ))
}

type Outcome = (Measured, Option<Consumed>, Vec<TxnTimes>, Option<Verify>);

fn measure(
    driver: &TxnDriver,
    target: &str,
    lanes: &[driver::Lane],
    workload: &Workload,
    runtime: &tokio::runtime::Runtime,
    progress: ProgressMode,
    options: &TxnOptions,
) -> anyhow::Result<Outcome> {
    let start = match options.verify {
        true => Some(tail_cut(driver)?),
        false => None,
    };
    let label = "spate txn";
    let (measured, consumed) = if workload.consumers > 0 {
        let (measured, consumed) =
            crate::read::consume(driver, target, lanes, workload, runtime, progress, label)?;
        (measured, Some(consumed))
    } else {
        let measured = harness::run(driver, lanes, workload, runtime, progress, label)?;
        (measured, None)
    };
    let verify = match start {
        Some(start) => Some(verify(driver, start, workload, progress)?),
        None => None,
    };
    Ok((measured, consumed, driver.timings(), verify))
}

fn tail_cut(driver: &TxnDriver) -> anyhow::Result<StreamCut> {
    let stream = driver.stream();
    let info = driver
        .admin()
        .describe_stream(stream)
        .wait()?
        .found(&stream.to_string())?;
    Ok(info.tail_cut())
}

/// Reads the stream from `start` to its tail now and counts the events.
fn verify(
    driver: &TxnDriver,
    start: StreamCut,
    workload: &Workload,
    progress: ProgressMode,
) -> anyhow::Result<Verify> {
    let end = tail_cut(driver)?;
    if progress != ProgressMode::Off {
        eprintln!("spate-bench: reading {} back to verify", driver.stream());
    }
    let readers = workload.segments.clamp(1, 4);
    let read = crate::read::read_group(driver.admin(), driver.stream(), Some(start), end, readers)
        .context("reading the stream back")?;
    let committed = driver.committed_events();
    Ok(Verify {
        committed_events: committed,
        read_events: read.events,
        matches: committed == read.events,
        read_seconds: round3(read.seconds),
    })
}

impl TxnReport {
    fn new(
        measured: Measured,
        consumed: Option<&Consumed>,
        timings: &[TxnTimes],
        verify: Option<Verify>,
        floor: FloorReport,
        config: TxnConfig,
    ) -> Self {
        let seconds = measured.seconds.max(1e-9);
        let txns = measured.events;
        let events = txns * config.txn_events as u64;
        let mb_per_s = measured.payload_bytes as f64 / 1e6 / seconds;
        let latency = measured.latencies.summary();
        let (mut begin, mut flush, mut commit) =
            (Latencies::new(), Latencies::new(), Latencies::new());
        for t in timings
            .iter()
            .filter(|t| t.intended >= measured.clock.measure_from)
        {
            begin.record(t.begin);
            flush.record(t.flush);
            commit.record(t.commit);
        }
        let commit = commit.summary();
        let sync = floor.write_4k(floor.faster_sync());
        let consumers = consumed.map(|c| ConsumerReport::new(c, &latency, &floor));
        Self {
            workload: "txn",
            driver: DriverKind::Spate,
            events,
            seconds: round3(seconds),
            throughput: Throughput {
                events_per_s: round3(events as f64 / seconds),
                mb_per_s: round3(mb_per_s),
            },
            txns,
            txns_per_s: round3(txns as f64 / seconds),
            latency_us: latency,
            latency_samples: measured.latencies.len(),
            late_commits: measured.late_acks,
            commit_latency_us: commit,
            begin_latency_us: begin.summary(),
            flush_latency_us: flush.summary(),
            send_delay_us: measured.send_delay.summary(),
            ratio: TxnRatio {
                floor: Ratio::new(&latency, &floor, floor.faster_sync(), mb_per_s),
                commit_p50_vs_floor_p50: ratio(commit.p50, sync.p50),
                commit_p99_vs_floor_p99: ratio(commit.p99, sync.p99),
                read_vs_seq_read: consumers.as_ref().map(|c| c.ratio.read_vs_seq_read),
            },
            read_mb_per_s: consumers.as_ref().map(|c| c.throughput.mb_per_s),
            consumers,
            floor,
            config,
            verify,
            latency_distribution: measured.latencies.distribution(),
            series: measured.series,
        }
    }

    pub fn human(&self) -> String {
        let c = &self.config;
        let (l, k) = (&self.latency_us, &self.commit_latency_us);
        let rate = if c.rate > 0.0 {
            format!("{} transactions/s offered", c.rate)
        } else {
            format!("max rate, {} in flight", c.window)
        };
        let mut text = format!(
            "txn on {} ({}): {}, {} producer(s), {} segment(s), {} events of {} B per \
             transaction, {rate}\n  \
             {} transactions ({} events) in {:.1} s: {:.0} transactions/s, {:.0} events/s, \
             {:.1} MB/s committed\n  \
             latency from intended start to commit µs: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 \
             {:.1}  max {:.1}\n  \
             commit call µs: p50 {:.1}  p99 {:.1}  max {:.1} (begin p50 {:.1}, flush p50 {:.1})\n  \
             vs floor: commit call p99 x{:.2} of a 4 KiB durable write, whole transaction p99 \
             x{:.2}\n  \
             sender lateness p99 {:.1} µs{}",
            c.stream,
            c.target,
            c.name,
            c.producers,
            c.segments,
            c.txn_events,
            c.event_bytes,
            self.txns,
            self.events,
            self.seconds,
            self.txns_per_s,
            self.throughput.events_per_s,
            self.throughput.mb_per_s,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            k.p50,
            k.p99,
            k.max,
            self.begin_latency_us.p50,
            self.flush_latency_us.p50,
            self.ratio.commit_p99_vs_floor_p99,
            self.ratio.floor.p99,
            self.send_delay_us.p99,
            if self.late_commits > 0 {
                format!(", {} commits after the window closed", self.late_commits)
            } else {
                String::new()
            }
        );
        if let Some(v) = &self.verify {
            text += &if v.matches {
                format!(
                    "\n  verified: the {} events committed were read back",
                    v.committed_events
                )
            } else {
                format!(
                    "\n  VERIFICATION FAILED: {} events committed, {} read back",
                    v.committed_events, v.read_events
                )
            };
        }
        if let Some(consumers) = &self.consumers {
            text += &format!("\n  {}", consumers.human());
        }
        text
    }

    /// The report as the HTML page draws an `append` run: a unit is a
    /// transaction (its name says so).
    fn chart_view(&self) -> AppendReport {
        let c = &self.config;
        AppendReport {
            workload: "txn",
            driver: DriverKind::Spate,
            events: self.txns,
            seconds: self.seconds,
            throughput: Throughput {
                events_per_s: self.txns_per_s,
                mb_per_s: self.throughput.mb_per_s,
            },
            latency_us: self.latency_us,
            latency_samples: self.latency_samples,
            late_acks: self.late_commits,
            send_delay_us: self.send_delay_us,
            floor: self.floor.clone(),
            ratio: AppendRatio {
                floor: self.ratio.floor.clone(),
                read_vs_seq_read: self.ratio.read_vs_seq_read,
            },
            config: AppendConfig {
                name: format!(
                    "{} (transactions of {} events: counts and latencies are per transaction)",
                    c.name, c.txn_events
                ),
                driver: DriverKind::Spate,
                target: c.target.clone(),
                durability: c.durability.clone(),
                producers: c.producers,
                segments: c.segments,
                event_bytes: c.event_bytes.clone(),
                mean_event_bytes: c.mean_event_bytes,
                rate: c.rate,
                window: c.window,
                warmup_s: c.warmup_s,
                stream: Some(c.stream.clone()),
                keys: c.keys,
                consumers: c.consumers,
                consumer_mode: c.consumer_mode,
                reply_spin_us: None,
            },
            read_mb_per_s: self.read_mb_per_s,
            consumers: self.consumers.clone(),
            latency_distribution: self.latency_distribution.clone(),
            series: self.series.clone(),
        }
    }
}
