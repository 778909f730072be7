//! A single read, for callers that know the segment reaches the offset
//! (the state synchronizer reads up to a length the node reported). A
//! [`crate::SegmentReader`] would keep a request parked at the tail after
//! that, holding an in-flight request slot and a node tail waiter for as
//! long as the node's wait, for no reader that wants it.

use spate_wire::{READ_DATA_OVERHEAD, Read, Reply, Request};

use super::Client;
use super::call::{Call, Route, Safety};
use crate::completion::Completion;
use crate::error::{ClientError, check_name, unexpected};
use crate::reader::{ReadChunk, ReadOutcome};

impl Client {
    /// Up to `max_bytes` of `segment` from `offset`, waiting up to
    /// `wait_ms` for data that is not durable yet (a length from a
    /// conditional append's failure may count appends still on their way
    /// to the journal). Unlike [`crate::SegmentReader`], the chunk is empty
    /// if the wait ran out.
    pub(crate) fn read_once(
        &self,
        segment: &str,
        offset: u64,
        max_bytes: u32,
        wait_ms: u32,
    ) -> Completion<ReadOutcome> {
        if let Err(error) = check_name(segment) {
            return Completion::ready(Err(error));
        }
        let frame = self.topology().limits.max_frame_bytes;
        let max_bytes = max_bytes.clamp(1, frame.saturating_sub(READ_DATA_OVERHEAD).max(1));
        let request = Request::Read(Read {
            segment: segment.into(),
            offset,
            max_bytes,
            wait_ms,
        });
        let route = Route::Segment(segment.into());
        Call::start(
            &self.inner,
            route,
            request,
            Safety::Idempotent,
            move |reply| match reply {
                Reply::ReadData(data) if data.offset != offset => Err(ClientError::protocol(
                    format_args!("ReadData at {} for a read at {offset}", data.offset),
                )),
                Reply::ReadData(data) if data.data.is_empty() && data.end_of_segment => {
                    Ok(ReadOutcome::EndOfSegment { offset })
                }
                Reply::ReadData(data) => Ok(ReadOutcome::Data(ReadChunk {
                    offset,
                    data: data.data,
                    end_of_segment: data.end_of_segment,
                })),
                Reply::SegmentIsTruncated(t) => Ok(ReadOutcome::Truncated {
                    start_offset: t.start_offset,
                }),
                Reply::NoSuchSegment(_) => Ok(ReadOutcome::NoSuchSegment),
                other => Err(unexpected("Read", &other)),
            },
        )
    }
}
