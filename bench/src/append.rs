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
use spate_client::{
    AppendFuture, AppendOutcome, Client, ClientOptions, CreateOutcome, SegmentWriter,
};

use crate::floor::FloorReport;
use crate::pacing::{precise_sleeps, wait_until};
use crate::report::Ratio;
use crate::stats::{Latencies, LatencySummary, round3};

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
}

struct Issued {
    ack: AppendFuture,
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
    let (names, writers) = open_writers(&client, args.segments)?;
    let outcome = drive(args, &writers);
    drop(writers);
    if !args.keep {
        delete_segments(&client, &names);
    }
    Ok(report(args, floor, outcome?))
}

/// Runs the workload on `writers`; what the collector gathered.
fn drive(args: &AppendArgs, writers: &[SegmentWriter]) -> anyhow::Result<Collected> {
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
    let sent = send(args, writers, start, end, &issue);
    drop(issue);
    let collected = collector
        .join()
        .map_err(|_| anyhow::anyhow!("the collector thread panicked"))?;
    // The collector's error is the one that explains a send stopped early.
    let collected = collected?;
    sent?;
    Ok(collected)
}

/// Deletes the run's segments; a failure is reported, not fatal (the
/// figures are still good).
fn delete_segments(client: &Client, names: &[String]) {
    for name in names {
        if let Err(e) = client.delete(name).wait() {
            eprintln!("spate-bench: could not delete {name}: {e}");
        }
    }
}

fn open_writers(
    client: &Client,
    segments: usize,
) -> anyhow::Result<(Vec<String>, Vec<SegmentWriter>)> {
    let run = std::process::id();
    let names: Vec<String> = (0..segments)
        .map(|i| format!("bench/append-{run}/{i}"))
        .collect();
    let writers = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = name.clone();
            match client
                .create_segment(&name)
                .wait()
                .with_context(|| format!("creating {name}"))?
            {
                CreateOutcome::Created | CreateOutcome::AlreadyExists => {}
            }
            client
                .segment_writer(&name, (i + 1) as u128)
                .with_context(|| format!("a writer on {name}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((names, writers))
}

/// Issues appends until `end`: at their intended times, or as fast as the
/// window lets through.
fn send(
    args: &AppendArgs,
    writers: &[SegmentWriter],
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
        let writer = &writers[i as usize % writers.len()];
        let ack = writer.append(payload.clone());
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
        let outcome = ack.wait().context("an append failed")?;
        let acked = Instant::now();
        let AppendOutcome::Appended(_) = outcome else {
            bail!("an append was refused: {outcome:?}");
        };
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
