//! Repair: rebuild what one directory should hold (its manifest copies and
//! its shards) from the other directories, bit-exact, e.g. after the disk
//! behind it was replaced.

use std::sync::Arc;

use super::fetch::{Cell, cell_id, shard_damage};
use super::files::{sync_dir, write_renamed};
use super::{Tier, lock};
use crate::damage::Damage;
use crate::error::{FsError, RepairError};
use crate::format::manifest::{Manifest, StripeEntry};
use crate::format::names::{manifest_file, shard_file};
use crate::format::shard::{SHARD_HEADER_LEN, ShardHeader, cell_crc};
use crate::fs::TierFs;
use crate::pace::Pacer;

/// Progress, as it happens.
#[derive(Clone, Copy, Debug)]
pub enum RepairEvent<'a> {
    /// A shard the directory should hold was checked, and rebuilt if needed.
    Shard {
        segment: &'a str,
        stripe: u64,
        rebuilt: bool,
    },
    /// Too few intact shards elsewhere to rebuild this stripe's shard.
    Unrecoverable { segment: &'a str, stripe: u64 },
}

/// What a repair did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    pub segments: u64,
    /// Shards the directory should hold, checked.
    pub shards_checked: u64,
    pub shards_rebuilt: u64,
    pub manifests_written: u64,
    pub bytes_written: u64,
    /// Stripes whose shard could not be rebuilt: (segment, stripe).
    pub unrecoverable: Vec<(String, u64)>,
    /// Segments with no valid manifest copy anywhere (by file key): nothing
    /// to rebuild them from.
    pub lost_manifests: Vec<String>,
    /// Damage met in other directories while rebuilding (first 1,000).
    pub damage_elsewhere: Vec<Damage>,
}

enum Rebuild {
    Intact,
    Rebuilt(u64),
    Unrecoverable,
}

impl<F: TierFs> Tier<F> {
    /// Rebuilds everything directory `dir` should hold: manifest copies that
    /// are missing, damaged or stale, and shards that are missing or fail
    /// verification. Reads at most `bytes_per_s` from the other directories.
    pub fn repair(
        &mut self,
        dir: usize,
        bytes_per_s: Option<u64>,
        observe: &mut dyn FnMut(RepairEvent<'_>),
    ) -> Result<RepairReport, RepairError> {
        if dir >= self.dirs.len() {
            return Err(RepairError::NoSuchDir {
                dir,
                dirs: self.dirs.len(),
            });
        }
        let mut report = RepairReport::default();
        let mut pacer = Pacer::new(bytes_per_s);
        let (keys, _) = self.segment_keys();
        for key in keys {
            let copies = self.read_copies(&key);
            let Some(best) = copies.best else {
                report.lost_manifests.push(key);
                continue;
            };
            report.segments += 1;
            if copies.states[dir] != Ok(best.generation) {
                let file = manifest_file(&key);
                let bytes = best.encode();
                write_renamed(dir, &self.dirs[dir], &file, &[(0, &bytes)])
                    .map_err(RepairError::Write)?;
                report.manifests_written += 1;
                report.bytes_written += bytes.len() as u64;
            }
            let manifest = Arc::new(best);
            lock(&self.cache).insert(key.clone(), Arc::clone(&manifest));
            for entry in &manifest.stripes {
                let Some(shard) = entry.dirs.iter().position(|&d| usize::from(d) == dir) else {
                    continue;
                };
                pacer.admit(entry.geometry.shards() as u64 * entry.shard_file_len());
                report.shards_checked += 1;
                let outcome = self.rebuild_shard(&key, &manifest, entry, shard, &mut report)?;
                let segment = manifest.segment.as_str();
                match outcome {
                    Rebuild::Intact => {}
                    Rebuild::Rebuilt(bytes) => {
                        report.shards_rebuilt += 1;
                        report.bytes_written += bytes;
                    }
                    Rebuild::Unrecoverable => {
                        report
                            .unrecoverable
                            .push((segment.to_owned(), entry.stripe));
                        observe(RepairEvent::Unrecoverable {
                            segment,
                            stripe: entry.stripe,
                        });
                        continue;
                    }
                }
                observe(RepairEvent::Shard {
                    segment,
                    stripe: entry.stripe,
                    rebuilt: matches!(outcome, Rebuild::Rebuilt(_)),
                });
            }
            // Make this segment's new names durable before moving on, so a
            // crash loses at most one segment's progress.
            sync_dir(dir, &self.dirs[dir]).map_err(RepairError::Write)?;
        }
        Ok(report)
    }

    /// Checks shard `shard` of `entry` and rebuilds it from the others if it
    /// does not verify.
    fn rebuild_shard(
        &self,
        key: &str,
        manifest: &Manifest,
        entry: &StripeEntry,
        shard: usize,
        report: &mut RepairReport,
    ) -> Result<Rebuild, RepairError> {
        if self.fetch_shard(key, manifest, entry, shard).is_ok() {
            return Ok(Rebuild::Intact);
        }
        let shards = entry.geometry.shards();
        let k = usize::from(entry.geometry.k);
        let cell_len = entry.cell_len() as usize;
        let others: Vec<usize> = (0..shards).filter(|&s| s != shard).collect();
        let mut cells: Vec<Option<Cell>> = (0..shards).map(|_| None).collect();
        for (s, result) in self.fetch_shards(key, manifest, entry, &others) {
            match result {
                Ok(cell) => cells[s] = Some(cell),
                Err(kind) => {
                    if report.damage_elsewhere.len() < 1000 {
                        report
                            .damage_elsewhere
                            .push(shard_damage(manifest, entry, s, kind));
                    }
                }
            }
        }
        let present: Vec<Option<&[u8]>> =
            cells.iter().map(|c| c.as_ref().map(Cell::bytes)).collect();
        let mut codec = lock(&self.codec);
        let Ok(restored) = codec.reconstruct(entry.geometry, cell_len, &present) else {
            return Ok(Rebuild::Unrecoverable);
        };
        let data: Vec<&[u8]> = (0..k)
            .map(|i| match present[i] {
                Some(cell) => cell,
                None => restored
                    .iter()
                    .find(|(index, _)| *index == i)
                    .map(|(_, cell)| cell.as_slice())
                    .expect("every missing data cell was restored"),
            })
            .collect();
        let mut parity = Vec::new();
        let cell: &[u8] = if shard < k {
            data[shard]
        } else {
            codec.encode(entry.geometry, cell_len, &data, &mut parity);
            &parity[shard - k]
        };
        drop(codec);
        let id = cell_id(manifest, entry, shard);
        // The rebuilt cell must be the one that was written: the manifest's
        // checksum says so. Anything else is not written.
        if cell_crc(id, cell) != entry.crcs[shard] {
            return Ok(Rebuild::Unrecoverable);
        }
        let header = ShardHeader {
            geometry: entry.geometry,
            shard: shard as u8,
            cell_len: cell_len as u32,
            data_len: entry.data_len,
            stripe: entry.stripe,
            offset: entry.offset,
            cell_crc: entry.crcs[shard],
            segment: manifest.segment.clone(),
        }
        .encode();
        let dir = usize::from(entry.dirs[shard]);
        let file = shard_file(key, entry.stripe, shard as u8);
        write_renamed(
            dir,
            &self.dirs[dir],
            &file,
            &[(0, &header), (SHARD_HEADER_LEN as u64, cell)],
        )
        .map_err(|e: FsError| RepairError::Write(e))?;
        Ok(Rebuild::Rebuilt(entry.shard_file_len()))
    }
}
