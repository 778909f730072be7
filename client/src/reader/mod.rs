//! The segment reader: reads a segment's bytes in order from an offset,
//! fetching ahead of the application and long-polling at the tail.
//!
//! A read request is kept on its way while the application works on the
//! chunk it has (up to `ReaderOptions::prefetch_chunks` chunks buffered).
//! At the tail of an open segment the node holds the request until data
//! arrives or the wait ends; an empty answer is simply asked again, so
//! [`SegmentReader::read`] resolves only with data or with how reading
//! ended: end of segment, truncation, or a missing segment.

mod session;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::client::ClientInner;
use crate::error::ClientError;
use crate::sync::{lock, wait};
use session::{ReaderShared, ReaderState};

/// Bytes read from a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadChunk {
    /// Offset of the first byte of `data`.
    pub offset: u64,
    /// The bytes, never empty.
    pub data: Vec<u8>,
    /// The segment is sealed and `data` ends at its last byte.
    pub end_of_segment: bool,
}

/// What a [`SegmentReader::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The next bytes.
    Data(ReadChunk),
    /// The segment is sealed and every byte up to `offset` (its length)
    /// has been read.
    EndOfSegment {
        /// The segment's final length.
        offset: u64,
    },
    /// The bytes at the reader's offset were truncated away; reading can
    /// go on from `start_offset` ([`SegmentReader::seek`]).
    Truncated {
        /// The segment's start offset.
        start_offset: u64,
    },
    /// The segment does not exist (any more).
    NoSuchSegment,
}

/// Reads one segment in order. Dropping it stops the prefetching.
pub struct SegmentReader {
    /// Keeps the client (and its connections) alive while the reader is.
    client: Arc<ClientInner>,
    shared: Arc<ReaderShared>,
}

impl SegmentReader {
    pub(crate) fn new(client: &Arc<ClientInner>, segment: &str, start_offset: u64) -> Self {
        SegmentReader {
            client: Arc::clone(client),
            shared: Arc::new(ReaderShared::new(client, segment, start_offset)),
        }
    }

    /// The segment read.
    pub fn segment(&self) -> &str {
        &self.shared.segment
    }

    /// The offset of the next byte the application will get.
    pub fn offset(&self) -> u64 {
        let state = lock(&self.shared.state);
        state
            .ready
            .front()
            .map_or(state.next_offset, |chunk| chunk.offset)
    }

    /// The next chunk, or how reading ended. May block the calling thread
    /// briefly to connect or for room on the connection when it sends a
    /// request; the future itself never blocks.
    pub fn read(&mut self) -> ReadFuture<'_> {
        let next = {
            let mut state = lock(&self.shared.state);
            self.shared.next_request(&mut state)
        };
        if let Some(next) = next {
            self.shared.send(&self.client, next);
        }
        ReadFuture { reader: self }
    }

    /// Continues from `offset` instead (after a truncation, say). Anything
    /// fetched ahead is dropped; replies to earlier requests are ignored.
    pub fn seek(&mut self, offset: u64) {
        let mut state = lock(&self.shared.state);
        state.generation += 1;
        state.next_offset = offset;
        state.ready.clear();
        state.end = None;
        state.error = None;
        state.reset_requests();
    }
}

impl Drop for SegmentReader {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.closed = true;
        state.ready.clear();
    }
}

impl std::fmt::Debug for SegmentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentReader")
            .field("segment", &self.shared.segment)
            .field("offset", &self.offset())
            .finish()
    }
}

/// Resolves with the reader's next chunk or how reading ended.
#[must_use = "a read does nothing unless awaited or waited on"]
pub struct ReadFuture<'a> {
    reader: &'a SegmentReader,
}

impl ReadFuture<'_> {
    /// Blocks the current thread until the read resolves.
    pub fn wait(self) -> Result<ReadOutcome, ClientError> {
        let shared = &self.reader.shared;
        let mut state = lock(&shared.state);
        loop {
            if let Some(result) = take_ready(&mut state) {
                drop(state);
                self.refill();
                return result;
            }
            state = wait(&shared.ready_signal, state);
        }
    }

    /// After taking a chunk, fetch ahead again if nothing is on its way.
    /// Handed to the retrier: a poll must not block on a connection.
    fn refill(&self) {
        let shared = &self.reader.shared;
        let next = shared.next_request(&mut lock(&shared.state));
        if next.is_some() {
            shared.notify(None, next);
        }
    }
}

impl Future for ReadFuture<'_> {
    type Output = Result<ReadOutcome, ClientError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let shared = &self.reader.shared;
        let mut state = lock(&shared.state);
        if let Some(result) = take_ready(&mut state) {
            drop(state);
            self.refill();
            return Poll::Ready(result);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The next chunk, else the end or the error (which stay, so asking again
/// gives the same answer); `None` while still waiting.
fn take_ready(state: &mut ReaderState) -> Option<Result<ReadOutcome, ClientError>> {
    if let Some(chunk) = state.ready.pop_front() {
        return Some(Ok(ReadOutcome::Data(chunk)));
    }
    if let Some(end) = &state.end {
        return Some(Ok(end.clone()));
    }
    state.error.clone().map(Err)
}
