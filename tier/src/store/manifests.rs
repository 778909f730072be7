//! Manifest copies: one per directory, the highest valid generation wins.
//!
//! Loading reads every copy, so a lost or damaged directory costs nothing but
//! a damage report. Storing writes a temporary copy in every directory and
//! syncs it, and only then renames each into place: a full or failing
//! directory stops the commit before any copy changes. The commit point is
//! the first directory whose rename is confirmed by a directory sync.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::files::{sync_dir, write_tmp};
use super::{Tier, lock};
use crate::damage::{Damage, DamageKind, Place};
use crate::error::{CommitError, FsError, ManifestError};
use crate::format::FormatError;
use crate::format::manifest::{MAX_MANIFEST_BYTES, Manifest};
use crate::format::names::{FileKind, classify, manifest_file, segment_key};
use crate::fs::{TierFs, read_full};

/// What each directory holds of one segment's manifest.
pub(super) struct Copies {
    pub best: Option<Manifest>,
    /// Per directory: the generation of a valid copy, or what is wrong.
    pub states: Vec<Result<u64, DamageKind>>,
}

impl Copies {
    /// Damage of every copy that is not the best one, `Missing` included.
    pub fn damage(&self, segment: &str) -> Vec<Damage> {
        let current = self.best.as_ref().map_or(0, |m| m.generation);
        let mut damage = Vec::new();
        for (dir, state) in self.states.iter().enumerate() {
            let kind = match state {
                Ok(generation) if *generation == current => continue,
                Ok(generation) => DamageKind::Stale {
                    generation: *generation,
                    current,
                },
                Err(kind) => kind.clone(),
            };
            damage.push(Damage {
                dir,
                segment: segment.to_owned(),
                place: Place::Manifest,
                kind,
            });
        }
        damage
    }
}

/// How a stored manifest fared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreOutcome {
    /// Directories whose copy could not be updated after the commit point.
    /// Their copies are stale until repaired; the others carry the state.
    pub stale_dirs: Vec<usize>,
}

impl<F: TierFs> Tier<F> {
    /// Reads one directory's copy.
    fn read_copy(&self, dir: usize, file: &str) -> Result<Manifest, DamageKind> {
        let fs = &self.dirs[dir];
        let len = match fs.file_len(file) {
            Ok(len) => len,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(DamageKind::Missing),
            Err(e) => return Err(DamageKind::Unreadable(e.kind())),
        };
        if len > MAX_MANIFEST_BYTES as u64 {
            return Err(DamageKind::BadHeader(FormatError::BadField {
                what: "manifest",
                field: "total_len",
            }));
        }
        let mut bytes = vec![0u8; len as usize];
        let n = read_full(fs, file, 0, &mut bytes).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DamageKind::Missing,
            kind => DamageKind::Unreadable(kind),
        })?;
        bytes.truncate(n);
        Manifest::decode(&bytes).map_err(DamageKind::BadHeader)
    }

    /// Reads every copy of the manifest of the segment with key `key`.
    pub(super) fn read_copies(&self, key: &str) -> Copies {
        let file = manifest_file(key);
        let mut best: Option<Manifest> = None;
        let mut states = Vec::with_capacity(self.dirs.len());
        for dir in 0..self.dirs.len() {
            match self.read_copy(dir, &file) {
                Ok(manifest) => {
                    states.push(Ok(manifest.generation));
                    if best
                        .as_ref()
                        .is_none_or(|b| manifest.generation > b.generation)
                    {
                        best = Some(manifest);
                    }
                }
                Err(kind) => states.push(Err(kind)),
            }
        }
        Copies { best, states }
    }

    /// The manifest of the segment with key `key`: `None` if no directory
    /// has a copy.
    pub(super) fn manifest_by_key(
        &self,
        key: &str,
    ) -> Result<Option<Arc<Manifest>>, ManifestError> {
        if let Some(manifest) = lock(&self.cache).get(key) {
            return Ok(Some(Arc::clone(manifest)));
        }
        let copies = self.read_copies(key);
        let Some(best) = copies.best.as_ref() else {
            let damage: Vec<Damage> = copies
                .damage(key)
                .into_iter()
                .filter(|d| d.kind != DamageKind::Missing)
                .collect();
            if damage.is_empty() {
                return Ok(None);
            }
            self.note_damage(&damage);
            return Err(ManifestError::NoValidCopy {
                segment: key.to_owned(),
                damage,
            });
        };
        let damage = copies.damage(&best.segment);
        self.note_damage(&damage);
        let manifest = Arc::new(best.clone());
        lock(&self.cache).insert(key.to_owned(), Arc::clone(&manifest));
        Ok(Some(manifest))
    }

    /// The manifest of `segment`, tombstones included.
    pub(super) fn manifest_of(
        &self,
        segment: &str,
    ) -> Result<Option<Arc<Manifest>>, ManifestError> {
        let manifest = self.manifest_by_key(&segment_key(segment))?;
        if let Some(m) = &manifest
            && m.segment != segment
        {
            return Err(ManifestError::Collision {
                segment: segment.to_owned(),
                other: m.segment.clone(),
            });
        }
        Ok(manifest)
    }

    /// The manifest of `segment` as readers see it (not deleted).
    pub fn manifest(&self, segment: &str) -> Result<Option<Arc<Manifest>>, ManifestError> {
        Ok(self.manifest_of(segment)?.filter(|m| !m.deleted))
    }

    /// The keys of every segment with a manifest copy in some directory, and
    /// the directories that could not be listed.
    pub(super) fn segment_keys(&self) -> (BTreeSet<String>, Vec<Damage>) {
        let mut keys = BTreeSet::new();
        let mut damage = Vec::new();
        for (dir, fs) in self.dirs.iter().enumerate() {
            match fs.list() {
                Ok(names) => {
                    for name in names {
                        if let FileKind::Manifest { key } = classify(&name) {
                            keys.insert(key);
                        }
                    }
                }
                Err(e) => damage.push(Damage {
                    dir,
                    segment: String::new(),
                    place: Place::Directory,
                    kind: DamageKind::Unreadable(e.kind()),
                }),
            }
        }
        (keys, damage)
    }

    /// The names of the segments in the tier (deleted ones left out), and
    /// the damage that hid any.
    pub fn segments(&self) -> (Vec<String>, Vec<Damage>) {
        let (keys, mut damage) = self.segment_keys();
        let mut names = Vec::new();
        for key in keys {
            match self.manifest_by_key(&key) {
                Ok(Some(m)) if !m.deleted => names.push(m.segment.clone()),
                Ok(_) => {}
                Err(ManifestError::NoValidCopy { damage: d, .. }) => damage.extend(d),
                Err(ManifestError::Collision { .. }) => {}
            }
        }
        (names, damage)
    }

    /// Commits `manifest` as the state of the segment with key `key`.
    pub(super) fn store_manifest(
        &mut self,
        key: &str,
        manifest: Manifest,
    ) -> Result<StoreOutcome, CommitError> {
        let bytes = manifest.encode();
        let file = manifest_file(key);
        let mut tmps = Vec::with_capacity(self.dirs.len());
        for (dir, fs) in self.dirs.iter().enumerate() {
            match write_tmp(dir, fs, &file, &[(0, &bytes)]) {
                Ok(tmp) => tmps.push(tmp),
                Err(error) => {
                    for (fs, tmp) in self.dirs.iter().zip(&tmps) {
                        let _ = fs.remove(tmp);
                    }
                    return Err(CommitError::from_fs(error));
                }
            }
        }
        let mut outcome = StoreOutcome::default();
        let mut first_error: Option<FsError> = None;
        let mut renamed = false;
        let mut committed = false;
        for ((dir, fs), tmp) in self.dirs.iter().enumerate().zip(&tmps) {
            if let Err(e) = fs.rename(tmp, &file) {
                let _ = fs.remove(tmp);
                first_error.get_or_insert(FsError::new(dir, "rename", tmp, &e));
                outcome.stale_dirs.push(dir);
                continue;
            }
            renamed = true;
            match sync_dir(dir, fs) {
                Ok(()) => committed = true,
                Err(error) => {
                    first_error.get_or_insert(error);
                    outcome.stale_dirs.push(dir);
                }
            }
        }
        let mut cache = lock(&self.cache);
        if committed {
            cache.insert(key.to_owned(), Arc::new(manifest));
            return Ok(outcome);
        }
        cache.remove(key);
        let error = first_error.expect("no directory committed, so one failed");
        if renamed {
            Err(CommitError::Indeterminate(error))
        } else {
            Err(CommitError::from_fs(error))
        }
    }
}
