//! Metadata checkpoints: the state of a core's containers as one journal
//! checkpoint record, so recovery replays only what follows it.
//!
//! A snapshot holds metadata only. Segment data stays where it is, in the
//! journal: each chunk is named by the record that carries it (the same
//! [`JournalData`] the read cache evicts to), and a restored container
//! starts with every chunk evicted. The journal keeps those records because
//! the node releases only below the oldest record any chunk names (see
//! [`Snapshot::oldest_lsn`]).
//!
//! The format (all integers little-endian), version 1:
//!
//! ```text
//! checkpoint := version:u8=1  count:u32  container*count
//! container  := id:u32  last_seq:u64  segments:u32  segment*segments
//! segment    := name_len:u8 name  sealed:u8(0|1)  created_ms:u64  start_offset:u64
//!               length:u64  last_seq:u64
//!               attributes:u32 (key:u128 value:i64)*  writers:u32 (id:u128 last:i64)*
//!               chunks:u32 (offset:u64 len:u64 lsn:u64 file_seq:u64 file_offset:u64
//!                           payload_len:u32)*
//! ```
//!
//! The bytes come from disk: decoding checks every bound and returns a typed
//! [`SnapshotError`]; restoring checks that chunks tile each segment.

mod decode;
mod encode;

pub use decode::{SnapshotError, decode_checkpoint};
pub use encode::encode_checkpoint;

use super::chunks::JournalData;
use super::types::{ContainerId, MutationSeq};

/// The checkpoint format version this build writes and reads.
pub const SNAPSHOT_VERSION: u8 = 1;

/// One container's state at a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub container: ContainerId,
    /// The seq of the last mutation the snapshot includes.
    pub last_seq: MutationSeq,
    pub segments: Vec<SegmentSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSnapshot {
    pub name: String,
    pub sealed: bool,
    pub created_ms: u64,
    pub start_offset: u64,
    pub length: u64,
    pub last_seq: MutationSeq,
    pub attributes: Vec<(u128, i64)>,
    pub writers: Vec<(u128, i64)>,
    pub chunks: Vec<ChunkRef>,
}

/// A chunk of segment data, by the journal record that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    pub offset: u64,
    pub len: u64,
    pub source: JournalData,
}

impl Snapshot {
    /// The oldest journal record a chunk of this snapshot names, if any.
    pub fn oldest_lsn(&self) -> Option<u64> {
        self.segments
            .iter()
            .flat_map(|s| s.chunks.iter())
            .map(|c| c.source.location.lsn)
            .min()
    }
}
