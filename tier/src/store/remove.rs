//! Truncation and deletion: the new manifest first, then the files it no
//! longer names. A crash in between leaves orphans, never a manifest naming
//! removed shards.

use std::collections::BTreeSet;

use super::Tier;
use crate::error::CommitError;
use crate::format::manifest::{Manifest, StripeEntry};
use crate::format::names::{segment_key, shard_file};
use crate::fs::TierFs;

/// What a truncation or deletion did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoveReport {
    pub stripes_dropped: u64,
    pub files_removed: u64,
    /// Files that could not be removed: orphans now, for `collect_orphans`.
    pub files_left: u64,
    /// As in `AppendReport`.
    pub stale_manifest_dirs: Vec<usize>,
}

impl<F: TierFs> Tier<F> {
    /// Drops the stripes that lie wholly below `offset`, and makes reads
    /// below `offset` fail as truncated. A stripe holding `offset` stays.
    pub fn truncate(&mut self, segment: &str, offset: u64) -> Result<RemoveReport, CommitError> {
        let current = self
            .manifest(segment)?
            .ok_or_else(|| CommitError::NotFound {
                segment: segment.to_owned(),
            })?;
        if offset <= current.start {
            return Ok(RemoveReport::default());
        }
        let mut next = (*current).clone();
        let keep_from = next.stripes.partition_point(|e| e.end() <= offset);
        let dropped: Vec<StripeEntry> = next.stripes.drain(..keep_from).collect();
        if next.stripes.is_empty() {
            next.end = next.end.max(offset);
            next.start = next.end;
        } else {
            next.start = offset;
        }
        next.generation += 1;
        self.commit_removal(segment, next, &dropped)
    }

    /// Deletes the segment's tier data. The manifest becomes a tombstone
    /// (kept, so stripe numbers are never reused if the name comes back).
    /// Deleting a segment the tier does not hold does nothing.
    pub fn delete(&mut self, segment: &str) -> Result<RemoveReport, CommitError> {
        let Some(current) = self.manifest(segment)? else {
            return Ok(RemoveReport::default());
        };
        let next = Manifest {
            deleted: true,
            stripes: Vec::new(),
            start: current.end,
            end: current.end,
            generation: current.generation + 1,
            ..(*current).clone()
        };
        self.commit_removal(segment, next, &current.stripes)
    }

    fn commit_removal(
        &mut self,
        segment: &str,
        next: Manifest,
        dropped: &[StripeEntry],
    ) -> Result<RemoveReport, CommitError> {
        let key = segment_key(segment);
        let outcome = self.store_manifest(&key, next)?;
        let mut report = RemoveReport {
            stripes_dropped: dropped.len() as u64,
            stale_manifest_dirs: outcome.stale_dirs,
            ..RemoveReport::default()
        };
        let mut touched = BTreeSet::new();
        for entry in dropped {
            for (shard, &dir) in entry.dirs.iter().enumerate() {
                let dir = usize::from(dir);
                let Some(fs) = self.dirs.get(dir) else {
                    continue;
                };
                match fs.remove(&shard_file(&key, entry.stripe, shard as u8)) {
                    Ok(()) => {
                        report.files_removed += 1;
                        touched.insert(dir);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(_) => report.files_left += 1,
                }
            }
        }
        for dir in touched {
            // Unsynced removals may come back after a crash: as orphans.
            let _ = self.dirs[dir].sync_dir();
        }
        Ok(report)
    }
}
