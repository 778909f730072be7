//! The device floor as benchmarks report it: the journal crate's probe,
//! summarised into percentiles and bandwidths.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use spate_journal::direct::{
    Floor, FloorOptions, RingFlags, SyncMode, measure_floor, paced_write_latencies,
};

use crate::stats::{FloorLatency, Latencies, round3};

/// The `floor` object of every report.
#[derive(Clone, Debug, Serialize)]
pub struct FloorReport {
    /// 4 KiB write + fdatasync at queue depth 1.
    pub sync_write_4k_us: FloorLatency,
    /// 4 KiB `RWF_DSYNC` write at queue depth 1.
    pub dsync_write_4k_us: FloorLatency,
    pub seq_write_mb_per_s: f64,
    pub seq_read_mb_per_s: f64,
    /// Latency samples per sync mode.
    pub samples: usize,
    /// How long the probe took.
    pub probe_seconds: f64,
    /// Latency-mode runs only: 4 KiB durable writes in the sync mode in use,
    /// paced at the workload's rate instead of back to back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paced_write_4k_us: Option<PacedFloor>,
}

/// The durable-write floor at a given pace.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PacedFloor {
    pub writes_per_s: f64,
    pub sync: &'static str,
    pub samples: usize,
    #[serde(flatten)]
    pub latency: FloorLatency,
}

impl FloorReport {
    /// Probes the filesystem holding `dir`.
    pub fn measure(dir: &Path, opts: &FloorOptions) -> anyhow::Result<Self> {
        let start = Instant::now();
        let floor = measure_floor(dir, opts)
            .with_context(|| format!("measuring the device floor in {}", dir.display()))?;
        Ok(Self::from_floor(&floor, start.elapsed().as_secs_f64()))
    }

    fn from_floor(floor: &Floor, probe_seconds: f64) -> Self {
        Self {
            sync_write_4k_us: Latencies::from_samples(&floor.sync_write_4k_ns).floor_summary(),
            dsync_write_4k_us: Latencies::from_samples(&floor.dsync_write_4k_ns).floor_summary(),
            seq_write_mb_per_s: round3(floor.seq_write.mb_per_s()),
            seq_read_mb_per_s: round3(floor.seq_read.mb_per_s()),
            samples: floor.sync_write_4k_ns.len(),
            probe_seconds: round3(probe_seconds),
            paced_write_4k_us: None,
        }
    }

    /// Adds the floor of durable writes paced at `rate` per second.
    pub fn measure_paced(
        &mut self,
        dir: &Path,
        sync: SyncMode,
        rate: f64,
        samples: usize,
        ring_flags: RingFlags,
    ) -> anyhow::Result<()> {
        let interval = std::time::Duration::from_secs_f64(1.0 / rate.max(1e-3));
        let ns = paced_write_latencies(dir, sync, interval, samples, ring_flags)
            .with_context(|| format!("measuring the paced floor in {}", dir.display()))?;
        self.paced_write_4k_us = Some(PacedFloor {
            writes_per_s: rate,
            sync: sync.name(),
            samples: ns.len(),
            latency: Latencies::from_samples(&ns).floor_summary(),
        });
        Ok(())
    }

    /// The durable-write latency floor of `sync`.
    pub fn write_4k(&self, sync: SyncMode) -> FloorLatency {
        match sync {
            SyncMode::Dsync => self.dsync_write_4k_us,
            SyncMode::Fdatasync => self.sync_write_4k_us,
        }
    }

    /// The sync mode with the lower median durable-write latency here.
    pub fn faster_sync(&self) -> SyncMode {
        if self.dsync_write_4k_us.p50 <= self.sync_write_4k_us.p50 {
            SyncMode::Dsync
        } else {
            SyncMode::Fdatasync
        }
    }

    /// A few lines for people.
    pub fn human(&self) -> String {
        let (f, d) = (self.sync_write_4k_us, self.dsync_write_4k_us);
        format!(
            "device floor ({} samples, {:.1} s):\n  \
             4 KiB write+fdatasync  p50 {:>8.1} µs  p99 {:>8.1} µs  p99.9 {:>8.1} µs\n  \
             4 KiB RWF_DSYNC write  p50 {:>8.1} µs  p99 {:>8.1} µs  p99.9 {:>8.1} µs\n  \
             sequential write {:.0} MB/s, read {:.0} MB/s (1 MiB blocks, QD 4)",
            self.samples,
            self.probe_seconds,
            f.p50,
            f.p99,
            f.p999,
            d.p50,
            d.p99,
            d.p999,
            self.seq_write_mb_per_s,
            self.seq_read_mb_per_s,
        )
    }
}
