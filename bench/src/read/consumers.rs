//! A workload's consumers (`consumers`, `consumer_mode`): readers of one
//! reader group on the workload's stream, beside the producers of
//! `append` and `compare` (Spate's stream driver only). The reading is
//! `spate-bench read`'s own: at the tail, `tail::write_and_read` (each event
//! stamped with its intended send time); for catch-up, the producers write
//! the whole run first and `catchup::read_group` then reads the stream
//! from its head to the tail cut it had when they were done.

use anyhow::Context;
use serde::Serialize;
use spate_client::{Client, ClientOptions};

use super::{Delivered, catchup, tail};
use crate::append::Throughput;
use crate::driver::{Driver, Lane};
use crate::floor::FloorReport;
use crate::harness::{self, Measured};
use crate::progress::ProgressMode;
use crate::spec::{ConsumerMode, Workload};
use crate::stats::{LatencySummary, ratio, round3};

/// What the consumers did, before it becomes a report.
pub struct Consumed {
    pub mode: ConsumerMode,
    pub readers: usize,
    pub delivered: Delivered,
    /// Catch-up: payload MB the stream held when reading began.
    pub stream_mb: Option<f64>,
}

/// The `consumers` object of an `append` report.
#[derive(Clone, Debug, Serialize)]
pub struct ConsumerReport {
    /// `tail` or `catch-up`.
    pub mode: ConsumerMode,
    /// Readers in the group.
    pub readers: usize,
    /// Tail: events due in the measured window that a reader received.
    /// Catch-up: every event the stream held from its head.
    pub events: u64,
    /// Tail: the measured window. Catch-up: from when every reader had
    /// joined to the last event delivered.
    pub seconds: f64,
    /// Events and payload MB (10^6 bytes) per second delivered to readers.
    pub throughput: Throughput,
    /// Tail: intended send time to delivery to a reader. Catch-up: how
    /// long each `read_next_event` took.
    pub latency_us: LatencySummary,
    pub latency_samples: u64,
    /// Tail: events written that no reader had received when reading
    /// stopped (30 s after the producers were done at most).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undelivered: Option<u64>,
    /// Catch-up: payload MB the stream held when reading began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_mb: Option<f64>,
    pub ratio: ConsumerRatio,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConsumerRatio {
    /// Read MB/s over the floor's sequential read.
    pub read_vs_seq_read: f64,
    /// Tail: delivery latency over the same run's ack latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_p50_vs_ack_p50: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_p99_vs_ack_p99: Option<f64>,
}

/// Runs `workload` through `writers` (the Spate stream driver on the
/// workload's stream, at `target`) with its consumers reading.
#[allow(clippy::too_many_arguments)]
pub fn run(
    writers: &dyn Driver,
    target: &str,
    lanes: &[Lane],
    workload: &Workload,
    runtime: &tokio::runtime::Runtime,
    progress: ProgressMode,
    label: &str,
) -> anyhow::Result<(Measured, Consumed)> {
    let Some(stream) = &workload.stream else {
        anyhow::bail!("consumers need a stream (--stream SCOPE/NAME)");
    };
    let stream = crate::driver::spate_stream::parse_stream(stream)?;
    let client = Client::connect(target, ClientOptions::default())
        .with_context(|| format!("connecting the consumers to {target}"))?;
    let readers = workload.consumers.max(1);
    match workload.consumer_mode {
        ConsumerMode::Tail => {
            let (measured, delivered) = tail::write_and_read(
                &client, &stream, writers, lanes, workload, runtime, progress, label, readers,
            )?;
            let consumed = Consumed {
                mode: ConsumerMode::Tail,
                readers,
                delivered,
                stream_mb: None,
            };
            Ok((measured, consumed))
        }
        ConsumerMode::CatchUp => {
            let measured = harness::run(writers, lanes, workload, runtime, progress, label)?;
            let info = client
                .describe_stream(&stream)
                .wait()?
                .found(&stream.to_string())?;
            let stream_mb = round3(info.held_bytes() as f64 / 1e6);
            if progress != ProgressMode::Off {
                eprintln!(
                    "spate-bench: {readers} consumer(s) reading {stream_mb:.1} MB from the head \
                     of {stream}"
                );
            }
            let delivered = catchup::read_group(&client, &stream, None, info.tail_cut(), readers)?;
            let consumed = Consumed {
                mode: ConsumerMode::CatchUp,
                readers,
                delivered,
                stream_mb: Some(stream_mb),
            };
            Ok((measured, consumed))
        }
    }
}

impl ConsumerReport {
    /// `ack` is the producers' ack latency in the same run.
    pub fn new(consumed: &Consumed, ack: &LatencySummary, floor: &FloorReport) -> Self {
        let d = &consumed.delivered;
        let seconds = d.seconds.max(1e-9);
        let mb_per_s = d.payload_bytes as f64 / 1e6 / seconds;
        let latency = d.latency.summary();
        let tail = consumed.mode == ConsumerMode::Tail;
        Self {
            mode: consumed.mode,
            readers: consumed.readers,
            events: d.events,
            seconds: round3(seconds),
            throughput: Throughput {
                events_per_s: round3(d.events as f64 / seconds),
                mb_per_s: round3(mb_per_s),
            },
            latency_us: latency,
            latency_samples: d.latency.len(),
            undelivered: tail.then_some(d.undelivered),
            stream_mb: consumed.stream_mb,
            ratio: ConsumerRatio {
                read_vs_seq_read: ratio(mb_per_s, floor.seq_read_mb_per_s),
                tail_p50_vs_ack_p50: tail.then(|| ratio(latency.p50, ack.p50)),
                tail_p99_vs_ack_p99: tail.then(|| ratio(latency.p99, ack.p99)),
            },
        }
    }

    /// One or two lines for the summary.
    pub fn human(&self) -> String {
        let l = &self.latency_us;
        match self.mode {
            ConsumerMode::Tail => format!(
                "consumers: {} at the tail, {} events delivered, {:.0} events/s, {:.1} MB/s{}\n  \
                 delivery latency (intended send → reader) µs: p50 {:.1}  p90 {:.1}  p99 {:.1}  \
                 p99.9 {:.1}  max {:.1}; tail p99 / ack p99 = {:.2}",
                self.readers,
                self.events,
                self.throughput.events_per_s,
                self.throughput.mb_per_s,
                match self.undelivered {
                    Some(n) if n > 0 => format!(", {n} never delivered"),
                    _ => String::new(),
                },
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max,
                self.ratio.tail_p99_vs_ack_p99.unwrap_or(0.0),
            ),
            ConsumerMode::CatchUp => format!(
                "consumers: {} from the head, {} events ({:.1} MB held) in {:.2} s, {:.0} \
                 events/s, {:.1} MB/s read (x{:.3} of the floor's sequential read)\n  \
                 read call latency µs: p50 {:.1}  p99 {:.1}  max {:.1}",
                self.readers,
                self.events,
                self.stream_mb.unwrap_or(0.0),
                self.seconds,
                self.throughput.events_per_s,
                self.throughput.mb_per_s,
                self.ratio.read_vs_seq_read,
                l.p50,
                l.p99,
                l.max,
            ),
        }
    }
}
