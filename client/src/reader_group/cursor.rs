//! One owned segment as a reader sees it: a prefetching, long-polling
//! [`SegmentReader`], the events split from what it fetched, and the
//! position of the next event the application gets (what the reader
//! hands back on release or checkpoint: nothing returned is read twice,
//! nothing fetched but not returned is lost).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::client::Client;
use crate::error::ClientError;
use crate::reader::{ReadOutcome, SegmentReader};
use crate::stream::{EVENT_HEADER_BYTES, EventSplitter, SplitEvent};

/// What polling a cursor gave.
pub(super) enum Step {
    Event(SplitEvent),
    /// The segment is read to its end (or its end cut).
    Finished,
}

pub(super) struct Cursor {
    segment: String,
    reader: SegmentReader,
    splitter: EventSplitter,
    /// Events fetched and split, not yet returned.
    queue: VecDeque<SplitEvent>,
    /// Offset of the next event the application gets.
    pub position: u64,
    /// The end cut's offset, for a bounded read.
    end: Option<u64>,
    /// The sealed segment's last byte has been fetched (or it is gone).
    at_end: bool,
    max_event: usize,
}

impl Cursor {
    pub fn open(
        client: &Client,
        segment: &str,
        offset: u64,
        end: Option<u64>,
    ) -> Result<Self, ClientError> {
        Ok(Cursor {
            segment: segment.to_owned(),
            reader: client.segment_reader(segment, offset)?,
            splitter: EventSplitter::at(offset),
            queue: VecDeque::new(),
            position: offset,
            end,
            at_end: false,
            max_event: client.topology().limits.max_frame_bytes as usize,
        })
    }

    /// A fresh cursor at this one's position, after a failure: a segment
    /// reader keeps its error for good once its retries are spent, and
    /// events fetched but not returned are simply fetched again.
    pub fn reopen(&self, client: &Client) -> Result<Self, ClientError> {
        Cursor::open(client, &self.segment, self.position, self.end)
    }

    /// The next event, `Finished`, or pending (the reader's request is on
    /// its way; `cx` is woken when it lands).
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Step, ClientError>> {
        loop {
            if self.end.is_some_and(|end| self.position >= end) {
                return Poll::Ready(Ok(Step::Finished));
            }
            if let Some(event) = self.queue.pop_front() {
                self.position = event.offset + (EVENT_HEADER_BYTES + event.payload.len()) as u64;
                return Poll::Ready(Ok(Step::Event(event)));
            }
            if self.at_end {
                return Poll::Ready(Ok(Step::Finished));
            }
            let outcome = {
                let mut read = self.reader.read();
                match Pin::new(&mut read).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(outcome) => outcome,
                }
            };
            match outcome {
                Ok(ReadOutcome::Data(chunk)) => {
                    let events = match self.splitter.push(&chunk.data, self.max_event) {
                        Ok(events) => events,
                        Err(error) => return Poll::Ready(Err(error)),
                    };
                    self.queue.extend(events);
                    self.at_end = chunk.end_of_segment;
                }
                // A deleted segment has nothing more to give either.
                Ok(ReadOutcome::EndOfSegment { .. } | ReadOutcome::NoSuchSegment) => {
                    self.at_end = true;
                }
                Ok(ReadOutcome::Truncated { start_offset }) => {
                    // Retention dropped data this reader had not reached:
                    // go on from what the stream still holds.
                    self.reader.seek(start_offset);
                    self.splitter = EventSplitter::at(start_offset);
                    self.position = start_offset;
                }
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}
