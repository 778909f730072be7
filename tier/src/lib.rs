//! Spate's erasure-coded long-term storage.
//!
//! Immutable segment data is cut into stripes of k data cells and m parity
//! cells (reed-solomon-simd; default 4+2 with 1 MiB cells), one shard file
//! per tier directory, each directory a failure domain (an HDD mount, an NFS
//! export), rotating which directory holds which shard from stripe to stripe.
//! Every cell has a CRC32C bound to its identity (segment, offset, stripe,
//! shard). A per-segment manifest, copied to every directory, commits stripes
//! only after all their shards are durable.
//!
//! Reads verify every cell and reconstruct around up to m damaged shards per
//! stripe, reporting the damage; past m they fail with
//! [`ReadError::Unrecoverable`], never with wrong bytes. [`Tier::scrub`]
//! verifies everything at a rate limit; [`Tier::repair`] rebuilds a directory.
//!
//! All I/O goes through [`TierFs`], one per directory: [`fs::real::RealDir`]
//! on a real file system, [`fs::sim::SimFs`] simulated with power cuts and
//! faults. Formats and the commit order: `docs/tier.md`.

pub mod codec;
pub mod config;
pub mod damage;
pub mod error;
pub mod format;
pub mod fs;
pub mod fuzz;
pub mod pace;
mod store;

pub use config::{ConfigError, TierConfig};
pub use damage::{Damage, DamageKind, Place};
pub use error::{CommitError, FsError, ManifestError, ReadError, RepairError, ScrubError};
pub use format::manifest::{Manifest, StripeEntry};
pub use fs::TierFs;
pub use store::{
    AppendReport, DirStatus, OrphanReport, ReadOutcome, RemoveReport, RepairEvent, RepairReport,
    Scope, ScrubEvent, ScrubReport, Tier, TierStatus,
};
