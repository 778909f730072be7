//! The result of a run: one JSON object (`--json`) or a short summary.
//!
//! Every figure comes with the device floor measured in the same run and its
//! ratio to it, because the machines this runs on are shared and noisy.

use serde::Serialize;
use spate_journal::direct::SyncMode;

use crate::floor::FloorReport;
use crate::stats::{LatencySummary, ratio, round3};
use crate::workload::{Measured, Mode};

#[derive(Debug, Serialize)]
pub struct Report {
    pub workload: String,
    pub events: u64,
    pub seconds: f64,
    pub throughput: Throughput,
    pub latency_us: LatencySummary,
    /// Latency samples behind `latency_us` (throughput mode also counts records
    /// acknowledged after the window closed).
    pub latency_samples: u64,
    pub floor: FloorReport,
    pub ratio: Ratio,
    pub config: RunConfig,
}

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub events_per_s: f64,
    /// Payload megabytes (10^6 bytes) per second.
    pub mb_per_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// Latency p50 over the floor p50 of the sync mode in use.
    pub p50: f64,
    /// Latency p99 over the floor p99 of the sync mode in use.
    pub p99: f64,
    pub throughput_vs_seq_write: f64,
    /// Latency-mode runs: p50 over the floor paced at the same rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_vs_paced: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_vs_paced: Option<f64>,
}

impl Ratio {
    /// Every figure of a run over the floor measured in the same run:
    /// latencies over the durable-write floor of `sync` (and over the paced
    /// floor, if measured), throughput over sequential write bandwidth.
    pub fn new(
        latency: &LatencySummary,
        floor: &FloorReport,
        sync: SyncMode,
        mb_per_s: f64,
    ) -> Self {
        let sync_floor = floor.write_4k(sync);
        let paced = floor.paced_write_4k_us;
        Self {
            p50: ratio(latency.p50, sync_floor.p50),
            p99: ratio(latency.p99, sync_floor.p99),
            throughput_vs_seq_write: ratio(mb_per_s, floor.seq_write_mb_per_s),
            p50_vs_paced: paced.map(|p| ratio(latency.p50, p.latency.p50)),
            p99_vs_paced: paced.map(|p| ratio(latency.p99, p.latency.p99)),
        }
    }
}

/// The settings of the run, so a result file explains itself.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    pub mode: Mode,
    pub record_bytes: usize,
    /// The sync mode used.
    pub sync: &'static str,
    /// The sync mode asked for (`auto` picks the faster floor).
    pub sync_requested: &'static str,
    /// Target events per second (latency mode only).
    pub rate: Option<f64>,
    pub warmup_s: f64,
    pub file_bytes: u64,
    pub max_files: u32,
    pub max_write_bytes: u32,
    pub max_writes_in_flight: u16,
    pub checkpoint_bytes: u64,
    pub coop_taskrun: bool,
    pub defer_taskrun: bool,
    pub dir: String,
}

impl Report {
    /// `sync` is the mode the journal used: latencies compare with its floor.
    pub fn new(measured: &Measured, floor: FloorReport, sync: SyncMode, config: RunConfig) -> Self {
        let seconds = measured.seconds.max(1e-9);
        let mb_per_s = measured.payload_bytes as f64 / 1e6 / seconds;
        let latency = measured.latencies.summary();
        let workload = match config.mode {
            Mode::Latency => "journal-latency",
            Mode::Throughput => "journal-throughput",
        };
        Self {
            workload: workload.to_string(),
            events: measured.events,
            seconds: round3(measured.seconds),
            throughput: Throughput {
                events_per_s: round3(measured.events as f64 / seconds),
                mb_per_s: round3(mb_per_s),
            },
            latency_us: latency,
            latency_samples: measured.latencies.len(),
            ratio: Ratio::new(&latency, &floor, sync, mb_per_s),
            floor,
            config,
        }
    }

    /// A few lines for people.
    pub fn human(&self) -> String {
        let l = &self.latency_us;
        let c = &self.config;
        format!(
            "{} ({} sync, {} B records{}): {} events in {:.2} s\n  \
             throughput {:.0} events/s, {:.1} MB/s ({:.3} of sequential write)\n  \
             latency p50 {:.1} µs  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  p99.99 {:.1}  max {:.1}\n  \
             vs floor: p50 x{:.2}, p99 x{:.2}\n{}",
            self.workload,
            c.sync,
            c.record_bytes,
            c.rate
                .map(|r| format!(", {r} events/s offered"))
                .unwrap_or_default(),
            self.events,
            self.seconds,
            self.throughput.events_per_s,
            self.throughput.mb_per_s,
            self.ratio.throughput_vs_seq_write,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.p9999,
            l.max,
            self.ratio.p50,
            self.ratio.p99,
            self.floor.human(),
        )
    }
}
