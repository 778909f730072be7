//! `spate-bench append`: appends to a running node through the client
//! library, in open loop at a fixed rate or as fast as the node takes them.
//!
//! The sending thread issues appends at their intended times; a collector
//! thread waits for the acknowledgements in issue order and records each
//! latency from the intended send time (open loop: a stall counts against
//! every event that should have been sent during it). Acks of one segment
//! arrive in order; across segments an early ack waits behind an earlier
//! issued one, so latencies are never under-reported.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use spate_client::{AppendFuture, AppendOutcome, Client, ClientOptions, EventFuture};

use crate::floor::FloorReport;
use crate::pacing::{precise_sleeps, wait_until};
use crate::report::Ratio;
use crate::stats::{Latencies, LatencySummary, round3};
use crate::target::Target;

#[derive(Clone, Debug, clap::Args)]
pub struct AppendArgs {
    /// Address of the node (any core; the client routes by segment).
    #[arg(long)]
    pub node: String,
    /// Segments to spread the events over (one writer each).
    #[arg(long, default_value_t = 1)]
    pub segments: usize,
    #[arg(long, default_value_t = 1024)]
    pub event_bytes: usize,
    /// Events per second over all segments; 0 sends as fast as the node
    /// acknowledges, with up to --window appends in flight.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Appends in flight at --rate 0.
    #[arg(long, default_value_t = 4096)]
    pub window: usize,
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// A directory on the device holding the node's journal: the floor is
    /// measured there in the same run.
    #[arg(long)]
    pub floor_dir: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Keep the benchmark's segments on the node (by default they are
    /// deleted after the run, so repeated runs do not fill its journal).
    #[arg(long)]
    pub keep: bool,
    /// Write events to this stream (created with --segments fixed segments
    /// if absent) through the event writer, instead of to bare segments.
    #[arg(long)]
    pub stream: Option<String>,
    /// With --stream: spread events over this many routing keys (0: no
    /// keys, each event placed by its number).
    #[arg(long, default_value_t = 0)]
    pub keys: u64,
}

/// An append's acknowledgement, from a segment writer or the event writer.
pub enum Ack {
    Segment(AppendFuture),
    Event(EventFuture),
}

impl Ack {
    fn wait(self) -> anyhow::Result<()> {
        match self {
            Ack::Segment(ack) => match ack.wait().context("an append failed")? {
                AppendOutcome::Appended(_) => Ok(()),
                outcome => bail!("an append was refused: {outcome:?}"),
            },
            Ack::Event(ack) => ack.wait().map(drop).context("an event write failed"),
        }
    }
}

struct Issued {
    ack: Ack,
    intended: Instant,
}

/// What the collector saw: latencies of events issued after the warm-up,
/// and how many of them were acknowledged before the end.
struct Collected {
    latencies: Latencies,
    events: u64,
}

#[derive(Serialize)]
pub struct AppendReport {
    workload: &'static str,
    events: u64,
    seconds: f64,
    throughput: Throughput,
    latency_us: LatencySummary,
    floor: FloorReport,
    ratio: Ratio,
    config: AppendConfig,
}

#[derive(Serialize)]
struct Throughput {
    events_per_s: f64,
    mb_per_s: f64,
}

#[derive(Serialize)]
struct AppendConfig {
    node: String,
    segments: usize,
    event_bytes: usize,
    rate: f64,
    window: usize,
    warmup_s: f64,
    stream: Option<String>,
    keys: u64,
}

pub fn run(args: &AppendArgs, mut floor: FloorReport) -> anyhow::Result<AppendReport> {
    if args.segments == 0 || args.event_bytes == 0 {
        bail!("--segments and --event-bytes must be positive");
    }
    if args.rate > 0.0 {
        let samples = ((args.rate * 2.0) as usize).clamp(10, 2000);
        let sync = floor.faster_sync();
        let ring = spate_journal::direct::DirectOptions::default().ring_flags;
        floor.measure_paced(&args.floor_dir, sync, args.rate, samples, ring)?;
    }
    let client = Client::connect(args.node.as_str(), ClientOptions::default())
        .with_context(|| format!("connecting to {}", args.node))?;
    let target = Target::open(&client, args)?;
    let outcome = drive(args, &target);
    if !args.keep {
        target.remove(&client);
    }
    Ok(report(args, floor, outcome?))
}

/// Runs the workload on `target`; what the collector gathered.
fn drive(args: &AppendArgs, target: &Target) -> anyhow::Result<Collected> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup.max(0.0));
    let end = measure_from + Duration::from_secs_f64(args.seconds.max(0.0));
    let window = if args.rate > 0.0 {
        1 << 20
    } else {
        args.window.max(1)
    };
    let (issue, issued) = sync_channel::<Issued>(window);
    let collector = std::thread::Builder::new()
        .name("bench-collector".into())
        .spawn(move || collect(issued, measure_from, end))?;
    let sent = send(args, target, start, end, &issue);
    drop(issue);
    let collected = collector
        .join()
        .map_err(|_| anyhow::anyhow!("the collector thread panicked"))?;
    // The collector's error is the one that explains a send stopped early.
    let collected = collected?;
    sent?;
    Ok(collected)
}

/// Issues appends until `end`: at their intended times, or as fast as the
/// window lets through.
fn send(
    args: &AppendArgs,
    target: &Target,
    start: Instant,
    end: Instant,
    issue: &std::sync::mpsc::SyncSender<Issued>,
) -> anyhow::Result<()> {
    precise_sleeps();
    let payload = crate::workload::payload(args.event_bytes);
    for i in 0u64.. {
        let intended = if args.rate > 0.0 {
            let at = start + Duration::from_secs_f64(i as f64 / args.rate);
            wait_until(at);
            at
        } else {
            Instant::now()
        };
        if intended >= end {
            return Ok(());
        }
        let ack = target.send(i, &payload);
        if issue.send(Issued { ack, intended }).is_err() {
            bail!("the collector stopped early");
        }
    }
    Ok(())
}

fn collect(
    issued: Receiver<Issued>,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<Collected> {
    let mut collected = Collected {
        latencies: Latencies::new(),
        events: 0,
    };
    for Issued { ack, intended } in issued {
        ack.wait()?;
        let acked = Instant::now();
        if intended < measure_from {
            continue;
        }
        collected.latencies.record(acked - intended);
        if acked <= end {
            collected.events += 1;
        }
    }
    Ok(collected)
}

fn report(args: &AppendArgs, floor: FloorReport, collected: Collected) -> AppendReport {
    let seconds = args.seconds.max(1e-9);
    let bytes = collected.events * args.event_bytes as u64;
    let mb_per_s = bytes as f64 / 1e6 / seconds;
    let latency = collected.latencies.summary();
    AppendReport {
        workload: "append",
        events: collected.events,
        seconds: round3(seconds),
        throughput: Throughput {
            events_per_s: round3(collected.events as f64 / seconds),
            mb_per_s: round3(mb_per_s),
        },
        latency_us: latency,
        ratio: Ratio::new(&latency, &floor, floor.faster_sync(), mb_per_s),
        floor,
        config: AppendConfig {
            node: args.node.clone(),
            segments: args.segments,
            event_bytes: args.event_bytes,
            rate: args.rate,
            window: args.window,
            warmup_s: args.warmup,
            stream: args.stream.clone(),
            keys: args.keys,
        },
    }
}

impl AppendReport {
    pub fn human(&self) -> String {
        let l = &self.latency_us;
        format!(
            "append: {} events in {:.1} s, {:.0} events/s, {:.1} MB/s\n  latency µs: p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}\n  vs floor: p50 x{:.2}, p99 x{:.2}, throughput x{:.3} of sequential write",
            self.events,
            self.seconds,
            self.throughput.events_per_s,
            self.throughput.mb_per_s,
            l.p50,
            l.p99,
            l.p999,
            l.max,
            self.ratio.p50,
            self.ratio.p99,
            self.ratio.throughput_vs_seq_write
        )
    }
}
