//! Appending: encode stripes, write every shard durably, then commit the
//! manifest that names them.
//!
//! Order, for each append (see `docs/tier.md`):
//! 1. every shard of every new stripe: write a temporary file, fsync it,
//!    rename it to its final name;
//! 2. fsync every directory that got a shard, so the names are durable;
//! 3. the new manifest (see `manifests.rs`): temporary copies in every
//!    directory, fsynced, then renamed into place and each directory fsynced.
//!
//! Until step 3 renames a copy, no reader can see the new stripes: a crash
//! leaves unreferenced shard files (orphans), never a partial stripe. On an
//! error before that point the shards written are removed again.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::files::{sync_dir, write_renamed};
use super::{Tier, check_name, lock};
use crate::error::{CommitError, FsError};
use crate::format::manifest::{MAX_MANIFEST_BYTES, Manifest, StripeEntry, entry_len};
use crate::format::names::{name_hash, segment_key, shard_file};
use crate::format::shard::{CellId, SHARD_HEADER_LEN, ShardHeader, cell_crc};
use crate::fs::TierFs;

/// What an append committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendReport {
    /// Numbers of the stripes written.
    pub stripes: Vec<u64>,
    /// The segment's tier data now ends here.
    pub end: u64,
    /// Directories whose manifest copy could not be updated after the commit
    /// point (see `StoreOutcome`): committed, but with less redundancy
    /// until a repair.
    pub stale_manifest_dirs: Vec<usize>,
}

/// One shard to write.
struct ShardWrite<'a> {
    dir: usize,
    file: String,
    header: Vec<u8>,
    cell: &'a [u8],
}

impl<F: TierFs> Tier<F> {
    /// Stores `data` as the segment's bytes from `offset` on, in stripes of
    /// the configured geometry (the last one partial if `data` ends short of
    /// a full stripe). `offset` must be where the segment's tier data ends,
    /// except that a segment new to the tier (or deleted from it) starts at
    /// any offset, and one emptied by truncation at any offset past its end.
    pub fn append(
        &mut self,
        segment: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<AppendReport, CommitError> {
        check_name(segment).map_err(|reason| CommitError::InvalidName {
            segment: segment.to_owned(),
            reason,
        })?;
        if data.is_empty() {
            return Err(CommitError::Empty);
        }
        let Some(end) = offset.checked_add(data.len() as u64) else {
            return Err(CommitError::InvalidName {
                segment: segment.to_owned(),
                reason: "offset plus length overflows",
            });
        };
        let key = segment_key(segment);
        let mut next = match self.manifest_of(segment)? {
            Some(current) => (*current).clone(),
            None => Manifest::empty(segment, offset),
        };
        if next.deleted || (next.stripes.is_empty() && offset >= next.end) {
            // A new, emptied or deleted (a new life of the name) segment
            // starts where it is told; only stripe numbers carry on.
            next.deleted = false;
            next.start = offset;
            next.end = offset;
        }
        if offset != next.end {
            return Err(CommitError::NotContiguous {
                segment: segment.to_owned(),
                offset,
                end: next.end,
            });
        }

        // Refuse before writing anything a manifest too large to store.
        let geometry = self.config.geometry();
        let new_stripes = (data.len() as u64).div_ceil(geometry.stripe_capacity()) as usize;
        if next.encoded_len() + new_stripes * entry_len(geometry) > MAX_MANIFEST_BYTES {
            return Err(CommitError::TooLarge {
                segment: segment.to_owned(),
            });
        }

        let mut written = Vec::new();
        let capacity = geometry.stripe_capacity() as usize;
        let mut new_entries = Vec::new();
        let result = (|| {
            let mut stripe_offset = offset;
            for chunk in data.chunks(capacity) {
                let stripe = next.next_stripe + new_entries.len() as u64;
                let entry =
                    self.write_stripe(&key, segment, stripe, stripe_offset, chunk, &mut written)?;
                stripe_offset = entry.end();
                new_entries.push(entry);
            }
            let touched: BTreeSet<usize> = written.iter().map(|(dir, _)| *dir).collect();
            for dir in touched {
                sync_dir(dir, &self.dirs[dir])?;
            }
            Ok::<_, FsError>(())
        })();
        if let Err(error) = result {
            self.remove_quietly(&written);
            return Err(CommitError::from_fs(error));
        }

        let stripes: Vec<u64> = new_entries.iter().map(|e| e.stripe).collect();
        next.next_stripe += new_entries.len() as u64;
        next.stripes.extend(new_entries);
        next.end = end;
        next.generation += 1;
        match self.store_manifest(&key, next) {
            Ok(outcome) => Ok(AppendReport {
                stripes,
                end,
                stale_manifest_dirs: outcome.stale_dirs,
            }),
            Err(error) => {
                // Indeterminate: the new manifest may name the shards; they
                // stay, and orphan collection sorts it out later.
                if !matches!(error, CommitError::Indeterminate(_)) {
                    self.remove_quietly(&written);
                }
                Err(error)
            }
        }
    }

    /// Encodes one stripe and writes its shards, each durable and renamed.
    fn write_stripe(
        &self,
        key: &str,
        segment: &str,
        stripe: u64,
        offset: u64,
        data: &[u8],
        written: &mut Vec<(usize, String)>,
    ) -> Result<StripeEntry, FsError> {
        let geometry = self.config.geometry();
        let data_len = u32::try_from(data.len()).expect("a stripe's data fits its capacity");
        let cell_len = geometry.cell_len(data_len) as usize;
        let k = usize::from(geometry.k);
        // Full cells are written straight from `data`; only a short last
        // stripe's cells are copied, zero-padded.
        let data_cells: Vec<Cow<'_, [u8]>> = (0..k)
            .map(|i| {
                let start = (i * cell_len).min(data.len());
                let end = ((i + 1) * cell_len).min(data.len());
                if end - start == cell_len {
                    Cow::Borrowed(&data[start..end])
                } else {
                    let mut cell = vec![0u8; cell_len];
                    cell[..end - start].copy_from_slice(&data[start..end]);
                    Cow::Owned(cell)
                }
            })
            .collect();
        let refs: Vec<&[u8]> = data_cells.iter().map(|c| c.as_ref()).collect();
        let mut parity = Vec::new();
        lock(&self.codec).encode(geometry, cell_len, &refs, &mut parity);
        let cells: Vec<&[u8]> = refs
            .iter()
            .copied()
            .chain(parity.iter().map(Vec::as_slice))
            .collect();

        let rotation = (name_hash(segment).wrapping_add(stripe) % self.dirs.len() as u64) as usize;
        let mut entry = StripeEntry {
            stripe,
            offset,
            data_len,
            geometry,
            dirs: Vec::with_capacity(cells.len()),
            crcs: Vec::with_capacity(cells.len()),
        };
        let mut writes = Vec::with_capacity(cells.len());
        for (shard, cell) in cells.iter().enumerate() {
            let dir = (rotation + shard) % self.dirs.len();
            let id = CellId {
                segment,
                offset,
                stripe,
                shard: shard as u8,
            };
            let crc = cell_crc(id, cell);
            let header = ShardHeader {
                geometry,
                shard: shard as u8,
                cell_len: cell_len as u32,
                data_len,
                stripe,
                offset,
                cell_crc: crc,
                segment: segment.to_owned(),
            };
            entry.dirs.push(dir as u8);
            entry.crcs.push(crc);
            writes.push(ShardWrite {
                dir,
                file: shard_file(key, stripe, shard as u8),
                header: header.encode(),
                cell,
            });
        }
        let results = self.write_shards(&writes);
        let mut first_error = None;
        for (write, result) in writes.into_iter().zip(results) {
            match result {
                Ok(()) => written.push((write.dir, write.file)),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(entry),
        }
    }

    /// Writes shards, each to its own directory: at once if configured so,
    /// else one after another (deterministic, for crash enumeration).
    fn write_shards(&self, writes: &[ShardWrite<'_>]) -> Vec<Result<(), FsError>> {
        let write_one = |w: &ShardWrite<'_>| {
            write_renamed(
                w.dir,
                &self.dirs[w.dir],
                &w.file,
                &[(0, &w.header), (SHARD_HEADER_LEN as u64, w.cell)],
            )
        };
        if !self.config.parallel_writes {
            return writes.iter().map(write_one).collect();
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = writes
                .iter()
                .map(|w| {
                    std::thread::Builder::new()
                        .name("tier-write".into())
                        .spawn_scoped(scope, move || write_one(w))
                })
                .collect();
            handles
                .into_iter()
                .zip(writes)
                .map(|(spawned, w)| match spawned {
                    Ok(handle) => match handle.join() {
                        Ok(result) => result,
                        Err(panic) => std::panic::resume_unwind(panic),
                    },
                    Err(_) => write_one(w),
                })
                .collect()
        })
    }

    /// Removes files this call wrote and no manifest names. Best effort: what
    /// stays is an orphan for `collect_orphans`.
    pub(super) fn remove_quietly(&self, files: &[(usize, String)]) {
        let mut touched = BTreeSet::new();
        for (dir, file) in files {
            if self.dirs[*dir].remove(file).is_ok() {
                touched.insert(*dir);
            }
        }
        for dir in touched {
            let _ = self.dirs[dir].sync_dir();
        }
    }
}
