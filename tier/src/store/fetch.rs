//! Fetching shards and verifying them: the one place bytes read from a shard
//! file are checked before anything uses them.

use std::io;

use super::Tier;
use crate::damage::{Damage, DamageKind, Place};
use crate::format::manifest::{Manifest, StripeEntry};
use crate::format::names::shard_file;
use crate::format::shard::{CellId, SHARD_HEADER_LEN, ShardHeader, cell_crc};
use crate::fs::{TierFs, read_full};

/// A shard file read whole and verified.
pub(super) struct Cell {
    file: Vec<u8>,
}

impl Cell {
    pub fn bytes(&self) -> &[u8] {
        &self.file[SHARD_HEADER_LEN..]
    }
}

/// The damage record of shard `shard` of `entry`.
pub(super) fn shard_damage(
    manifest: &Manifest,
    entry: &StripeEntry,
    shard: usize,
    kind: DamageKind,
) -> Damage {
    Damage {
        dir: usize::from(entry.dirs[shard]),
        segment: manifest.segment.clone(),
        place: Place::Shard {
            stripe: entry.stripe,
            shard: shard as u8,
        },
        kind,
    }
}

/// The identity of shard `shard` of `entry`.
pub(super) fn cell_id<'a>(manifest: &'a Manifest, entry: &StripeEntry, shard: usize) -> CellId<'a> {
    CellId {
        segment: &manifest.segment,
        offset: entry.offset,
        stripe: entry.stripe,
        shard: shard as u8,
    }
}

impl<F: TierFs> Tier<F> {
    /// Reads shard `shard` of `entry` and checks its header against the
    /// manifest and its cell against the manifest's checksum.
    pub(super) fn fetch_shard(
        &self,
        key: &str,
        manifest: &Manifest,
        entry: &StripeEntry,
        shard: usize,
    ) -> Result<Cell, DamageKind> {
        let Some(fs) = self.dirs.get(usize::from(entry.dirs[shard])) else {
            return Err(DamageKind::Missing);
        };
        let file = shard_file(key, entry.stripe, shard as u8);
        let expected = entry.shard_file_len() as usize;
        let mut buf = vec![0u8; expected];
        let n = read_full(fs, &file, 0, &mut buf).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => DamageKind::Missing,
            kind => DamageKind::Unreadable(kind),
        })?;
        if n < expected {
            return Err(DamageKind::Short { len: n, expected });
        }
        let header = ShardHeader::decode(&buf).map_err(DamageKind::BadHeader)?;
        let id = cell_id(manifest, entry, shard);
        if header.id() != id
            || header.geometry != entry.geometry
            || header.data_len != entry.data_len
        {
            return Err(DamageKind::WrongIdentity);
        }
        if cell_crc(id, &buf[SHARD_HEADER_LEN..]) != entry.crcs[shard] {
            return Err(DamageKind::Checksum);
        }
        if header.cell_crc != entry.crcs[shard] {
            return Err(DamageKind::WrongIdentity);
        }
        Ok(Cell { file: buf })
    }

    /// Fetches `shards` of `entry` from their directories at once; results
    /// come back by shard index, whatever order the reads finish in.
    pub(super) fn fetch_shards(
        &self,
        key: &str,
        manifest: &Manifest,
        entry: &StripeEntry,
        shards: &[usize],
    ) -> Vec<(usize, Result<Cell, DamageKind>)> {
        if shards.len() <= 1 {
            return shards
                .iter()
                .map(|&s| (s, self.fetch_shard(key, manifest, entry, s)))
                .collect();
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = shards
                .iter()
                .map(|&shard| {
                    let spawned = std::thread::Builder::new()
                        .name("tier-read".into())
                        .spawn_scoped(scope, move || self.fetch_shard(key, manifest, entry, shard));
                    (shard, spawned)
                })
                .collect();
            handles
                .into_iter()
                .map(|(shard, spawned)| {
                    let result = match spawned {
                        Ok(handle) => match handle.join() {
                            Ok(result) => result,
                            Err(panic) => std::panic::resume_unwind(panic),
                        },
                        // No thread to be had: read it here instead.
                        Err(_) => self.fetch_shard(key, manifest, entry, shard),
                    };
                    (shard, result)
                })
                .collect()
        })
    }
}
