//! Metadata checkpoints: the state of a core's containers as one journal
//! checkpoint record, so recovery replays only what follows it.
//!
//! A snapshot holds metadata, and segment data only for the segments kept in
//! memory (the controller's metadata logs, [`super::kept_in_memory`]): their
//! chunks are copied in whole, so they never hold the journal back. Every
//! other chunk stays where it is, in the journal, named by the record that
//! carries it (the same [`JournalData`] the read cache evicts to), and a
//! restored container starts with those chunks evicted. The journal keeps
//! those records because the node releases only below the oldest record
//! any chunk names (see [`Snapshot::oldest_lsn`]).
//!
//! The format (all integers little-endian), version 3:
//!
//! ```text
//! checkpoint := version:u8=1  count:u32  container*count
//! container  := id:u32  last_seq:u64  segments:u32  segment*segments
//! segment    := name_len:u8 name  sealed:u8(0|1)  created_ms:u64  start_offset:u64
//!               length:u64  last_seq:u64
//!               attributes:u32 (key:u128 value:i64)*  writers:u32 (id:u128 last:i64)*
//!               chunks:u32 chunk*
//! chunk      := offset:u64 len:u64 kind:u8
//!               kind 1 (in the journal): lsn:u64 file_seq:u64 file_offset:u64 payload_len:u32
//!               kind 2 (inline): the chunk's len bytes
//!               kind 3 (in a hot chunk file, version 3): file:u64 file_offset:u64
//!                 len:u32 crc:u32
//! ```
//!
//! Version 1 (every chunk in the journal, no kind byte) and version 2 (no
//! hot chunks) are still read.
//!
//! The bytes come from disk: decoding checks every bound and returns a typed
//! [`SnapshotError`]; restoring checks that chunks tile each segment.

mod decode;
mod encode;

pub use decode::{SnapshotError, decode_checkpoint};
pub use encode::encode_checkpoint;

use super::chunks::{HotData, JournalData};
use super::types::{ContainerId, MutationSeq};

/// A chunk kind byte: the bytes are in a journal record.
const CHUNK_IN_JOURNAL: u8 = 1;
/// A chunk kind byte: the bytes follow.
const CHUNK_INLINE: u8 = 2;
/// A chunk kind byte: the bytes are in a hot chunk file (version 3).
const CHUNK_IN_HOT_FILE: u8 = 3;

/// The checkpoint format version this build writes (it reads 1 and 2 too).
pub const SNAPSHOT_VERSION: u8 = 3;

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

/// A chunk of segment data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    pub offset: u64,
    pub len: u64,
    pub source: ChunkSource,
}

/// Where a checkpointed chunk's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkSource {
    /// In the journal record that holds them.
    Journal(JournalData),
    /// In the checkpoint itself (a segment kept in memory).
    Inline(bytes::Bytes),
    /// In a hot chunk file (flushed out of the journal).
    Hot(HotData),
}

impl Snapshot {
    /// The oldest journal record a chunk of this snapshot names, if any.
    pub fn oldest_lsn(&self) -> Option<u64> {
        self.segments
            .iter()
            .flat_map(|s| s.chunks.iter())
            .filter_map(|c| match &c.source {
                ChunkSource::Journal(at) => Some(at.location.lsn),
                ChunkSource::Inline(_) | ChunkSource::Hot(_) => None,
            })
            .min()
    }
}
