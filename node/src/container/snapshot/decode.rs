//! Checkpoint bytes → snapshots, checking every bound.

use spate_journal::RecordLocation;
use spate_wire::validate_segment_name;
use thiserror::Error;

use super::{
    CHUNK_IN_HOT_FILE, CHUNK_IN_JOURNAL, CHUNK_INLINE, ChunkRef, ChunkSource, SNAPSHOT_VERSION,
    SegmentSnapshot, Snapshot,
};
use crate::container::chunks::{HotData, JournalData};
use crate::le_reader::{LeReader as Reader, ShortRead};

/// Why checkpoint bytes (or a snapshot) cannot be restored.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("checkpoint of {len} bytes ends inside a field: {needed} bytes needed at byte {at}")]
    Truncated {
        at: usize,
        needed: usize,
        len: usize,
    },
    #[error("checkpoint format version {0} is unknown (this build reads 1 to {SNAPSHOT_VERSION})")]
    UnknownVersion(u8),
    #[error("checkpoint: segment name at byte {at} is invalid")]
    BadName { at: usize },
    #[error("checkpoint: a flag at byte {at} is {value}, not 0 or 1")]
    BadFlag { at: usize, value: u8 },
    #[error("checkpoint: a count of {count} at byte {at} exceeds what the bytes can hold")]
    BadCount { at: usize, count: u32 },
    #[error("checkpoint: chunk kind {kind} at byte {at} is unknown")]
    BadChunkKind { at: usize, kind: u8 },
    #[error("{0} bytes follow the end of the checkpoint")]
    TrailingBytes(usize),
    #[error("checkpoint: segment {segment:?}: {problem}")]
    Inconsistent { segment: String, problem: String },
    #[error("checkpoint names container {found}, expected {expected}")]
    WrongContainer { expected: u32, found: u32 },
}

/// Decodes a checkpoint record.
pub fn decode_checkpoint(bytes: &[u8]) -> Result<Vec<Snapshot>, SnapshotError> {
    let mut r = Reader::new(bytes);
    let version = r.u8()?;
    if !(1..=SNAPSHOT_VERSION).contains(&version) {
        return Err(SnapshotError::UnknownVersion(version));
    }
    let count = read_count(&mut r, 4 + 8 + 4)?;
    let mut snapshots = Vec::with_capacity(count);
    for _ in 0..count {
        let container = r.u32()?;
        let last_seq = r.u64()?;
        let segments = read_count(&mut r, SEGMENT_MIN_BYTES)?;
        let mut list = Vec::with_capacity(segments);
        for _ in 0..segments {
            list.push(read_segment(&mut r, version)?);
        }
        snapshots.push(Snapshot {
            container,
            last_seq,
            segments: list,
        });
    }
    match r.remaining() {
        0 => Ok(snapshots),
        extra => Err(SnapshotError::TrailingBytes(extra)),
    }
}

/// The smallest encoded segment: a 1-byte name, no attributes, writers or chunks.
const SEGMENT_MIN_BYTES: usize = 2 + 1 + 32 + 12;
/// The smallest encoded chunk: version 1's fixed size, or version 2's
/// inline chunk of one byte.
const CHUNK_V1_BYTES: usize = 44;
const CHUNK_V2_MIN_BYTES: usize = 18;

fn read_segment(r: &mut Reader<'_>, version: u8) -> Result<SegmentSnapshot, SnapshotError> {
    let name = read_name(r)?;
    let sealed = read_flag(r)?;
    let (created_ms, start_offset, length, last_seq) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
    let attributes = (0..read_count(r, 24)?)
        .map(|_| Ok((r.u128()?, r.i64()?)))
        .collect::<Result<_, SnapshotError>>()?;
    let writers = (0..read_count(r, 24)?)
        .map(|_| Ok((r.u128()?, r.i64()?)))
        .collect::<Result<_, SnapshotError>>()?;
    let chunk_min = if version == 1 {
        CHUNK_V1_BYTES
    } else {
        CHUNK_V2_MIN_BYTES
    };
    let chunks = (0..read_count(r, chunk_min)?)
        .map(|_| read_chunk(r, version))
        .collect::<Result<_, SnapshotError>>()?;
    Ok(SegmentSnapshot {
        name,
        sealed,
        created_ms,
        start_offset,
        length,
        last_seq,
        attributes,
        writers,
        chunks,
    })
}

fn read_chunk(r: &mut Reader<'_>, version: u8) -> Result<ChunkRef, SnapshotError> {
    let (offset, len) = (r.u64()?, r.u64()?);
    let at = r.pos();
    let kind = if version == 1 {
        CHUNK_IN_JOURNAL
    } else {
        r.u8()?
    };
    let source = match kind {
        CHUNK_IN_JOURNAL => {
            let (lsn, file_seq, file_offset) = (r.u64()?, r.u64()?, r.u64()?);
            let payload_len = r.u32()?;
            ChunkSource::Journal(JournalData {
                location: RecordLocation {
                    lsn,
                    file_seq,
                    offset: file_offset,
                },
                payload_len,
            })
        }
        CHUNK_IN_HOT_FILE if version >= 3 => ChunkSource::Hot(HotData {
            file: r.u64()?,
            file_offset: r.u64()?,
            len: r.u32()?,
            crc: r.u32()?,
        }),
        CHUNK_INLINE => {
            // `take` checks the length against the bytes left: a corrupt
            // length never allocates.
            let len = usize::try_from(len).map_err(|_| SnapshotError::BadCount {
                at,
                count: u32::MAX,
            })?;
            ChunkSource::Inline(bytes::Bytes::copy_from_slice(r.take(len)?))
        }
        kind => return Err(SnapshotError::BadChunkKind { at, kind }),
    };
    Ok(ChunkRef {
        offset,
        len,
        source,
    })
}

impl From<ShortRead> for SnapshotError {
    fn from(short: ShortRead) -> Self {
        SnapshotError::Truncated {
            at: short.at,
            needed: short.needed,
            len: short.len,
        }
    }
}

fn read_flag(r: &mut Reader<'_>) -> Result<bool, SnapshotError> {
    let at = r.pos();
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(SnapshotError::BadFlag { at, value }),
    }
}

/// A count of items of at least `item_bytes` each: never more than the
/// remaining bytes could hold, so a corrupt count cannot allocate.
fn read_count(r: &mut Reader<'_>, item_bytes: usize) -> Result<usize, SnapshotError> {
    let at = r.pos();
    let count = r.u32()?;
    if count as usize > r.remaining() / item_bytes {
        return Err(SnapshotError::BadCount { at, count });
    }
    Ok(count as usize)
}

fn read_name(r: &mut Reader<'_>) -> Result<String, SnapshotError> {
    let len = r.u8()? as usize;
    let at = r.pos();
    let bytes = r.take(len)?;
    let name = std::str::from_utf8(bytes).map_err(|_| SnapshotError::BadName { at })?;
    validate_segment_name(name).map_err(|_| SnapshotError::BadName { at })?;
    Ok(name.to_owned())
}
