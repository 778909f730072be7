//! Scrub: read every cell and every manifest copy, verify them, report what
//! is damaged. Reads only; `repair` fixes.

use super::fetch::{Cell, shard_damage};
use super::{Tier, lock};
use crate::damage::{Damage, DamageKind};
use crate::error::{ManifestError, ScrubError};
use crate::format::manifest::{Manifest, StripeEntry};
use crate::format::names::segment_key;
use crate::fs::TierFs;
use crate::pace::Pacer;

/// Damage listed in a report at most (the count goes on).
pub const MAX_LISTED_DAMAGE: usize = 1000;

/// What to scrub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    All,
    Segment(&'a str),
}

/// Progress, as it happens (for progress bars and logs).
#[derive(Clone, Copy, Debug)]
pub enum ScrubEvent<'a> {
    /// A stripe was verified (`bytes`: shard bytes read).
    Stripe {
        segment: &'a str,
        stripe: u64,
        bytes: u64,
    },
    Damage(&'a Damage),
    /// More shards of a stripe are damaged than its parity covers.
    Unrecoverable {
        segment: &'a str,
        stripe: u64,
    },
}

/// What a scrub found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrubReport {
    pub segments: u64,
    pub stripes: u64,
    /// Shard bytes read.
    pub bytes: u64,
    /// Damage found, all of it counted.
    pub damage_count: u64,
    /// The first [`MAX_LISTED_DAMAGE`] of it.
    pub damage: Vec<Damage>,
    /// Damage found per directory index.
    pub damage_per_dir: Vec<u64>,
    /// Stripes beyond repair: (segment, stripe).
    pub unrecoverable: Vec<(String, u64)>,
}

impl ScrubReport {
    fn add(&mut self, damage: Damage, observe: &mut dyn FnMut(ScrubEvent<'_>)) {
        observe(ScrubEvent::Damage(&damage));
        self.damage_count += 1;
        if self.damage_per_dir.len() <= damage.dir {
            self.damage_per_dir.resize(damage.dir + 1, 0);
        }
        self.damage_per_dir[damage.dir] += 1;
        if self.damage.len() < MAX_LISTED_DAMAGE {
            self.damage.push(damage);
        }
    }
}

impl<F: TierFs> Tier<F> {
    /// Verifies every cell and manifest copy in `scope`, reading at most
    /// `bytes_per_s` (`None`: unlimited).
    pub fn scrub(
        &self,
        scope: Scope<'_>,
        bytes_per_s: Option<u64>,
        observe: &mut dyn FnMut(ScrubEvent<'_>),
    ) -> Result<ScrubReport, ScrubError> {
        let mut report = ScrubReport::default();
        let mut pacer = Pacer::new(bytes_per_s);
        let keys = match scope {
            Scope::Segment(segment) => {
                if self.manifest(segment)?.is_none() {
                    return Err(ScrubError::NotFound {
                        segment: segment.to_owned(),
                    });
                }
                vec![segment_key(segment)]
            }
            Scope::All => {
                let (keys, damage) = self.segment_keys();
                for d in damage {
                    report.add(d, observe);
                }
                keys.into_iter().collect()
            }
        };
        for key in keys {
            let manifest = match self.manifest_by_key(&key) {
                Ok(Some(manifest)) => manifest,
                Ok(None) => continue,
                Err(ManifestError::NoValidCopy { damage, .. }) => {
                    for d in damage {
                        report.add(d, observe);
                    }
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            report.segments += 1;
            for d in self.read_copies(&key).damage(&manifest.segment) {
                report.add(d, observe);
            }
            for entry in &manifest.stripes {
                self.scrub_stripe(&key, &manifest, entry, &mut pacer, &mut report, observe);
            }
        }
        report.damage_per_dir.resize(self.dirs.len(), 0);
        self.note_damage_counts(&report.damage_per_dir);
        Ok(report)
    }

    fn scrub_stripe(
        &self,
        key: &str,
        manifest: &Manifest,
        entry: &StripeEntry,
        pacer: &mut Pacer,
        report: &mut ScrubReport,
        observe: &mut dyn FnMut(ScrubEvent<'_>),
    ) {
        let shards = entry.geometry.shards();
        let bytes = shards as u64 * entry.shard_file_len();
        pacer.admit(bytes);
        let all: Vec<usize> = (0..shards).collect();
        let mut cells: Vec<Option<Cell>> = (0..shards).map(|_| None).collect();
        for (shard, result) in self.fetch_shards(key, manifest, entry, &all) {
            match result {
                Ok(cell) => cells[shard] = Some(cell),
                Err(kind) => report.add(shard_damage(manifest, entry, shard, kind), observe),
            }
        }
        report.stripes += 1;
        report.bytes += bytes;
        observe(ScrubEvent::Stripe {
            segment: &manifest.segment,
            stripe: entry.stripe,
            bytes,
        });
        let k = usize::from(entry.geometry.k);
        if cells.iter().filter(|c| c.is_some()).count() < k {
            observe(ScrubEvent::Unrecoverable {
                segment: &manifest.segment,
                stripe: entry.stripe,
            });
            report
                .unrecoverable
                .push((manifest.segment.clone(), entry.stripe));
            return;
        }
        // Checksums prove each cell is what was written; this proves what
        // was written is a codeword (a writer bug would pass the checksums).
        if cells[..k].iter().all(Option::is_some) {
            let data: Vec<&[u8]> = cells[..k].iter().flatten().map(Cell::bytes).collect();
            let mut parity = Vec::new();
            lock(&self.codec).encode(
                entry.geometry,
                entry.cell_len() as usize,
                &data,
                &mut parity,
            );
            for (p, expected) in parity.iter().enumerate() {
                if let Some(cell) = &cells[k + p]
                    && cell.bytes() != expected.as_slice()
                {
                    let d = shard_damage(manifest, entry, k + p, DamageKind::ParityMismatch);
                    report.add(d, observe);
                }
            }
        }
    }
}
