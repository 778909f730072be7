//! `spate-bench read`: reading a stream through a reader group.
//!
//! Tail mode writes the workload at its rate (open loop, through the event
//! writer; `crate::harness`) and reads it at once with a reader group, each
//! event carrying its intended send time, so delivery latency is measured
//! from the same instant as the append's ack latency. Catch-up mode
//! (`--from-start`) first fills the stream, then reads what it holds as
//! fast as it can and reports MB/s against the floor's sequential read.
//!
//! A workload's consumers (`consumers` in `crate::spec`) run the same code
//! beside `append` (`consumers.rs`).

mod catchup;
mod consumers;
mod tail;

pub(crate) use catchup::read_group;
pub use consumers::{Consumed, ConsumerReport, run as consume};
pub use tail::STAMP_BYTES;

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::append::Throughput;
use crate::floor::FloorReport;
use crate::progress::ProgressMode;
use crate::report::Ratio;
use crate::spec::{ConsumerMode, EventSize, WorkloadFlags};
use crate::stats::{LatencySummary, ratio, round3};

/// `spate-bench read`.
#[derive(Clone, Debug, clap::Args)]
pub struct ReadArgs {
    /// What to write (--stream is required; --rate is the tail mode's rate).
    #[command(flatten)]
    pub workload: WorkloadFlags,
    /// Address of the Spate node (any core).
    #[arg(long, default_value = "127.0.0.1:9870")]
    pub node: String,
    /// Catch-up: fill the stream (--prefill-mib), then read everything it
    /// holds from its head as fast as possible (also when the workload's
    /// consumer mode is `catch-up`).
    #[arg(long)]
    pub from_start: bool,
    /// With --from-start: MiB of events written before reading (0: read
    /// only what the stream holds already).
    #[arg(long, default_value_t = 256)]
    pub prefill_mib: u64,
    /// With --from-start: read with a reader group (`group`) or with one
    /// segment reader per segment in parallel (`segments`, as read_stream
    /// does, without the group's bookkeeping).
    #[arg(long, value_enum, default_value_t = Via::Group)]
    pub via: Via,
    /// Readers in the group [default: the workload's consumers, else 1 at
    /// the tail and one per segment, at most 4, for catch-up].
    #[arg(long)]
    pub readers: Option<usize>,
    /// A directory on the node's device: the floor is measured there.
    #[arg(long)]
    pub floor_dir: PathBuf,
    /// Print one JSON object on stdout instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Show the live progress line even when stderr is not a terminal.
    #[arg(long)]
    pub progress: bool,
    /// Keep the stream if this run created it (deleted by default).
    #[arg(long)]
    pub keep: bool,
}

/// How catch-up reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Group,
    Segments,
}

/// The design brief's JSON plus what reads add: `read_mb_per_s`,
/// `ratio.read_vs_seq_read`, and at the tail the append ack latency of the
/// same run with `ratio.tail_p99_vs_ack_p99`.
#[derive(Clone, Debug, Serialize)]
pub struct ReadReport {
    /// `read` (tail) or `read-catchup`.
    pub workload: &'static str,
    pub driver: &'static str,
    /// Events delivered to readers (at the tail: those due in the window).
    pub events: u64,
    pub seconds: f64,
    pub throughput: Throughput,
    /// Payload megabytes (10^6 bytes) per second delivered to readers.
    pub read_mb_per_s: f64,
    /// Tail: intended send time to delivery to a reader. Catch-up: how
    /// long each `read_next_event` (or segment read) took.
    pub latency_us: LatencySummary,
    pub latency_samples: u64,
    /// Tail: events written that no reader had received when reading
    /// stopped (the drain waits up to 30 s after the writers are done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undelivered: Option<u64>,
    /// Tail: the same events' append ack latency (intended send time to
    /// ack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_latency_us: Option<LatencySummary>,
    pub floor: FloorReport,
    pub ratio: ReadRatio,
    pub config: ReadConfig,
    /// Catch-up: how the stream was filled first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefill: Option<Prefill>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReadRatio {
    /// Latency and throughput over the floor, as every report has them.
    #[serde(flatten)]
    pub floor: Ratio,
    /// `read_mb_per_s` over the floor's sequential read.
    pub read_vs_seq_read: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_p50_vs_ack_p50: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_p99_vs_ack_p99: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReadConfig {
    /// `tail` or `catch-up`.
    pub mode: &'static str,
    pub name: String,
    pub stream: String,
    pub target: String,
    pub producers: usize,
    pub segments: usize,
    pub event_bytes: EventSize,
    pub mean_event_bytes: f64,
    /// Events per second written (tail; 0 for catch-up).
    pub rate: f64,
    pub warmup_s: f64,
    pub keys: u64,
    /// How it read: `group` (a reader group) or `segments`.
    pub via: Via,
    pub readers: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Prefill {
    pub events: u64,
    pub mb: f64,
    pub seconds: f64,
    pub mb_per_s: f64,
    /// Payload MB the stream held when reading began (from its head).
    pub stream_mb: f64,
}

pub fn main(args: &ReadArgs) -> anyhow::Result<()> {
    let workload = args.workload.resolve()?;
    let Some(stream) = workload.stream.clone() else {
        bail!("spate-bench read needs --stream SCOPE/NAME");
    };
    if workload.txn_events > 0 {
        bail!(
            "spate-bench read writes plain events; read transactions with spate-bench txn \
             --consumers N"
        );
    }
    let stream = crate::driver::spate_stream::parse_stream(&stream)?;
    std::fs::create_dir_all(&args.floor_dir)
        .with_context(|| format!("creating {}", args.floor_dir.display()))?;
    let progress = ProgressMode::choose(args.progress);
    // A workload's consumers say how many read and how (--readers and
    // --from-start win when given).
    let consumers = (workload.consumers > 0).then_some(workload.consumers);
    let from_start =
        args.from_start || (consumers.is_some() && workload.consumer_mode == ConsumerMode::CatchUp);
    let readers = args.readers.or(consumers);
    let report = if from_start {
        catchup::run(args, &workload, &stream, readers, progress)?
    } else {
        if workload.event_bytes.min() < tail::STAMP_BYTES {
            bail!(
                "tail reads stamp each event with its send time: --event-bytes must be at least {}",
                tail::STAMP_BYTES
            );
        }
        if workload.rate_per_s().is_none() {
            bail!("tail reads run at a fixed --rate (catch-up reads are --from-start)");
        }
        tail::run(
            args,
            &workload,
            &stream,
            readers.unwrap_or(1).max(1),
            progress,
        )?
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.human());
    }
    Ok(())
}

/// What both modes measured, before it becomes a report.
pub(crate) struct Delivered {
    pub events: u64,
    pub payload_bytes: u64,
    pub seconds: f64,
    pub latency: crate::stats::Latencies,
    /// Tail: events written (warm-up included) that no reader had received
    /// when reading stopped (0 for catch-up, which reads to a fixed end).
    pub undelivered: u64,
}

impl ReadReport {
    fn new(
        workload: &'static str,
        delivered: &Delivered,
        ack: Option<LatencySummary>,
        floor: FloorReport,
        config: ReadConfig,
        prefill: Option<Prefill>,
    ) -> Self {
        let seconds = delivered.seconds.max(1e-9);
        let mb_per_s = delivered.payload_bytes as f64 / 1e6 / seconds;
        let latency = delivered.latency.summary();
        Self {
            workload,
            driver: "spate",
            events: delivered.events,
            seconds: round3(seconds),
            throughput: Throughput {
                events_per_s: round3(delivered.events as f64 / seconds),
                mb_per_s: round3(mb_per_s),
            },
            read_mb_per_s: round3(mb_per_s),
            latency_us: latency,
            latency_samples: delivered.latency.len(),
            undelivered: ack.is_some().then_some(delivered.undelivered),
            ratio: ReadRatio {
                floor: Ratio::new(&latency, &floor, floor.faster_sync(), mb_per_s),
                read_vs_seq_read: ratio(mb_per_s, floor.seq_read_mb_per_s),
                tail_p50_vs_ack_p50: ack.map(|a| ratio(latency.p50, a.p50)),
                tail_p99_vs_ack_p99: ack.map(|a| ratio(latency.p99, a.p99)),
            },
            ack_latency_us: ack,
            floor,
            config,
            prefill,
        }
    }

    pub fn human(&self) -> String {
        let c = &self.config;
        let l = &self.latency_us;
        let head = format!(
            "read {} of {} ({}): {} segment(s), {} B events, {} {} reader(s)\n  \
             {} events in {:.1} s, {:.0} events/s, {:.1} MB/s read (x{:.3} of the floor's \
             sequential read, {:.0} MB/s)",
            c.mode,
            c.stream,
            c.target,
            c.segments,
            c.event_bytes,
            c.readers,
            match c.via {
                Via::Group => "reader-group",
                Via::Segments => "segment",
            },
            self.events,
            self.seconds,
            self.throughput.events_per_s,
            self.read_mb_per_s,
            self.ratio.read_vs_seq_read,
            self.floor.seq_read_mb_per_s,
        );
        let what = if self.ack_latency_us.is_some() {
            "delivery latency (intended send → reader)"
        } else {
            "read call latency"
        };
        let mut text = format!(
            "{head}\n  {what} µs: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
            l.p50, l.p90, l.p99, l.p999, l.max
        );
        if let (Some(a), Some(r)) = (&self.ack_latency_us, self.ratio.tail_p99_vs_ack_p99) {
            text += &format!(
                "\n  append ack latency µs: p50 {:.1}  p99 {:.1}  max {:.1}; tail p99 / ack p99 = \
                 {r:.2}",
                a.p50, a.p99, a.max
            );
        }
        if let Some(p) = &self.prefill {
            text += &format!(
                "\n  prefill: {} events, {:.1} MB in {:.1} s ({:.0} MB/s); the stream held {:.1} MB",
                p.events, p.mb, p.seconds, p.mb_per_s, p.stream_mb
            );
        }
        text
    }
}
