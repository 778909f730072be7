//! `spate-bench append`: a workload (`crate::spec`) against one system
//! (`--driver spate|redis|nats`), in open loop (`crate::harness`), with the
//! device floor measured in the same run. `compare` runs the same thing per
//! driver.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use spate_journal::direct::FloorOptions;

use crate::driver::{self, DriverKind, Setup};
use crate::floor::FloorReport;
use crate::harness::{self, Measured, Second};
use crate::progress::ProgressMode;
use crate::read::{Consumed, ConsumerReport};
use crate::report::Ratio;
use crate::spec::{ConsumerMode, EventSize, Workload, WorkloadFlags};
use crate::stats::{LatencySummary, PercentilePoint, round3};

/// `spate-bench append`. Flags are grouped so each concern grows in one
/// place: what to send (`workload`: sizes, rates, producers, segments),
/// where (`driver`, `targets`), and what to do with the result (`output`).
/// Options that shape the events Spate receives (streams, routing keys)
/// belong in `WorkloadFlags` and `Workload` (`spec.rs`), so workload files
/// can set them too, and reach the Spate driver through `driver::Setup`.
#[derive(Clone, Debug, clap::Args)]
pub struct AppendArgs {
    #[command(flatten)]
    pub workload: WorkloadFlags,
    /// The system under test.
    #[arg(long, value_enum, default_value_t = DriverKind::Spate)]
    pub driver: DriverKind,
    #[command(flatten)]
    pub targets: Targets,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where each system listens, and how the bench's Spate client waits there.
#[derive(Clone, Debug, clap::Args)]
pub struct Targets {
    /// Address of the Spate node (any core; the client routes by segment).
    #[arg(long, default_value = "127.0.0.1:9870")]
    pub node: String,
    /// Address of redis-server (`--driver redis`).
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub redis: String,
    /// Address of nats-server with JetStream (`--driver nats`).
    #[arg(long, default_value = "127.0.0.1:4222")]
    pub nats: String,
    /// Spate only: microseconds the client's connection readers keep
    /// polling after a reply before sleeping (`ClientOptions::reply_spin`;
    /// 0, the client's default, sleeps at once). Reported in the run's
    /// config.
    #[arg(long, default_value_t = 0)]
    pub spate_reply_spin_us: u64,
}

impl Targets {
    pub fn of(&self, driver: DriverKind) -> &str {
        match driver {
            DriverKind::Spate => &self.node,
            DriverKind::Redis => &self.redis,
            DriverKind::Nats => &self.nats,
        }
    }
}

/// The device floor, the outputs, and the run's housekeeping.
#[derive(Clone, Debug, clap::Args)]
pub struct OutputArgs {
    /// A directory on the device holding the system's data (the node's
    /// journal, Redis's append-only file, JetStream's store): the device
    /// floor is measured there in the same run.
    #[arg(long)]
    pub floor_dir: PathBuf,
    /// Print one JSON object on stdout instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Also write DIR/report.json and DIR/report.html (charts, no network
    /// needed to view it).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Show the live progress line even when stderr is not a terminal (one
    /// line per second then).
    #[arg(long)]
    pub progress: bool,
    /// Keep the run's segments, keys or stream (by default they are deleted
    /// afterwards, so repeated runs do not fill the system).
    #[arg(long)]
    pub keep: bool,
}

/// The result of one workload on one driver: the JSON of the design brief
/// (`workload`, `events`, `seconds`, `throughput`, `latency_us`, `floor`,
/// `ratio`) plus what explains it.
#[derive(Clone, Debug, Serialize)]
pub struct AppendReport {
    pub workload: &'static str,
    pub driver: DriverKind,
    pub events: u64,
    pub seconds: f64,
    pub throughput: Throughput,
    pub latency_us: LatencySummary,
    /// Latency samples behind `latency_us`: every event due in the window,
    /// including those acknowledged after it closed.
    pub latency_samples: u64,
    /// Events due in the window and acknowledged after it closed (counted
    /// in the latencies, not in `events`).
    pub late_acks: u64,
    /// How late the harness itself sent (actual minus intended send time).
    /// Large values mean the sender, not the system, was the bottleneck.
    pub send_delay_us: LatencySummary,
    pub floor: FloorReport,
    pub ratio: AppendRatio,
    pub config: AppendConfig,
    /// With consumers: payload MB (10^6 bytes) per second they read (the
    /// same figure as `consumers.throughput.mb_per_s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_mb_per_s: Option<f64>,
    /// With consumers: what the reader group read, and how fast.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers: Option<ConsumerReport>,
    /// Percentile spectrum for the report's chart.
    pub latency_distribution: Vec<PercentilePoint>,
    /// One entry per second, by acknowledgement time.
    pub series: Vec<Second>,
}

/// The ratios every report has, and with consumers the read over the
/// floor's sequential read.
#[derive(Clone, Debug, Serialize)]
pub struct AppendRatio {
    #[serde(flatten)]
    pub floor: Ratio,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_vs_seq_read: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    pub events_per_s: f64,
    /// Payload megabytes (10^6 bytes) per second.
    pub mb_per_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AppendConfig {
    /// The workload's name (`*` after it: flags changed its shape).
    pub name: String,
    pub driver: DriverKind,
    /// The system's address.
    pub target: String,
    /// What an acknowledgement means there, as configured.
    pub durability: String,
    pub producers: usize,
    pub segments: usize,
    pub event_bytes: EventSize,
    pub mean_event_bytes: f64,
    /// Target events per second; 0 means as fast as acknowledged.
    pub rate: f64,
    pub window: usize,
    pub warmup_s: f64,
    /// The stream written through the event writer (Spate), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Routing keys the events were spread over (0: unkeyed).
    pub keys: u64,
    /// Readers of the reader group reading the stream (0: none).
    pub consumers: usize,
    /// How they read (`tail` or `catch-up`), with consumers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_mode: Option<ConsumerMode>,
    /// Spate: how long the client's readers polled after a reply before
    /// sleeping (absent: they slept at once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_spin_us: Option<u64>,
}

pub fn main(args: &AppendArgs) -> anyhow::Result<()> {
    let workload = args.workload.resolve()?;
    check_driver(args.driver, &workload)?;
    let progress = ProgressMode::choose(args.output.progress);
    let floor = measure_floor(&args.output.floor_dir, &workload, progress)?;
    let runtime = runtime()?;
    let target = args.targets.of(args.driver);
    if workload.txn_events > 0 {
        // A transaction workload: the runner of `spate-bench txn`.
        let options = crate::txn::TxnOptions {
            lease: std::time::Duration::from_millis(crate::txn::DEFAULT_LEASE_MS),
            verify: false,
            keep: args.output.keep,
        };
        let report = crate::txn::run(target, &workload, &floor, &runtime, progress, &options)?;
        return crate::txn::emit(&args.output, &report);
    }
    let report = run(
        args.driver,
        &args.targets,
        &workload,
        &floor,
        &runtime,
        progress,
        args.output.keep,
    )?;
    if let Some(dir) = &args.output.report {
        crate::html::write_report(dir, &report, std::slice::from_ref(&report))?;
    }
    if args.output.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.human());
    }
    Ok(())
}

/// The device floor of `dir`, and for a fixed-rate workload also the floor
/// of durable writes paced at the same rate. Says so on stderr first when
/// progress is shown: it takes a few seconds.
pub fn measure_floor(
    dir: &Path,
    workload: &Workload,
    progress: ProgressMode,
) -> anyhow::Result<FloorReport> {
    let mut floor = measure_plain_floor(dir, progress)?;
    if let Some(rate) = workload.rate_per_s() {
        let samples = ((rate * 2.0) as usize).clamp(10, 2000);
        let sync = floor.faster_sync();
        let ring = spate_journal::direct::DirectOptions::default().ring_flags;
        on_own_thread(|| floor.measure_paced(dir, sync, rate, samples, ring))?;
    }
    Ok(floor)
}

/// Runs a floor probe on a thread of its own. A probe's io_uring rings
/// can leave work for the kernel to run on the thread that used them after
/// they are closed; a blocking socket read with a timeout on that thread
/// (the client's handshake, right after the floor) is then interrupted and
/// fails with EINTR instead of restarting. Seen here as `connecting ...:
/// waiting for HelloReply: Interrupted system call` in about one run in
/// seven on a loaded machine.
fn on_own_thread<T: Send>(probe: impl FnOnce() -> anyhow::Result<T> + Send) -> anyhow::Result<T> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("bench-floor".into())
            .spawn_scoped(scope, probe)
            .context("starting the floor probe's thread")?
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the floor probe panicked")))
    })
}

/// The device floor of `dir` without the paced part (for runs that have no
/// fixed rate to pace at, such as catch-up reads).
pub fn measure_plain_floor(dir: &Path, progress: ProgressMode) -> anyhow::Result<FloorReport> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if progress != ProgressMode::Off {
        eprintln!(
            "spate-bench: measuring the device floor in {}",
            dir.display()
        );
    }
    on_own_thread(|| FloorReport::measure(dir, &FloorOptions::default()))
}

/// The runtime of the collector and of the Redis and NATS clients: half
/// the machine's cores (at least one, at most four), leaving the rest to
/// the producers and, on one machine, to the system under test.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads((cores / 2).clamp(1, 4))
        .thread_name("bench-io")
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// Refuses what `kind` cannot run: streams, consumers and transactions are
/// Spate's.
pub fn check_driver(kind: DriverKind, workload: &Workload) -> anyhow::Result<()> {
    if kind == DriverKind::Spate {
        return Ok(());
    }
    if workload.txn_events > 0 {
        anyhow::bail!(
            "txn_events: the {} driver has no transactions here (Spate streams only)",
            kind.name()
        );
    }
    if workload.consumers > 0 {
        anyhow::bail!(
            "consumers: the {} driver cannot consume (reading is measured through Spate's \
             reader groups only); use --driver spate, or consumers = 0",
            kind.name()
        );
    }
    if workload.stream.is_some() {
        anyhow::bail!("--stream applies to the spate driver only");
    }
    Ok(())
}

/// Connects `kind` at `target`, runs `workload`, tears down, reports.
pub fn run(
    kind: DriverKind,
    targets: &Targets,
    workload: &Workload,
    floor: &FloorReport,
    runtime: &tokio::runtime::Runtime,
    progress: ProgressMode,
    keep: bool,
) -> anyhow::Result<AppendReport> {
    check_driver(kind, workload)?;
    if workload.txn_events > 0 {
        anyhow::bail!(
            "txn_events: this runs plain appends; run a transaction workload with spate-bench txn \
             (or append)"
        );
    }
    let target = targets.of(kind);
    let lanes = driver::lanes(workload.producers, workload.segments);
    let run_id = driver::run_id();
    let setup = Setup {
        target,
        reply_spin: std::time::Duration::from_micros(targets.spate_reply_spin_us),
        producers: workload.producers,
        segments: workload.segments,
        lanes: &lanes,
        run_id: &run_id,
        stream: workload.stream.as_deref(),
        keys: workload.keys,
        runtime: runtime.handle(),
    };
    let driver = kind
        .connect(&setup)
        .with_context(|| format!("connecting the {} driver", kind.name()))?;
    let durability = driver.durability();
    let outcome = if workload.consumers > 0 {
        crate::read::consume(
            driver.as_ref(),
            target,
            &lanes,
            workload,
            runtime,
            progress,
            kind.name(),
        )
        .map(|(measured, consumed)| (measured, Some(consumed)))
    } else {
        harness::run(
            driver.as_ref(),
            &lanes,
            workload,
            runtime,
            progress,
            kind.name(),
        )
        .map(|measured| (measured, None))
    };
    driver.teardown(keep);
    let config = AppendConfig {
        name: workload.name.clone(),
        driver: kind,
        target: target.to_string(),
        durability,
        producers: workload.producers,
        segments: workload.segments,
        event_bytes: workload.event_bytes.clone(),
        mean_event_bytes: workload.event_bytes.mean(),
        rate: workload.rate_per_s().unwrap_or(0.0),
        window: workload.window,
        warmup_s: workload.warmup,
        stream: workload.stream.clone(),
        keys: workload.keys,
        consumers: workload.consumers,
        consumer_mode: (workload.consumers > 0).then_some(workload.consumer_mode),
        reply_spin_us: (kind == DriverKind::Spate && targets.spate_reply_spin_us > 0)
            .then_some(targets.spate_reply_spin_us),
    };
    let (measured, consumed) = outcome?;
    Ok(AppendReport::new(
        kind,
        measured,
        consumed.as_ref(),
        floor.clone(),
        config,
    ))
}

impl AppendReport {
    fn new(
        driver: DriverKind,
        measured: Measured,
        consumed: Option<&Consumed>,
        floor: FloorReport,
        config: AppendConfig,
    ) -> Self {
        let seconds = measured.seconds.max(1e-9);
        let mb_per_s = measured.payload_bytes as f64 / 1e6 / seconds;
        let latency = measured.latencies.summary();
        let consumers = consumed.map(|c| ConsumerReport::new(c, &latency, &floor));
        Self {
            workload: "append",
            driver,
            events: measured.events,
            seconds: round3(seconds),
            throughput: Throughput {
                events_per_s: round3(measured.events as f64 / seconds),
                mb_per_s: round3(mb_per_s),
            },
            latency_us: latency,
            latency_samples: measured.latencies.len(),
            late_acks: measured.late_acks,
            send_delay_us: measured.send_delay.summary(),
            ratio: AppendRatio {
                floor: Ratio::new(&latency, &floor, floor.faster_sync(), mb_per_s),
                read_vs_seq_read: consumers.as_ref().map(|c| c.ratio.read_vs_seq_read),
            },
            read_mb_per_s: consumers.as_ref().map(|c| c.throughput.mb_per_s),
            consumers,
            floor,
            config,
            latency_distribution: measured.latencies.distribution(),
            series: measured.series,
        }
    }

    pub fn human(&self) -> String {
        let l = &self.latency_us;
        let c = &self.config;
        let rate = if c.rate > 0.0 {
            format!("{} events/s offered", c.rate)
        } else {
            format!("max rate, {} in flight", c.window)
        };
        format!(
            "append to {} ({}): {}, {} producer(s), {} segment(s), {} B events, {rate}\n  \
             {} events in {:.1} s, {:.0} events/s, {:.1} MB/s\n  \
             latency µs: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  p99.99 {:.1}  max {:.1}\n  \
             vs floor: p50 x{:.2}, p99 x{:.2}, throughput x{:.3} of sequential write\n  \
             sender lateness p99 {:.1} µs{}{}",
            self.driver.name(),
            c.target,
            c.name,
            c.producers,
            c.segments,
            c.event_bytes,
            self.events,
            self.seconds,
            self.throughput.events_per_s,
            self.throughput.mb_per_s,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.p9999,
            l.max,
            self.ratio.floor.p50,
            self.ratio.floor.p99,
            self.ratio.floor.throughput_vs_seq_write,
            self.send_delay_us.p99,
            if self.late_acks > 0 {
                format!(", {} acks after the window closed", self.late_acks)
            } else {
                String::new()
            },
            match &self.consumers {
                Some(c) => format!("\n  {}", c.human()),
                None => String::new(),
            }
        )
    }
}
