//! Flushing a segment's chunks out of the journal: which chunks go next
//! (a run of neighbours still named by journal records), and, once their
//! bytes are durable in a hot chunk file, replacing them with one chunk
//! named by that file.

use bytes::Bytes;

use super::{Chunk, Chunks, DataSource, Freed, HotData, Piece, piece_of};

/// Consecutive chunks of one segment still in the journal, to be written
/// to a hot chunk file together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlushRun {
    /// Segment offsets: the first chunk's start and the last one's end.
    pub offset: u64,
    pub end: u64,
    /// The journal record of each chunk, in order: the run still stands
    /// only if these are still its chunks when the flush completes.
    pub lsns: Vec<u64>,
}

impl FlushRun {
    pub fn len(&self) -> u64 {
        self.end - self.offset
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.offset
    }

    /// The oldest journal record the run holds back.
    pub fn first_lsn(&self) -> u64 {
        self.lsns.iter().copied().min().unwrap_or(u64::MAX)
    }
}

impl Chunks {
    /// The first run of chunks named by journal records, up to `max` bytes
    /// (at least one chunk, whatever its size). `None` if every chunk is
    /// flushed (or has no source: it is not durable yet).
    pub(crate) fn flush_run(&self, max: u64) -> Option<FlushRun> {
        let first = self
            .chunks
            .iter()
            .position(|c| matches!(c.source, Some(DataSource::Journal(_))))?;
        let mut run = FlushRun {
            offset: self.chunks[first].offset,
            end: self.chunks[first].offset,
            lsns: Vec::new(),
        };
        for chunk in self.chunks.range(first..) {
            let Some(DataSource::Journal(at)) = chunk.source else {
                break;
            };
            if !run.lsns.is_empty() && run.len() + chunk.len > max {
                break;
            }
            run.end = chunk.end();
            run.lsns.push(at.location.lsn);
        }
        Some(run)
    }

    /// The pieces holding the whole of `run`'s chunks (the flusher reads
    /// them, even the part of a first chunk below a later start offset).
    /// `None` if the run no longer stands.
    pub(crate) fn run_pieces(&self, run: &FlushRun) -> Option<Vec<Piece>> {
        let (first, last) = self.run_bounds(run)?;
        Some(
            self.chunks
                .range(first..last)
                .map(|c| piece_of(c, 0, c.len))
                .collect(),
        )
    }

    /// Replaces `run`'s chunks with one chunk whose bytes are in `hot`, if
    /// they are still exactly the run's. The new chunk keeps `data` in
    /// memory if every chunk it replaces was resident (so flushing does not
    /// evict what readers at the tail use). Returns what the old chunks
    /// held and what the new one holds, or `None` if the run no longer
    /// stands (truncated, merged, deleted meanwhile: nothing changes).
    pub(crate) fn replace_with_hot(
        &mut self,
        run: &FlushRun,
        hot: HotData,
        data: Bytes,
    ) -> Option<(Freed, u64)> {
        let (first, last) = self.run_bounds(run)?;
        assert_eq!(u64::from(hot.len), run.len(), "a hot chunk holds its run");
        assert_eq!(
            data.len() as u64,
            run.len(),
            "the flushed bytes are the run's"
        );
        let mut old = Freed::default();
        let mut all_resident = true;
        for chunk in self.chunks.range(first..last) {
            old.add(chunk);
            all_resident &= chunk.resident.is_some();
        }
        let resident = all_resident.then_some(data);
        let held = resident.as_ref().map_or(0, |b| b.len() as u64);
        let merged = Chunk {
            offset: run.offset,
            len: run.len(),
            resident,
            source: Some(DataSource::Hot(hot)),
        };
        self.chunks.drain(first..last);
        self.chunks.insert(first, merged);
        Some((old, held))
    }

    /// Every hot chunk file the segment's chunks name.
    pub(crate) fn hot_files(&self, out: &mut std::collections::HashSet<u64>) {
        for chunk in &self.chunks {
            if let Some(DataSource::Hot(at)) = chunk.source {
                out.insert(at.file);
            }
        }
    }

    /// The index range of `run`'s chunks, if they are still exactly those.
    fn run_bounds(&self, run: &FlushRun) -> Option<(usize, usize)> {
        let first = self.chunks.partition_point(|c| c.offset < run.offset);
        let last = first + run.lsns.len();
        let chunks = self.chunks.range(first..last.min(self.chunks.len()));
        let mut at = run.offset;
        let mut matched = 0;
        for (chunk, &lsn) in chunks.zip(&run.lsns) {
            match chunk.source {
                Some(DataSource::Journal(j)) if j.location.lsn == lsn && chunk.offset == at => {}
                _ => return None,
            }
            at = chunk.end();
            matched += 1;
        }
        (matched == run.lsns.len() && at == run.end).then_some((first, last))
    }
}

#[cfg(test)]
mod tests {
    use spate_journal::RecordLocation;

    use super::super::JournalData;
    use super::*;

    fn journaled(chunks: &mut Chunks, bytes: &'static [u8], lsn: u64) {
        let location = RecordLocation {
            lsn,
            file_seq: 1,
            offset: 4096 * lsn,
        };
        let source = JournalData {
            location,
            payload_len: bytes.len() as u32 + 40,
        };
        chunks.push(Bytes::from_static(bytes), Some(source));
    }

    fn hot(len: u32) -> HotData {
        HotData {
            file: 3,
            file_offset: 0,
            len,
            crc: crc32c::crc32c(b"abcdefg"),
        }
    }

    #[test]
    fn a_run_is_the_first_journaled_chunks_up_to_the_limit() {
        let mut c = Chunks::default();
        journaled(&mut c, b"abc", 1);
        journaled(&mut c, b"de", 2);
        journaled(&mut c, b"fg", 3);
        c.push(Bytes::from_static(b"h"), None);
        let run = c.flush_run(5).expect("journaled chunks");
        assert_eq!((run.offset, run.end, run.lsns.clone()), (0, 5, vec![1, 2]));
        assert_eq!(c.flush_run(1).expect("one at least").lsns, vec![1]);
        let all = c.flush_run(100).expect("some");
        assert_eq!(all.end, 7, "stops before the chunk with no source");
        assert_eq!(all.first_lsn(), 1);
    }

    #[test]
    fn a_flushed_run_becomes_one_hot_chunk_that_reads_as_its_range() {
        let mut c = Chunks::default();
        journaled(&mut c, b"abc", 1);
        journaled(&mut c, b"defg", 2);
        let run = c.flush_run(100).expect("some");
        let (old, held) = c
            .replace_with_hot(&run, hot(7), Bytes::from_static(b"abcdefg"))
            .expect("the run stands");
        assert_eq!((old.resident, old.evictable, held), (7, 7, 7));
        assert_eq!(c.flush_run(100), None, "nothing left in the journal");
        assert_eq!(c.evict(0), 7, "a hot chunk is evictable");
        assert_eq!(
            c.read(2, 3),
            vec![Piece::Hot {
                at: hot(7),
                start: 2,
                len: 3
            }]
        );
        let mut files = std::collections::HashSet::new();
        c.hot_files(&mut files);
        assert_eq!(files.into_iter().collect::<Vec<_>>(), vec![3]);
        let refs = c.refs(false).expect("all named");
        let back = Chunks::from_refs(0, 7, &refs, false).expect("tiles");
        assert_eq!(back.read(0, 7), c.read(0, 7));
    }

    #[test]
    fn a_run_that_changed_meanwhile_is_not_replaced() {
        let mut c = Chunks::default();
        journaled(&mut c, b"abc", 1);
        journaled(&mut c, b"defg", 2);
        let run = c.flush_run(100).expect("some");
        c.truncate(3);
        assert_eq!(
            c.replace_with_hot(&run, hot(7), Bytes::from_static(b"abcdefg")),
            None,
            "its first chunk is gone"
        );
        let rest = c.flush_run(100).expect("one chunk");
        assert_eq!(rest.lsns, vec![2]);
        assert_eq!(c.run_pieces(&rest).map(|p| p.len()), Some(1));
        c.evict(3);
        assert_eq!(
            c.replace_with_hot(&rest, hot(4), Bytes::from_static(b"defg"))
                .map(|r| r.1),
            Some(0),
            "an evicted chunk stays evicted"
        );
    }
}
