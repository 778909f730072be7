//! The segment writer: pipelined, batched, exactly-once appends to one
//! segment.
//!
//! Every event gets the next event number of its writer id. The node keeps
//! each writer's last number and acks a number it has already seen without
//! writing it again, so the writer can always resend: after a broken
//! connection (or a `Retry` error) it resends every unresolved event, in
//! order, and duplicates vanish. A new writer with the same id asks the
//! node for its last number first, so numbering resumes across restarts.
//!
//! Batching happens only under load: an event appended while nothing is in
//! flight goes out at once, alone; events appended while requests are in
//! flight gather into one `AppendBatch` that leaves when an ack arrives or
//! when it is full (`WriterOptions`).

mod session;
mod state;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use spate_wire::{MAX_EVENT_BYTES, StatusCode};

use crate::client::{Client, WriterStateOutcome};
use crate::completion::{Completer, Completion, completion};
use crate::error::{ClientError, check_name};
use crate::sync::{lock, wait};
use session::WriterShared;
pub(crate) use session::frame_budget;
pub(crate) use state::Returned;
use state::{Closed, Done, Kind, WriterState};

/// An event is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The event's number (per writer id, increasing by one per append).
    pub event_number: i64,
    /// The segment's length in the ack that covered this event, when the
    /// event was the last of its request: then, unless the ack was for a
    /// resent duplicate, the event's end offset. `None` for the other
    /// events of a batch.
    pub segment_length: Option<u64>,
}

/// Outcome of [`SegmentWriter::append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The event is durable.
    Appended(Ack),
    /// The segment is sealed: the event was not written, and the writer
    /// takes no more appends.
    Sealed {
        /// The segment's final length.
        length: u64,
    },
    /// The segment does not exist (any more); the writer is done.
    NoSuchSegment,
}

/// Outcome of [`SegmentWriter::append_conditional`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionalOutcome {
    /// The segment's length was the expected offset; the event is durable.
    Appended(Ack),
    /// The segment's length was not the expected offset; nothing written.
    ConditionalAppendFailed {
        /// The segment's length when the condition was checked.
        current_length: u64,
    },
    /// The segment is sealed; the writer is done.
    Sealed {
        /// The segment's final length.
        length: u64,
    },
    /// The segment does not exist (any more); the writer is done.
    NoSuchSegment,
}

/// Resolves when an append is durable, or with its outcome.
pub type AppendFuture = Completion<AppendOutcome>;
/// Resolves when a conditional append is decided.
pub type ConditionalAppendFuture = Completion<ConditionalOutcome>;
/// Resolves when every append made before the flush has resolved.
pub type FlushFuture = Completion<()>;

/// Appends events to one segment as one writer id. `Send + Sync`: appends
/// from several threads are numbered in the order they take the writer's
/// lock.
///
/// Dropping the writer does not cancel its appends; they still resolve
/// while the client lives. Use [`SegmentWriter::close`] to wait for them.
pub struct SegmentWriter {
    /// Keeps the client (and its connections) alive while the writer is.
    _client: Client,
    shared: Arc<WriterShared>,
    /// Largest payload the node's frame limit allows.
    max_event_bytes: usize,
}

impl SegmentWriter {
    pub(crate) fn open(
        client: &Client,
        segment: &str,
        writer_id: u128,
    ) -> Result<SegmentWriter, ClientError> {
        check_name(segment)?;
        let last = match client.writer_state(segment, writer_id).wait()? {
            WriterStateOutcome::Found { last_event_number } => last_event_number,
            WriterStateOutcome::NoSuchSegment => {
                return Err(ClientError::InvalidRequest {
                    reason: format!("segment {segment:?} does not exist"),
                    status: Some(StatusCode::NoSuchSegment),
                });
            }
        };
        let next = last.map_or(Some(0), |n| n.checked_add(1)).ok_or_else(|| {
            ClientError::fatal(format!("writer {writer_id:x} has used every event number"))
        })?;
        let conn = client.inner.connection_for(segment)?;
        let max_frame = conn.limits().max_frame_bytes;
        let state = WriterState::new(next, Some(conn));
        Ok(SegmentWriter {
            shared: Arc::new(WriterShared::new(&client.inner, segment, writer_id, state)),
            _client: client.clone(),
            max_event_bytes: frame_budget(max_frame).min(MAX_EVENT_BYTES),
        })
    }

    /// The segment written to.
    pub fn segment(&self) -> &str {
        &self.shared.segment
    }

    /// The writer id appends carry.
    pub fn writer_id(&self) -> u128 {
        self.shared.writer_id
    }

    /// The number the next append will get.
    pub fn next_event_number(&self) -> i64 {
        lock(&self.shared.state).next_number
    }

    /// Appends one event. Blocks the calling thread only while the writer
    /// holds `max_outstanding_*` unresolved events (backpressure); the
    /// returned future resolves when the event is durable.
    pub fn append(&self, payload: impl Into<Vec<u8>>) -> AppendFuture {
        self.push(payload.into(), Kind::Plain, Done::Plain, None)
    }

    /// Appends one event with the caller's event number, which must be at
    /// least [`SegmentWriter::next_event_number`]: numbers need only
    /// increase. The event writer numbers events across all the segments of
    /// a stream this way; an event not appended comes back with its payload.
    pub(crate) fn append_numbered(&self, number: i64, payload: Vec<u8>) -> Completion<Returned> {
        self.push(payload, Kind::Plain, Done::Returning, Some(number))
    }

    /// Appends one event only if the segment's length is `expected_offset`
    /// when the node gets to it. It keeps its place among this writer's
    /// appends, and is resent like them after a failure (its event number
    /// makes the resend a no-op if the first one was applied).
    pub fn append_conditional(
        &self,
        payload: impl Into<Vec<u8>>,
        expected_offset: u64,
    ) -> ConditionalAppendFuture {
        let kind = Kind::Conditional { expected_offset };
        self.push(payload.into(), kind, Done::Conditional, None)
    }

    fn push<T>(
        &self,
        payload: Vec<u8>,
        kind: Kind,
        done: impl FnOnce(Completer<T>) -> Done,
        number: Option<i64>,
    ) -> Completion<T> {
        if payload.len() > self.max_event_bytes {
            return Completion::ready(Err(ClientError::InvalidRequest {
                reason: format!(
                    "event of {} bytes; the most is {}",
                    payload.len(),
                    self.max_event_bytes
                ),
                status: Some(StatusCode::EventTooLarge),
            }));
        }
        let (completer, completion) = completion();
        let done = done(completer);
        let shared = &self.shared;
        let mut state = lock(&shared.state);
        while state.closed.is_none() && state.is_full(&shared.options, payload.len()) {
            shared.room_waiters.fetch_add(1, Ordering::SeqCst);
            state = wait(&shared.room, state);
            shared.room_waiters.fetch_sub(1, Ordering::SeqCst);
        }
        let number = number.unwrap_or(state.next_number);
        if number == i64::MAX && state.closed.is_none() {
            let error = ClientError::fatal("this writer id has used every event number");
            state.closed = Some(Closed::Failed(error));
        }
        if let Some(closed) = state.closed.clone() {
            drop(state);
            done.resolve(closed.resolution(), payload);
            return completion;
        }
        if number < state.next_number {
            drop(state);
            let error = ClientError::invalid(format!(
                "event number {number} is below the writer's next number on this segment"
            ));
            done.resolve(Closed::Failed(error).resolution(), payload);
            return completion;
        }
        state.push_numbered(number, payload, kind, done);
        let finished = shared.kick(&mut state);
        drop(state);
        shared.finish(finished);
        completion
    }

    /// Resolves once every append made so far has resolved (fails if the
    /// writer gave up). Check each append's own outcome for what happened.
    pub fn flush(&self) -> FlushFuture {
        let (completer, completion) = completion();
        let mut state = lock(&self.shared.state);
        if let Some(Closed::Failed(error)) = &state.closed {
            let error = error.clone();
            drop(state);
            completer.complete(Err(error));
            return completion;
        }
        if let Some(completer) = state.add_flush(completer) {
            drop(state);
            completer.complete(Ok(()));
        }
        completion
    }

    /// Flushes and waits.
    pub fn close(self) -> Result<(), ClientError> {
        self.flush().wait()
    }
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("segment", &self.shared.segment)
            .field("writer_id", &self.shared.writer_id)
            .finish()
    }
}
