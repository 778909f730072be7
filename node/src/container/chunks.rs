//! A segment's bytes in memory: reference-counted chunks, one per appended
//! event, addressed by segment offset.
//!
//! Chunks are `Bytes`, so an append keeps the payload's allocation (no copy),
//! the live and durable views of a container share every chunk, and a merge
//! moves chunks from one segment to another without touching data. A read
//! copies only the range it returns.

use std::collections::VecDeque;

use bytes::Bytes;

/// One contiguous piece of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Chunk {
    /// Segment offset of the first byte.
    offset: u64,
    bytes: Bytes,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.offset + self.bytes.len() as u64
    }
}

/// The bytes of one segment between its start offset and its length.
///
/// Invariants: chunks are non-empty, contiguous and in offset order; the last
/// ends at `length`; the first starts at or below `start_offset` (a chunk is
/// dropped only when wholly below the start, so a partly truncated chunk
/// keeps its head until the start moves past it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Chunks {
    start_offset: u64,
    length: u64,
    chunks: VecDeque<Chunk>,
    /// Sum of the chunks' sizes: the memory this segment holds.
    held_bytes: u64,
}

impl Chunks {
    pub(crate) fn start_offset(&self) -> u64 {
        self.start_offset
    }

    pub(crate) fn length(&self) -> u64 {
        self.length
    }

    pub(crate) fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// Appends `bytes` at the end. Empty payloads change nothing (an empty
    /// chunk would break the "non-empty" invariant and hold nothing).
    pub(crate) fn push(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        let len = bytes.len() as u64;
        self.chunks.push_back(Chunk {
            offset: self.length,
            bytes,
        });
        self.length += len;
        self.held_bytes += len;
    }

    /// Raises the start offset to `start` and drops every chunk wholly below
    /// it. Returns the bytes freed.
    pub(crate) fn truncate(&mut self, start: u64) -> u64 {
        assert!(
            self.start_offset < start && start <= self.length,
            "truncate to {start} outside ({}, {}]",
            self.start_offset,
            self.length
        );
        self.start_offset = start;
        let mut freed = 0;
        while let Some(front) = self.chunks.front()
            && front.end() <= start
        {
            freed += front.bytes.len() as u64;
            self.chunks.pop_front();
        }
        self.held_bytes -= freed;
        freed
    }

    /// Appends all of `source` (which must start at offset 0) at the end,
    /// moving its chunks.
    pub(crate) fn append_all(&mut self, source: Chunks) {
        assert_eq!(source.start_offset, 0, "merging a truncated segment");
        let base = self.length;
        for chunk in source.chunks {
            self.chunks.push_back(Chunk {
                offset: base + chunk.offset,
                bytes: chunk.bytes,
            });
        }
        self.length += source.length;
        self.held_bytes += source.held_bytes;
    }

    /// Copies up to `max` bytes starting at `offset`, across chunk
    /// boundaries. `offset` must lie in `[start_offset, length]`.
    pub(crate) fn read(&self, offset: u64, max: u64) -> Vec<u8> {
        assert!(
            self.start_offset <= offset && offset <= self.length,
            "read at {offset} outside [{}, {}]",
            self.start_offset,
            self.length
        );
        let end = offset + max.min(self.length - offset);
        let mut out = Vec::with_capacity((end - offset) as usize);
        let first = self.chunks.partition_point(|c| c.end() <= offset);
        for chunk in self.chunks.range(first..) {
            if chunk.offset >= end {
                break;
            }
            let from = (offset.max(chunk.offset) - chunk.offset) as usize;
            let to = (end.min(chunk.end()) - chunk.offset) as usize;
            out.extend_from_slice(&chunk.bytes[from..to]);
        }
        assert_eq!(out.len() as u64, end - offset, "chunks not contiguous");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(pieces: &[&'static [u8]]) -> Chunks {
        let mut c = Chunks::default();
        for piece in pieces {
            c.push(Bytes::from_static(piece));
        }
        c
    }

    #[test]
    fn reads_cross_chunk_boundaries_and_stop_at_max() {
        let c = chunks(&[b"abc", b"", b"de", b"fghi"]);
        assert_eq!(c.length(), 9);
        assert_eq!(c.read(0, 100), b"abcdefghi");
        assert_eq!(c.read(2, 4), b"cdef");
        assert_eq!(c.read(5, 1), b"f");
        assert_eq!(c.read(9, 10), b"");
    }

    #[test]
    fn truncate_drops_only_whole_chunks_below_the_start() {
        let mut c = chunks(&[b"abc", b"de", b"fghi"]);
        assert_eq!(c.truncate(4), 3);
        assert_eq!(c.held_bytes(), 6);
        assert_eq!(c.read(4, 10), b"efghi");
        assert_eq!(c.truncate(5), 2);
        assert_eq!(c.truncate(9), 4);
        assert_eq!(c.held_bytes(), 0);
        assert_eq!(c.read(9, 1), b"");
    }

    #[test]
    fn append_all_rebases_offsets() {
        let mut target = chunks(&[b"ab"]);
        target.append_all(chunks(&[b"cd", b"e"]));
        assert_eq!(target.length(), 5);
        assert_eq!(target.held_bytes(), 5);
        assert_eq!(target.read(1, 10), b"bcde");
    }
}
