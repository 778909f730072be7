//! Orphan collection: remove the files no manifest names. They come from
//! commits that failed or crashed before their manifest, and from removals
//! that crashed before their files went.
//!
//! Conservative by construction: a shard file is removed only when its
//! segment's manifest was read and does not name it, or when no directory
//! has any copy of that manifest and every directory could be read.

use std::collections::BTreeSet;

use super::Tier;
use crate::error::ManifestError;
use crate::format::names::{FileKind, classify};
use crate::fs::TierFs;

/// What orphan collection did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrphanReport {
    pub removed: u64,
    /// Files kept because their segment's state could not be read.
    pub kept_unsure: u64,
    /// Files that are not the tier's, left alone: (directory, name).
    pub unknown: Vec<(usize, String)>,
    /// Directories that could not be listed.
    pub unlisted_dirs: Vec<usize>,
    /// Removals that failed.
    pub failed: u64,
}

impl<F: TierFs> Tier<F> {
    /// Removes temporary files and shard files that no manifest names.
    pub fn collect_orphans(&mut self) -> OrphanReport {
        let mut report = OrphanReport::default();
        let mut listings = Vec::with_capacity(self.dirs.len());
        for (dir, fs) in self.dirs.iter().enumerate() {
            match fs.list() {
                Ok(names) => listings.push(Some(names)),
                Err(_) => {
                    report.unlisted_dirs.push(dir);
                    listings.push(None);
                }
            }
        }
        // With a directory unlisted, "no copy anywhere" cannot be known.
        let all_listed = report.unlisted_dirs.is_empty();
        let mut touched = BTreeSet::new();
        for (dir, names) in listings.into_iter().enumerate() {
            let Some(names) = names else { continue };
            for name in names {
                let orphan = match classify(&name) {
                    FileKind::Temporary => true,
                    FileKind::Manifest { .. } => false,
                    FileKind::Unknown => {
                        report.unknown.push((dir, name));
                        continue;
                    }
                    FileKind::Shard { key, stripe, shard } => match self.manifest_by_key(&key) {
                        Ok(Some(manifest)) => !manifest.stripes.iter().any(|e| {
                            e.stripe == stripe
                                && e.dirs.get(usize::from(shard)) == Some(&(dir as u8))
                        }),
                        Ok(None) if all_listed => true,
                        Ok(None) | Err(ManifestError::NoValidCopy { .. }) => {
                            report.kept_unsure += 1;
                            false
                        }
                        Err(ManifestError::Collision { .. }) => false,
                    },
                };
                if orphan {
                    match self.dirs[dir].remove(&name) {
                        Ok(()) => {
                            report.removed += 1;
                            touched.insert(dir);
                        }
                        Err(_) => report.failed += 1,
                    }
                }
            }
        }
        for dir in touched {
            let _ = self.dirs[dir].sync_dir();
        }
        report
    }
}
