//! A core's figures at one moment: its counters plus the gauges its state
//! knows, copied into plain data that can leave the core's thread.

use spate_journal::Storage;

use super::counters::Refusal;
use super::histogram::HistogramSnapshot;
use crate::runtime::core::CoreState;

/// What a core reports to a scrape.
#[derive(Clone, Debug, Default)]
pub struct CoreSnapshot {
    pub core: usize,
    pub append_requests: u64,
    pub appended_events: u64,
    pub appended_bytes: u64,
    pub read_requests: u64,
    pub read_bytes: u64,
    pub append_ack: HistogramSnapshot,
    pub journal_write: HistogramSnapshot,
    pub journal_writes: u64,
    pub journal_bytes_written: u64,
    pub journal_files_in_use: u64,
    pub journal_files_max: u64,
    pub journal_durable_lsn: u64,
    pub cache_bytes: u64,
    pub cache_budget_bytes: u64,
    pub cache_evicted_bytes: u64,
    pub readbacks: u64,
    pub readback_bytes: u64,
    pub flushed_bytes: u64,
    pub hot_files: u64,
    pub hot_bytes: u64,
    pub tier_bytes: u64,
    pub tier_backlog_bytes: u64,
    pub connections_open: u64,
    pub connections_accepted: u64,
    /// By [`Refusal`], in `Refusal::ALL` order.
    pub refusals: [u64; Refusal::ALL.len()],
    pub containers: u64,
    pub segments: u64,
}

impl<S: Storage> CoreState<S> {
    /// This core's figures now. `cache_budget_bytes` is fixed at start
    /// (the node's cache divided among containers), so the caller passes it.
    pub(in crate::runtime) fn metrics_snapshot(&self, cache_budget_bytes: u64) -> CoreSnapshot {
        let m = &self.metrics;
        let (mut segments, mut cache_bytes, mut evicted) = (0u64, 0u64, 0u64);
        for container in self.containers.values() {
            let stats = container.stats();
            segments += stats.segments as u64;
            cache_bytes += stats.data_bytes;
            evicted += stats.evicted_bytes;
        }
        let max_files = u64::from(self.journal.config().max_files);
        let hot = self.hot_files().map(|f| f.usage()).unwrap_or_default();
        CoreSnapshot {
            core: self.index,
            append_requests: m.append_requests.get(),
            appended_events: m.appended_events.get(),
            appended_bytes: m.appended_bytes.get(),
            read_requests: m.read_requests.get(),
            read_bytes: m.read_bytes.get(),
            append_ack: m.append_ack.snapshot(),
            journal_write: m.journal_write.snapshot(),
            journal_writes: m.journal_writes.get(),
            journal_bytes_written: m.journal_bytes_written.get(),
            journal_files_in_use: max_files.saturating_sub(self.journal.unused_files() as u64),
            journal_files_max: max_files,
            journal_durable_lsn: self.journal.durable_lsn(),
            cache_bytes,
            cache_budget_bytes,
            cache_evicted_bytes: evicted,
            readbacks: m.readbacks.get(),
            readback_bytes: m.readback_bytes.get(),
            flushed_bytes: m.flushed_bytes.get(),
            hot_files: hot.local_files,
            hot_bytes: hot.local_bytes,
            tier_bytes: hot.tier_bytes,
            tier_backlog_bytes: hot.tier_backlog_bytes,
            connections_open: m.connections_open.get(),
            connections_accepted: m.connections_accepted.get(),
            refusals: Refusal::ALL.map(|r| m.refusals(r)),
            containers: self.containers.len() as u64,
            segments,
        }
    }
}
