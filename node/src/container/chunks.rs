//! A segment's bytes: one chunk per append, in memory or read back from the
//! journal, addressed by segment offset.
//!
//! A chunk is the data of one append record. While resident its bytes are a
//! `Bytes` (the payloads as received, no copy on a single-event append);
//! once durable it also knows where its record lies in the journal, and may
//! then be evicted: the bytes are dropped and a read of that range becomes a
//! [`Piece::Journal`] that the runtime reads back from the journal file. A
//! merge moves chunks from one segment to another without touching data.
//!
//! The live view of a container keeps lengths only ([`Chunks::lengths_only`]):
//! it validates requests and never serves reads, and holding bytes there would
//! pin memory that eviction from the durable view must be able to free.

use std::collections::VecDeque;

use bytes::Bytes;
use spate_journal::RecordLocation;

use super::snapshot::{ChunkRef, ChunkSource};

mod flush;
pub use flush::FlushRun;

/// Where a chunk's bytes lie in the journal: the tail of the payload of the
/// append record at `location`, whose payload is `payload_len` bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalData {
    pub location: RecordLocation,
    pub payload_len: u32,
}

/// Where a flushed chunk's bytes lie in a hot chunk file: `len` bytes at
/// `file_offset` (a multiple of the file's block size) of file `file`, with
/// their CRC32C. The chunk is the whole of that range, so a read checks it
/// whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HotData {
    pub file: u64,
    pub file_offset: u64,
    pub len: u32,
    pub crc: u32,
}

/// Where a durable chunk's bytes can be read back from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// The append record that carried them (not flushed yet).
    Journal(JournalData),
    /// A hot chunk file (flushed: the journal no longer needs them).
    Hot(HotData),
}

/// A part of a read: bytes at hand, or a range to read back from a journal
/// record's payload or a hot chunk file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Memory(Bytes),
    Journal {
        at: JournalData,
        /// Offset of the range in the record's payload.
        start: u32,
        len: u32,
    },
    Hot {
        at: HotData,
        /// Offset of the range in the hot chunk.
        start: u32,
        len: u32,
    },
}

impl Piece {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> u64 {
        match self {
            Piece::Memory(bytes) => bytes.len() as u64,
            Piece::Journal { len, .. } | Piece::Hot { len, .. } => u64::from(*len),
        }
    }
}

/// One contiguous piece of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Chunk {
    /// Segment offset of the first byte.
    offset: u64,
    len: u64,
    resident: Option<Bytes>,
    source: Option<DataSource>,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.offset + self.len
    }

    fn resident_len(&self) -> u64 {
        self.resident.as_ref().map_or(0, |b| b.len() as u64)
    }

    fn evictable_len(&self) -> u64 {
        if self.source.is_some() {
            self.resident_len()
        } else {
            0
        }
    }
}

/// Memory a change gave back: all resident bytes, and those of them that
/// were evictable (they had a journal source).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Freed {
    pub resident: u64,
    pub evictable: u64,
}

impl Freed {
    fn add(&mut self, chunk: &Chunk) {
        self.resident += chunk.resident_len();
        self.evictable += chunk.evictable_len();
    }
}

/// The bytes of one segment between its start offset and its length.
///
/// Invariants: chunks are non-empty, contiguous and in offset order; the last
/// ends at `length`; the first starts at or below `start_offset` (a chunk is
/// dropped only when wholly below the start, so a partly truncated chunk
/// keeps its head until the start moves past it); a chunk without a source
/// is resident. In a lengths-only view there are no chunks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Chunks {
    start_offset: u64,
    length: u64,
    chunks: VecDeque<Chunk>,
    lengths_only: bool,
}

impl Chunks {
    /// A view that tracks offsets and lengths but holds no data.
    pub(crate) fn lengths_only() -> Self {
        Self {
            lengths_only: true,
            ..Self::default()
        }
    }

    pub(crate) fn start_offset(&self) -> u64 {
        self.start_offset
    }

    pub(crate) fn length(&self) -> u64 {
        self.length
    }

    /// Appends `bytes` at the end; returns the resident bytes added. Empty
    /// payloads change nothing (an empty chunk would break the "non-empty"
    /// invariant and hold nothing).
    pub(crate) fn push(&mut self, bytes: Bytes, source: Option<JournalData>) -> u64 {
        let len = bytes.len() as u64;
        if len == 0 {
            return 0;
        }
        let offset = self.length;
        self.length += len;
        if self.lengths_only {
            return 0;
        }
        self.chunks.push_back(Chunk {
            offset,
            len,
            resident: Some(bytes),
            source: source.map(DataSource::Journal),
        });
        len
    }

    /// Raises the start offset to `start` and drops every chunk wholly below
    /// it.
    pub(crate) fn truncate(&mut self, start: u64) -> Freed {
        assert!(
            self.start_offset < start && start <= self.length,
            "truncate to {start} outside ({}, {}]",
            self.start_offset,
            self.length
        );
        self.start_offset = start;
        let mut freed = Freed::default();
        while let Some(front) = self.chunks.front()
            && front.end() <= start
        {
            freed.add(front);
            self.chunks.pop_front();
        }
        freed
    }

    /// Everything this segment holds, for a delete.
    pub(crate) fn held(&self) -> Freed {
        let mut held = Freed::default();
        self.chunks.iter().for_each(|c| held.add(c));
        held
    }

    /// Appends all of `source` (which must start at offset 0) at the end,
    /// moving its chunks.
    pub(crate) fn append_all(&mut self, source: Chunks) {
        assert_eq!(source.start_offset, 0, "merging a truncated segment");
        let base = self.length;
        for mut chunk in source.chunks {
            chunk.offset += base;
            self.chunks.push_back(chunk);
        }
        self.length += source.length;
    }

    /// Whether the chunk starting at `offset` is resident and has a source.
    pub(crate) fn is_evictable(&self, offset: u64) -> bool {
        let at = self.chunks.partition_point(|c| c.offset < offset);
        self.chunks
            .get(at)
            .is_some_and(|c| c.offset == offset && c.source.is_some() && c.resident.is_some())
    }

    /// Drops the bytes of the chunk starting at `offset` if it is resident
    /// and can be read back from the journal. Returns the bytes freed.
    pub(crate) fn evict(&mut self, offset: u64) -> u64 {
        let at = self.chunks.partition_point(|c| c.offset < offset);
        match self.chunks.get_mut(at) {
            Some(chunk) if chunk.offset == offset && chunk.source.is_some() => {
                chunk.resident.take().map_or(0, |b| b.len() as u64)
            }
            _ => 0,
        }
    }

    /// Every chunk for a checkpoint: by its journal source, or, with
    /// `inline` (a segment kept in memory), its bytes. `None` if a chunk
    /// has neither (its data is in memory only and may not be inlined).
    pub(crate) fn refs(&self, inline: bool) -> Option<Vec<ChunkRef>> {
        self.chunks
            .iter()
            .map(|c| {
                let source = match (c.source, &c.resident) {
                    (Some(DataSource::Journal(at)), _) => ChunkSource::Journal(at),
                    (Some(DataSource::Hot(at)), _) => ChunkSource::Hot(at),
                    (None, Some(bytes)) if inline => ChunkSource::Inline(bytes.clone()),
                    _ => return None,
                };
                Some(ChunkRef {
                    offset: c.offset,
                    len: c.len,
                    source,
                })
            })
            .collect()
    }

    /// Rebuilds chunks from a checkpoint, all evicted (or none kept, for a
    /// lengths-only view). Checks the invariants: the bytes are input.
    pub(crate) fn from_refs(
        start_offset: u64,
        length: u64,
        refs: &[ChunkRef],
        lengths_only: bool,
    ) -> Result<Self, String> {
        if start_offset > length {
            return Err(format!("start offset {start_offset} past length {length}"));
        }
        let mut at = refs.first().map_or(length, |c| c.offset);
        if at > start_offset {
            return Err(format!(
                "data starts at {at}, after the start offset {start_offset}"
            ));
        }
        let mut chunks = VecDeque::with_capacity(if lengths_only { 0 } else { refs.len() });
        for chunk in refs {
            let (fits, room) = match &chunk.source {
                ChunkSource::Journal(at) => (
                    u64::from(at.payload_len) >= chunk.len,
                    at.payload_len as u64,
                ),
                ChunkSource::Inline(bytes) => (bytes.len() as u64 == chunk.len, bytes.len() as u64),
                ChunkSource::Hot(at) => (u64::from(at.len) == chunk.len, u64::from(at.len)),
            };
            if chunk.offset != at || chunk.len == 0 || !fits {
                return Err(format!(
                    "chunk at {} of {} bytes (source of {room}) does not follow {at}",
                    chunk.offset, chunk.len
                ));
            }
            at += chunk.len;
            if !lengths_only {
                let (resident, source) = match &chunk.source {
                    ChunkSource::Journal(at) => (None, Some(DataSource::Journal(*at))),
                    ChunkSource::Hot(at) => (None, Some(DataSource::Hot(*at))),
                    ChunkSource::Inline(bytes) => (Some(bytes.clone()), None),
                };
                chunks.push_back(Chunk {
                    offset: chunk.offset,
                    len: chunk.len,
                    resident,
                    source,
                });
            }
        }
        if at != length {
            return Err(format!("data ends at {at}, the length is {length}"));
        }
        Ok(Self {
            start_offset,
            length,
            chunks,
            lengths_only,
        })
    }

    /// Evicts evictable chunks, oldest first, until `bytes` are freed or
    /// none is left. Returns the bytes freed.
    pub(crate) fn evict_up_to(&mut self, bytes: u64) -> u64 {
        let mut freed = 0;
        for chunk in self.chunks.iter_mut().filter(|c| c.source.is_some()) {
            if freed >= bytes {
                break;
            }
            freed += chunk.resident.take().map_or(0, |b| b.len() as u64);
        }
        freed
    }

    /// The pieces holding up to `max` bytes from `offset`, across chunk
    /// boundaries. `offset` must lie in `[start_offset, length]`.
    pub(crate) fn read(&self, offset: u64, max: u64) -> Vec<Piece> {
        assert!(!self.lengths_only, "reads come from a view with data");
        assert!(
            self.start_offset <= offset && offset <= self.length,
            "read at {offset} outside [{}, {}]",
            self.start_offset,
            self.length
        );
        let end = offset + max.min(self.length - offset);
        let mut pieces = Vec::new();
        let first = self.chunks.partition_point(|c| c.end() <= offset);
        for chunk in self.chunks.range(first..) {
            if chunk.offset >= end {
                break;
            }
            let from = offset.max(chunk.offset) - chunk.offset;
            let to = end.min(chunk.end()) - chunk.offset;
            pieces.push(piece_of(chunk, from, to));
        }
        let total: u64 = pieces.iter().map(Piece::len).sum();
        assert_eq!(total, end - offset, "chunks not contiguous");
        pieces
    }
}

/// Bytes `from..to` of `chunk`.
fn piece_of(chunk: &Chunk, from: u64, to: u64) -> Piece {
    match (&chunk.resident, chunk.source) {
        (Some(bytes), _) => Piece::Memory(bytes.slice(from as usize..to as usize)),
        (None, Some(DataSource::Journal(at))) => {
            // The chunk's data is the tail of the record's payload.
            let data_start = u64::from(at.payload_len) - chunk.len;
            Piece::Journal {
                at,
                start: (data_start + from) as u32,
                len: (to - from) as u32,
            }
        }
        (None, Some(DataSource::Hot(at))) => Piece::Hot {
            at,
            start: from as u32,
            len: (to - from) as u32,
        },
        (None, None) => unreachable!("a chunk without a source is never evicted"),
    }
}

/// The bytes of resident pieces, concatenated (for tests and for reads that
/// need no journal).
pub fn resident_bytes(pieces: &[Piece]) -> Option<Vec<u8>> {
    // Sized once: a flush concatenates up to 2 MiB of small appends, and
    // growing by doubling copied it about twice over.
    let len = pieces
        .iter()
        .map(|piece| match piece {
            Piece::Memory(bytes) => bytes.len(),
            Piece::Journal { .. } | Piece::Hot { .. } => 0,
        })
        .sum();
    let mut out = Vec::with_capacity(len);
    for piece in pieces {
        match piece {
            Piece::Memory(bytes) => out.extend_from_slice(bytes),
            Piece::Journal { .. } | Piece::Hot { .. } => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(pieces: &[&'static [u8]]) -> Chunks {
        let mut c = Chunks::default();
        for piece in pieces {
            c.push(Bytes::from_static(piece), None);
        }
        c
    }

    fn read(c: &Chunks, offset: u64, max: u64) -> Vec<u8> {
        resident_bytes(&c.read(offset, max)).expect("all resident")
    }

    fn source(lsn: u64, payload_len: u32) -> Option<JournalData> {
        let location = RecordLocation {
            lsn,
            file_seq: 1,
            offset: 4096,
        };
        Some(JournalData {
            location,
            payload_len,
        })
    }

    #[test]
    fn reads_cross_chunk_boundaries_and_stop_at_max() {
        let c = chunks(&[b"abc", b"", b"de", b"fghi"]);
        assert_eq!(c.length(), 9);
        assert_eq!(read(&c, 0, 100), b"abcdefghi");
        assert_eq!(read(&c, 2, 4), b"cdef");
        assert_eq!(read(&c, 5, 1), b"f");
        assert_eq!(read(&c, 9, 10), b"");
    }

    #[test]
    fn truncate_drops_only_whole_chunks_below_the_start() {
        let mut c = chunks(&[b"abc", b"de", b"fghi"]);
        assert_eq!(c.truncate(4).resident, 3);
        assert_eq!(c.held().resident, 6);
        assert_eq!(read(&c, 4, 10), b"efghi");
        assert_eq!(c.truncate(5).resident, 2);
        assert_eq!(c.truncate(9).resident, 4);
        assert_eq!(c.held().resident, 0);
        assert_eq!(read(&c, 9, 1), b"");
    }

    #[test]
    fn append_all_rebases_offsets() {
        let mut target = chunks(&[b"ab"]);
        target.append_all(chunks(&[b"cd", b"e"]));
        assert_eq!(target.length(), 5);
        assert_eq!(target.held().resident, 5);
        assert_eq!(read(&target, 1, 10), b"bcde");
    }

    #[test]
    fn evicted_chunks_read_as_ranges_of_their_records_payload_tail() {
        let mut c = Chunks::default();
        c.push(Bytes::from_static(b"abc"), source(1, 50));
        c.push(Bytes::from_static(b"defg"), source(2, 60));
        c.push(Bytes::from_static(b"hi"), None);
        assert_eq!(
            c.held(),
            Freed {
                resident: 9,
                evictable: 7
            }
        );
        assert_eq!(c.evict(3), 4);
        assert_eq!(c.evict(3), 0, "already evicted");
        assert_eq!(c.evict(7), 0, "no source: stays resident");
        assert_eq!(c.evict(1), 0, "not a chunk start");
        assert_eq!(
            c.held(),
            Freed {
                resident: 5,
                evictable: 3
            }
        );
        let pieces = c.read(1, 7);
        assert_eq!(
            pieces,
            vec![
                Piece::Memory(Bytes::from_static(b"bc")),
                Piece::Journal {
                    at: source(2, 60).expect("some"),
                    start: 56,
                    len: 4
                },
                Piece::Memory(Bytes::from_static(b"h")),
            ]
        );
        assert_eq!(resident_bytes(&pieces), None);
    }

    #[test]
    fn a_lengths_only_view_tracks_offsets_and_holds_nothing() {
        let mut c = Chunks::lengths_only();
        assert_eq!(c.push(Bytes::from_static(b"abc"), None), 0);
        c.truncate(2);
        let mut other = Chunks::lengths_only();
        other.push(Bytes::from_static(b"de"), None);
        c.append_all(other);
        assert_eq!((c.start_offset(), c.length()), (2, 5));
        assert_eq!(c.held(), Freed::default());
    }
}
