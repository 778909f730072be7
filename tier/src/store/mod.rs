//! [`Tier`]: the erasure-coded store over a set of tier directories.
//!
//! Writes (append, truncate, delete, repair, orphan collection) take
//! `&mut self`: one writer, so no two commits race on a manifest. Reads,
//! scrubs and status take `&self` and may run from several threads.

mod append;
mod fetch;
mod files;
mod manifests;
mod orphans;
mod read;
mod remove;
mod repair;
mod scrub;
mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::codec::StripeCodec;
use crate::config::{ConfigError, TierConfig};
use crate::damage::Damage;
use crate::format::manifest::Manifest;
use crate::fs::TierFs;

pub use append::AppendReport;
pub use orphans::OrphanReport;
pub use read::ReadOutcome;
pub use remove::RemoveReport;
pub use repair::{RepairEvent, RepairReport};
pub use scrub::{Scope, ScrubEvent, ScrubReport};
pub use status::{DirStatus, TierStatus};

/// Erasure-coded storage of immutable segment data over tier directories.
pub struct Tier<F: TierFs> {
    dirs: Vec<F>,
    config: TierConfig,
    /// Manifests loaded or written, by segment key. Valid because this tier
    /// is the directories' only writer.
    cache: Mutex<HashMap<String, Arc<Manifest>>>,
    codec: Mutex<StripeCodec>,
    /// Damage found per directory since the tier was opened.
    damage_found: Mutex<Vec<u64>>,
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every
/// critical section here is a single insert, lookup or counter update).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<F: TierFs> Tier<F> {
    /// A tier over `dirs`, one per failure domain, in a fixed order (a
    /// directory's index is how manifests name it). Does no I/O: directories
    /// that are down make themselves known when used.
    pub fn open(dirs: Vec<F>, config: TierConfig) -> Result<Self, ConfigError> {
        config.check(dirs.len())?;
        let count = dirs.len();
        Ok(Self {
            dirs,
            config,
            cache: Mutex::new(HashMap::new()),
            codec: Mutex::new(StripeCodec::new()),
            damage_found: Mutex::new(vec![0; count]),
        })
    }

    pub fn config(&self) -> &TierConfig {
        &self.config
    }

    pub fn dirs(&self) -> &[F] {
        &self.dirs
    }

    /// Gives the directories back.
    pub fn into_dirs(self) -> Vec<F> {
        self.dirs
    }

    fn note_damage_counts(&self, per_dir: &[u64]) {
        let mut counts = lock(&self.damage_found);
        for (count, found) in counts.iter_mut().zip(per_dir) {
            *count += found;
        }
    }

    /// Counts damage against the directories it was found in.
    fn note_damage(&self, damage: &[Damage]) {
        let mut counts = lock(&self.damage_found);
        for d in damage {
            if let Some(count) = counts.get_mut(d.dir) {
                *count += 1;
            }
        }
    }
}

/// Checks a segment name the tier is asked to store.
fn check_name(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("empty");
    }
    if segment.len() > crate::format::geometry::MAX_NAME_BYTES {
        return Err("longer than 255 bytes");
    }
    Ok(())
}
