//! Reads: the data cells a range needs, verified; parity only when a cell is
//! missing, unreadable or fails its checksum.
//!
//! Memory: the output plus the cells of one stripe at a time.

use super::fetch::{Cell, shard_damage};
use super::{Tier, lock};
use crate::damage::Damage;
use crate::error::ReadError;
use crate::format::manifest::{Manifest, StripeEntry};
use crate::format::names::segment_key;
use crate::fs::TierFs;

/// The bytes asked for, and the damage met on the way (reconstructed
/// around; report it, and repair the directories it names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOutcome {
    pub data: Vec<u8>,
    pub damage: Vec<Damage>,
}

impl<F: TierFs> Tier<F> {
    /// Reads `len` bytes of `segment` from `offset`. Either every byte is
    /// verified (directly or reconstructed from verified cells) or none is
    /// returned.
    pub fn read(&self, segment: &str, offset: u64, len: usize) -> Result<ReadOutcome, ReadError> {
        let max = self.config.max_read_bytes;
        if len > max {
            return Err(ReadError::TooLarge { len, max });
        }
        let manifest = self.manifest(segment)?.ok_or_else(|| ReadError::NotFound {
            segment: segment.to_owned(),
        })?;
        if offset < manifest.start {
            return Err(ReadError::Truncated {
                segment: segment.to_owned(),
                offset,
                start: manifest.start,
            });
        }
        let end = offset
            .checked_add(len as u64)
            .filter(|&end| end <= manifest.end);
        let Some(end) = end else {
            return Err(ReadError::OutOfRange {
                segment: segment.to_owned(),
                offset,
                len: len as u64,
                end: manifest.end,
            });
        };
        let key = segment_key(segment);
        let mut data = Vec::with_capacity(len);
        let mut damage = Vec::new();
        let mut pos = offset;
        while pos < end {
            let index = manifest
                .entry_at(pos)
                .expect("a checked manifest covers start..end without gaps");
            let entry = &manifest.stripes[index];
            let from = (pos - entry.offset) as usize;
            let to = (end.min(entry.end()) - entry.offset) as usize;
            let result = self.read_stripe(&key, &manifest, entry, from..to, &mut data, &mut damage);
            if let Err(error) = result {
                self.note_damage(&damage);
                return Err(error);
            }
            pos = entry.offset + to as u64;
        }
        self.note_damage(&damage);
        Ok(ReadOutcome { data, damage })
    }

    /// Appends bytes `range` of stripe `entry` to `out`.
    fn read_stripe(
        &self,
        key: &str,
        manifest: &Manifest,
        entry: &StripeEntry,
        range: std::ops::Range<usize>,
        out: &mut Vec<u8>,
        damage: &mut Vec<Damage>,
    ) -> Result<(), ReadError> {
        let cell_len = entry.cell_len() as usize;
        let shards = entry.geometry.shards();
        let needed: Vec<usize> = (range.start / cell_len..=(range.end - 1) / cell_len).collect();
        let mut cells: Vec<Option<Cell>> = (0..shards).map(|_| None).collect();
        let mut bad = Vec::new();
        self.collect(key, manifest, entry, &needed, &mut cells, &mut bad);

        let mut restored = Vec::new();
        if !bad.is_empty() {
            let others: Vec<usize> = (0..shards).filter(|s| !needed.contains(s)).collect();
            self.collect(key, manifest, entry, &others, &mut cells, &mut bad);
            let present: Vec<Option<&[u8]>> =
                cells.iter().map(|c| c.as_ref().map(Cell::bytes)).collect();
            let rebuilt = lock(&self.codec).reconstruct(entry.geometry, cell_len, &present);
            damage.extend(bad.iter().cloned());
            match rebuilt {
                Ok(r) => restored = r,
                Err(_) => {
                    return Err(ReadError::Unrecoverable {
                        segment: manifest.segment.clone(),
                        stripe: entry.stripe,
                        damage: bad,
                    });
                }
            }
        }
        for i in needed {
            let bytes = match &cells[i] {
                Some(cell) => cell.bytes(),
                None => restored
                    .iter()
                    .find(|(index, _)| *index == i)
                    .map(|(_, cell)| cell.as_slice())
                    .expect("every missing data cell was restored"),
            };
            let lo = range.start.max(i * cell_len) - i * cell_len;
            let hi = range.end.min((i + 1) * cell_len) - i * cell_len;
            out.extend_from_slice(&bytes[lo..hi]);
        }
        Ok(())
    }

    /// Fetches `shards` into `cells`, damage into `bad`.
    fn collect(
        &self,
        key: &str,
        manifest: &Manifest,
        entry: &StripeEntry,
        shards: &[usize],
        cells: &mut [Option<Cell>],
        bad: &mut Vec<Damage>,
    ) {
        for (shard, result) in self.fetch_shards(key, manifest, entry, shards) {
            match result {
                Ok(cell) => cells[shard] = Some(cell),
                Err(kind) => bad.push(shard_damage(manifest, entry, shard, kind)),
            }
        }
    }
}
