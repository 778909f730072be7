//! Reads: durable data only.

use spate_wire::{NoSuchSegment, ReadData, Reply, SegmentIsTruncated, StatusCode};

use super::chunks::{Piece, resident_bytes};
use super::replies::error;
use super::{Container, ReadOutcome, ReadPlan};

impl Container {
    /// Reads up to `max_bytes` of durable data of `segment` from `offset`.
    ///
    /// Never returns bytes whose record is not durable. At the durable tail
    /// of an unsealed segment the answer is [`ReadOutcome::AtTail`], and also
    /// just past it when the live view already holds the bytes asked for (a
    /// client can learn a pending length from `ConditionalAppendFailed`):
    /// those bytes are on their way. The runtime caps `max_bytes` to what a
    /// frame can carry.
    pub fn read(&self, segment: &str, offset: u64, max_bytes: u32) -> ReadOutcome {
        let Some(current) = self.durable.get(segment) else {
            let segment = segment.to_owned();
            return ReadOutcome::Reply(Reply::from(NoSuchSegment { segment }));
        };
        let (start, length, sealed) = (
            current.data.start_offset(),
            current.data.length(),
            current.sealed,
        );
        if offset < start {
            let segment = segment.to_owned();
            let truncated = SegmentIsTruncated {
                segment,
                start_offset: start,
            };
            return ReadOutcome::Reply(Reply::from(truncated));
        }
        let pending_data = offset > length && offset <= self.live_length(segment);
        if !sealed && (offset == length || pending_data) {
            return ReadOutcome::AtTail;
        }
        if offset > length {
            let message = format!("read {segment} at {offset}: beyond its length {length}");
            return ReadOutcome::Reply(error(StatusCode::OffsetOutOfRange, message));
        }
        let pieces = current.data.read(offset, u64::from(max_bytes));
        let read: u64 = pieces.iter().map(Piece::len).sum();
        let end_of_segment = sealed && offset + read == length;
        match resident_bytes(&pieces) {
            Some(data) => ReadOutcome::Reply(Reply::from(ReadData {
                offset,
                data,
                end_of_segment,
                length,
            })),
            None => ReadOutcome::Load(ReadPlan {
                offset,
                pieces,
                end_of_segment,
                length,
            }),
        }
    }

    /// The segment's length in the live view, or 0 if it is being removed.
    fn live_length(&self, segment: &str) -> u64 {
        self.live.get(segment).map_or(0, |s| s.data.length())
    }
}
