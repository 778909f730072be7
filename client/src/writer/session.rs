//! A segment writer's moving parts: building frames when the connection
//! gives it a turn to write (on its writer thread, or inline on the thread
//! that scheduled it), handling acks on its reader thread, and recovering
//! from a broken connection by resending everything unresolved, in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use spate_wire::{Append, AppendBatch, BatchEvent, ConditionalAppend, Reply};

use super::Ack;
use super::state::{Closed, Finished, Kind, Resolution, WriterState};
use crate::client::ClientInner;
use crate::conn::{Connection, FrameSource, Refusal, Refused, Waiter};
use crate::error::ClientError;
use crate::options::{RetryPolicy, WriterOptions};
use crate::retrier::Retrier;
use crate::sync::lock;

/// Frame bytes besides the payloads: header, segment name (at most 255
/// bytes) and fixed fields, rounded up generously.
pub(super) const FRAME_OVERHEAD: usize = 1024;

/// Payload bytes one frame may carry on `conn`.
pub(crate) fn frame_budget(max_frame_bytes: u32) -> usize {
    (max_frame_bytes as usize).saturating_sub(FRAME_OVERHEAD)
}

/// The part of a writer shared with the I/O threads and the retrier.
pub(super) struct WriterShared {
    pub segment: String,
    pub writer_id: u128,
    pub options: WriterOptions,
    policy: RetryPolicy,
    client: Weak<ClientInner>,
    retrier: Arc<Retrier>,
    pub state: Mutex<WriterState>,
    /// Signalled when events resolve (room for `append`), if anyone waits.
    pub room: Condvar,
    /// Appenders blocked on `room`; counted under `state`'s lock, so a
    /// finisher that changed the state under it sees every waiter that
    /// could have missed the change (a notification is a system call).
    pub room_waiters: AtomicUsize,
}

impl WriterShared {
    pub(super) fn new(
        client: &Arc<ClientInner>,
        segment: &str,
        writer_id: u128,
        state: WriterState,
    ) -> Self {
        WriterShared {
            segment: segment.into(),
            writer_id,
            options: client.options.writer.sanitized(),
            policy: client.options.retry,
            client: Arc::downgrade(client),
            retrier: Arc::clone(&client.retrier),
            state: Mutex::new(state),
            room: Condvar::new(),
            room_waiters: AtomicUsize::new(0),
        }
    }

    /// Queues a frame-building job on the connection if a frame should go
    /// now; reconnects first if the writer lost its connection while idle.
    /// If the connection's writer is idle, the job runs on this thread when
    /// the returned `Finished` fires, after the lock is released.
    pub(super) fn kick(self: &Arc<Self>, state: &mut WriterState) -> Finished {
        if state.closed.is_some() || state.scheduled {
            return Finished::default();
        }
        let Some(conn) = state.conn.clone() else {
            let work = state.events.len() > state.sent;
            if work && !state.recovering {
                return self.start_recovery(state, Duration::ZERO);
            }
            return Finished::default();
        };
        let budget = frame_budget(conn.limits().max_frame_bytes);
        if !state.should_send(&self.options, budget) {
            return Finished::default();
        }
        state.scheduled = true;
        match conn.schedule(Arc::clone(self) as Arc<dyn FrameSource>) {
            Ok(turn) => Finished::turn(turn),
            Err(error) => self.recover(state, error),
        }
    }

    /// After a failure: write off what is in flight and, if anything is at
    /// stake, reconnect after a backoff, or give up past the retry bound.
    fn recover(self: &Arc<Self>, state: &mut WriterState, error: ClientError) -> Finished {
        state.rewind();
        if state.events.is_empty() {
            // Nothing to resend: the next append reconnects.
            return Finished::default();
        }
        state.failures += 1;
        if state.failures > self.policy.max_attempts {
            let error = error.context(format_args!(
                "segment writer gave up after {} attempts",
                state.failures
            ));
            return state.close(Closed::Failed(error));
        }
        if state.recovering {
            return Finished::default();
        }
        self.start_recovery(state, self.policy.backoff(state.failures))
    }

    fn start_recovery(self: &Arc<Self>, state: &mut WriterState, delay: Duration) -> Finished {
        state.recovering = true;
        let shared = Arc::clone(self);
        if self.retrier.after(delay, move || shared.reattach()) {
            return Finished::default();
        }
        state.recovering = false;
        state.close(Closed::Failed(ClientError::closed()))
    }

    /// Retrier thread: get a live connection, then resend from the first
    /// unresolved event. Connecting happens with no lock held.
    fn reattach(self: Arc<Self>) {
        let Some(client) = self.client.upgrade() else {
            let finished = lock(&self.state).close(Closed::Failed(ClientError::closed()));
            return self.finish(finished);
        };
        let attempt = client.connection_for(&self.segment);
        // Dropped before locking: if it was the last handle, closing the
        // client calls back into this writer.
        drop(client);
        let finished = {
            let mut state = lock(&self.state);
            state.recovering = false;
            if state.closed.is_some() {
                return;
            }
            match attempt {
                Ok(conn) => {
                    state.conn = Some(conn);
                    state.send_now = true;
                    self.kick(&mut state)
                }
                Err(error) => self.recover(&mut state, error),
            }
        };
        self.finish(finished);
    }

    /// Fires completions and wakes appenders waiting for room.
    pub(super) fn finish(&self, finished: Finished) {
        if self.room_waiters.load(Ordering::SeqCst) > 0 {
            self.room.notify_all();
        }
        finished.fire();
    }

    /// Builds and registers frames while the rules say send; parks on the
    /// connection when it is at the node's in-flight bounds.
    fn build(
        self: &Arc<Self>,
        state: &mut WriterState,
        conn: &Arc<Connection>,
        out: &mut Vec<u8>,
    ) -> Finished {
        let budget = frame_budget(conn.limits().max_frame_bytes);
        while state.should_send(&self.options, budget) {
            let count = state.next_request_len(&self.options, budget);
            let id = conn.next_id();
            let start = out.len();
            let len = match self.encode(state, count, id, conn, out) {
                Ok(len) => len,
                Err(error) => return state.close(Closed::Failed(error)),
            };
            let last = state.events[state.sent + count - 1].number;
            let waiter = Box::new(AppendWaiter {
                shared: Arc::clone(self),
                generation: state.generation,
                last,
            });
            match conn.try_register(id, len, waiter) {
                Ok(()) => state.mark_sent(count),
                Err(Refused { reason, .. }) => {
                    out.truncate(start);
                    return match reason {
                        Refusal::Full => self.park(state, conn),
                        Refusal::Failed(error) => self.recover(state, error),
                    };
                }
            }
        }
        Finished::default()
    }

    fn park(self: &Arc<Self>, state: &mut WriterState, conn: &Connection) -> Finished {
        state.scheduled = true;
        match conn.park(Arc::clone(self) as Arc<dyn FrameSource>) {
            Ok(()) => Finished::default(),
            Err(error) => self.recover(state, error),
        }
    }

    /// Encodes the next `count` unsent events as one request. Payloads are
    /// moved into the message and back, so they are copied only once (into
    /// the frame) and stay here for a resend.
    fn encode(
        &self,
        state: &mut WriterState,
        count: usize,
        id: u64,
        conn: &Connection,
        out: &mut Vec<u8>,
    ) -> Result<usize, ClientError> {
        let (segment, writer_id) = (self.segment.clone(), self.writer_id);
        let first = state.sent;
        if count == 1 {
            let event = &mut state.events[first];
            let payload = std::mem::take(&mut event.payload);
            let event_number = event.number;
            let (result, payload) = match event.kind {
                Kind::Plain => {
                    let msg = Append {
                        segment,
                        writer_id,
                        event_number,
                        payload,
                    };
                    (conn.encode(&msg, id, out), msg.payload)
                }
                Kind::Conditional { expected_offset } => {
                    let msg = ConditionalAppend {
                        segment,
                        writer_id,
                        event_number,
                        expected_offset,
                        payload,
                    };
                    (conn.encode(&msg, id, out), msg.payload)
                }
            };
            event.payload = payload;
            return result;
        }
        let events = state.events.range_mut(first..first + count);
        let batch = AppendBatch {
            segment,
            writer_id,
            events: events
                .map(|e| BatchEvent {
                    event_number: e.number,
                    payload: std::mem::take(&mut e.payload),
                })
                .collect(),
        };
        let result = conn.encode(&batch, id, out);
        for (event, sent) in state.events.range_mut(first..).zip(batch.events) {
            event.payload = sent.payload;
        }
        result
    }

    /// Reader thread: the request ending at event `last` was answered.
    fn on_reply(self: &Arc<Self>, generation: u64, last: i64, reply: Result<Reply, ClientError>) {
        let finished = {
            let mut state = lock(&self.state);
            if state.generation != generation || state.closed.is_some() {
                return; // written off by a failure: everything is being resent
            }
            let mut finished = self.apply(&mut state, last, reply);
            finished.merge(self.kick(&mut state));
            finished
        };
        self.finish(finished);
    }

    fn apply(
        self: &Arc<Self>,
        state: &mut WriterState,
        last: i64,
        reply: Result<Reply, ClientError>,
    ) -> Finished {
        match reply {
            Ok(Reply::Appended(ack)) if ack.event_number == last => {
                state.resolve_through(last, |event| {
                    Resolution::Appended(Ack {
                        event_number: event.number,
                        segment_length: (event.number == last).then_some(ack.length),
                    })
                })
            }
            Ok(Reply::Appended(ack)) => {
                state.close(Closed::Failed(ClientError::protocol(format_args!(
                    "acked event {} for a request ending at {last}",
                    ack.event_number
                ))))
            }
            Ok(Reply::ConditionalAppendFailed(failed)) => {
                state.resolve_through(last, |_| Resolution::ConditionFailed(failed.current_length))
            }
            Ok(Reply::SegmentIsSealed(sealed)) => state.close(Closed::Sealed(sealed.length)),
            Ok(Reply::NoSuchSegment(_)) => state.close(Closed::NoSuchSegment),
            Ok(Reply::Error(error)) => match ClientError::from_reply(&error) {
                error if error.is_retryable() => self.recover(state, error),
                error => state.close(Closed::Failed(error)),
            },
            Ok(other) => state.close(Closed::Failed(crate::error::unexpected("Append", &other))),
            Err(error) => state.close(Closed::Failed(error)),
        }
    }

    fn on_lost(self: &Arc<Self>, generation: u64, error: ClientError) {
        let finished = {
            let mut state = lock(&self.state);
            if state.generation != generation || state.closed.is_some() {
                return;
            }
            self.recover(&mut state, error)
        };
        self.finish(finished);
    }
}

impl FrameSource for WriterShared {
    fn write_frames(self: Arc<Self>, conn: &Arc<Connection>, out: &mut Vec<u8>) {
        let finished = {
            let mut state = lock(&self.state);
            state.scheduled = false;
            let current = state.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn));
            if state.closed.is_some() || !current {
                return;
            }
            self.build(&mut state, conn, out)
        };
        self.finish(finished);
    }

    fn on_connection_failed(self: Arc<Self>, conn: &Connection, error: ClientError) {
        let finished = {
            let mut state = lock(&self.state);
            let current = state
                .conn
                .as_ref()
                .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), conn));
            if !current || state.closed.is_some() {
                return;
            }
            self.recover(&mut state, error)
        };
        self.finish(finished);
    }
}

/// Waits for the reply to one append request.
struct AppendWaiter {
    shared: Arc<WriterShared>,
    generation: u64,
    last: i64,
}

impl Waiter for AppendWaiter {
    fn on_reply(self: Box<Self>, reply: Result<Reply, ClientError>, _conn: &Arc<Connection>) {
        self.shared.on_reply(self.generation, self.last, reply);
    }

    fn on_lost(self: Box<Self>, error: ClientError) {
        self.shared.on_lost(self.generation, error);
    }
}
