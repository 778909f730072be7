//! What the flusher asks of a container: the run of chunks to move out of
//! the journal next, its bytes, and, once they are durable in a hot chunk
//! file, the switch of those chunks to the file. Only durable data is
//! flushed (the durable view), and the switch is in memory: the next
//! checkpoint records it, and only then may the journal release the
//! records (their LSNs stop holding the checkpoint's floor down).

use std::collections::HashSet;

use bytes::Bytes;

use super::chunks::{FlushRun, HotData, Piece};
use super::{Container, kept_in_memory};

impl Container {
    /// Of this container's segments, the run holding back the oldest
    /// journal record, at most `max_bytes` long (at least one chunk).
    pub fn flush_candidate(&self, max_bytes: u64) -> Option<(String, FlushRun)> {
        self.durable
            .segments()
            .filter(|(name, _)| !kept_in_memory(name))
            .filter_map(|(name, segment)| Some((name, segment.data.flush_run(max_bytes)?)))
            .min_by_key(|(_, run)| run.first_lsn())
            .map(|(name, run)| (name.clone(), run))
    }

    /// The pieces holding `run`'s bytes; `None` if it no longer stands.
    pub fn flush_pieces(&self, segment: &str, run: &FlushRun) -> Option<Vec<Piece>> {
        self.durable.get(segment)?.data.run_pieces(run)
    }

    /// Switches `run`'s chunks to `hot`, whose bytes (`data`) are durable
    /// in a hot chunk file. False if the run no longer stands (its bytes
    /// in the file are then garbage, collected with the file).
    pub fn mark_flushed(
        &mut self,
        segment: &str,
        run: &FlushRun,
        hot: HotData,
        data: Bytes,
    ) -> bool {
        self.durable.replace_with_hot(segment, run, hot, data)
    }

    /// Whether `segment` is sealed and none of its data waits in the journal
    /// (its hot chunk file gets nothing more).
    pub fn sealed_and_flushed(&self, segment: &str) -> bool {
        self.durable
            .get(segment)
            .is_some_and(|s| s.sealed && s.data.flush_run(u64::MAX).is_none())
    }

    /// Adds every hot chunk file this container's data lies in to `out`.
    pub fn hot_files(&self, out: &mut HashSet<u64>) {
        for (_, segment) in self.durable.segments() {
            segment.data.hot_files(out);
        }
    }
}
