//! Status: what each directory holds by the manifests, and the damage found
//! in it since the tier was opened.

use super::{Tier, lock};
use crate::damage::Damage;
use crate::error::ManifestError;
use crate::fs::TierFs;

/// One directory's share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirStatus {
    pub dir: usize,
    /// Shards it should hold (one per stripe at most).
    pub stripes: u64,
    /// Bytes of those shard files.
    pub bytes: u64,
    /// Damage found in it by reads, scrubs and manifest loads since open.
    pub damage_found: u64,
    /// Whether it could be listed just now.
    pub reachable: bool,
}

/// The tier as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierStatus {
    pub segments: u64,
    pub stripes: u64,
    /// Segment bytes stored (before coding).
    pub data_bytes: u64,
    pub dirs: Vec<DirStatus>,
    /// Segments whose state could not be read, and unlisted directories.
    pub problems: Vec<Damage>,
}

impl<F: TierFs> Tier<F> {
    pub fn status(&self) -> TierStatus {
        let (keys, mut problems) = self.segment_keys();
        let mut status = TierStatus {
            dirs: (0..self.dirs.len())
                .map(|dir| DirStatus {
                    dir,
                    reachable: !problems.iter().any(|p| p.dir == dir),
                    ..DirStatus::default()
                })
                .collect(),
            ..TierStatus::default()
        };
        for key in keys {
            let manifest = match self.manifest_by_key(&key) {
                Ok(Some(manifest)) if !manifest.deleted => manifest,
                Ok(_) | Err(ManifestError::Collision { .. }) => continue,
                Err(ManifestError::NoValidCopy { damage, .. }) => {
                    problems.extend(damage);
                    continue;
                }
            };
            status.segments += 1;
            for entry in &manifest.stripes {
                status.stripes += 1;
                status.data_bytes += u64::from(entry.data_len);
                for &dir in &entry.dirs {
                    if let Some(d) = status.dirs.get_mut(usize::from(dir)) {
                        d.stripes += 1;
                        d.bytes += entry.shard_file_len();
                    }
                }
            }
        }
        for (d, found) in status.dirs.iter_mut().zip(lock(&self.damage_found).iter()) {
            d.damage_found = *found;
        }
        status.problems = problems;
        status
    }
}
