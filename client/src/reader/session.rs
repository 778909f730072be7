//! A segment reader's moving parts: one read request in flight at a time,
//! issued ahead of the application up to `prefetch_chunks` buffered chunks,
//! reissued at once after an empty long poll, and resent after failures.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::Waker;
use std::time::Duration;

use spate_wire::{Read, Reply, Request};

use super::{ReadChunk, ReadOutcome};
use crate::client::ClientInner;
use crate::conn::{Connection, Refusal, Refused, Waiter};
use crate::error::ClientError;
use crate::options::RetryPolicy;
use crate::retrier::Retrier;
use crate::sync::lock;

/// The part of a reader shared with the I/O threads and the retrier.
pub(super) struct ReaderShared {
    pub segment: String,
    client: Weak<ClientInner>,
    retrier: Arc<Retrier>,
    policy: RetryPolicy,
    max_bytes: u32,
    wait_ms: u32,
    prefetch: usize,
    pub state: Mutex<ReaderState>,
    /// Signalled when something becomes ready (for blocking waits).
    pub ready_signal: Condvar,
}

pub(super) struct ReaderState {
    /// Offset the next request reads from.
    pub next_offset: u64,
    /// Chunks fetched ahead, at most `prefetch`.
    pub ready: VecDeque<ReadChunk>,
    /// How reading ended (end of segment, truncated, no segment); returned
    /// once `ready` is drained, as often as asked.
    pub end: Option<ReadOutcome>,
    /// Why reading failed for good; returned as often as asked.
    pub error: Option<ClientError>,
    /// A request is in flight or waiting to be resent.
    in_flight: bool,
    /// Bumped by a seek: replies to older requests are ignored.
    pub generation: u64,
    failures: u32,
    pub waker: Option<Waker>,
    /// The reader was dropped: issue nothing more.
    pub closed: bool,
}

impl ReaderState {
    /// Forgets requests in flight (after a seek their replies are ignored).
    pub(super) fn reset_requests(&mut self) {
        self.in_flight = false;
        self.failures = 0;
    }
}

/// A request to send: the read and the generation it belongs to.
pub(super) struct Next {
    read: Read,
    generation: u64,
}

impl ReaderShared {
    pub(super) fn new(client: &Arc<ClientInner>, segment: &str, start_offset: u64) -> Self {
        let options = client.options.reader;
        let frame = client.topology().limits.max_frame_bytes;
        let largest = frame.saturating_sub(spate_wire::READ_DATA_OVERHEAD).max(1);
        ReaderShared {
            segment: segment.into(),
            client: Arc::downgrade(client),
            retrier: Arc::clone(&client.retrier),
            policy: client.options.retry,
            max_bytes: options.max_read_bytes.clamp(1, largest),
            wait_ms: options.wait_ms(),
            prefetch: options.prefetch_chunks.max(1),
            state: Mutex::new(ReaderState {
                next_offset: start_offset,
                ready: VecDeque::new(),
                end: None,
                error: None,
                in_flight: false,
                generation: 0,
                failures: 0,
                waker: None,
                closed: false,
            }),
            ready_signal: Condvar::new(),
        }
    }

    /// The next request, if one should be in flight and is not.
    pub(super) fn next_request(&self, state: &mut ReaderState) -> Option<Next> {
        let stopped = state.closed || state.end.is_some() || state.error.is_some();
        if stopped || state.in_flight || state.ready.len() >= self.prefetch {
            return None;
        }
        state.in_flight = true;
        Some(Next {
            read: Read {
                segment: self.segment.clone(),
                offset: state.next_offset,
                max_bytes: self.max_bytes,
                wait_ms: self.wait_ms,
            },
            generation: state.generation,
        })
    }

    /// Sends from an application or retrier thread: may connect and wait
    /// for room on the connection.
    pub(super) fn send(self: &Arc<Self>, client: &ClientInner, next: Next) {
        let waiter = self.waiter(&next);
        match client.connection_for(&self.segment) {
            Ok(conn) => {
                if let Err(Refused { reason, waiter }) =
                    conn.send(&Request::Read(next.read), waiter)
                {
                    waiter.on_unsent(refusal_error(reason));
                }
            }
            Err(error) => waiter.on_unsent(error),
        }
    }

    /// Sends from a thread that must not wait (an I/O thread, a poll):
    /// straight onto `conn` if it has room, else through the retrier.
    fn send_soon(self: &Arc<Self>, conn: Option<&Arc<Connection>>, next: Next) {
        let next = match conn {
            Some(conn) => {
                let waiter = self.waiter(&next);
                let read = Request::Read(next.read.clone());
                match conn.try_send(&read, waiter) {
                    Ok(()) => return,
                    Err(Refused {
                        reason: Refusal::Full,
                        ..
                    }) => next,
                    Err(Refused {
                        reason: Refusal::Failed(error),
                        waiter,
                    }) => {
                        return waiter.on_unsent(error);
                    }
                }
            }
            None => next,
        };
        self.after(Duration::ZERO, next);
    }

    /// Queues `next` on the retrier, which may wait.
    fn after(self: &Arc<Self>, delay: Duration, next: Next) {
        let shared = Arc::clone(self);
        let queued = self
            .retrier
            .after(delay, move || match shared.client.upgrade() {
                Some(client) => shared.send(&client, next),
                None => shared.failed(next.generation, ClientError::closed()),
            });
        if !queued {
            // Closed: the client is gone, and so is any hope of a reply.
            lock(&self.state)
                .error
                .get_or_insert_with(ClientError::closed);
            self.notify(None, None);
        }
    }

    fn waiter(self: &Arc<Self>, next: &Next) -> Box<dyn Waiter> {
        Box::new(ReadWaiter {
            shared: Arc::clone(self),
            generation: next.generation,
            offset: next.read.offset,
        })
    }

    /// Something became ready: wake the application, issue the next read.
    pub(super) fn notify(self: &Arc<Self>, conn: Option<&Arc<Connection>>, next: Option<Next>) {
        let waker = lock(&self.state).waker.take();
        self.ready_signal.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
        if let Some(next) = next {
            self.send_soon(conn, next);
        }
    }

    fn on_reply(
        self: &Arc<Self>,
        generation: u64,
        offset: u64,
        reply: Result<Reply, ClientError>,
        conn: &Arc<Connection>,
    ) {
        let applied = {
            let mut state = lock(&self.state);
            if state.generation != generation || state.closed {
                return;
            }
            state.in_flight = false;
            self.apply(&mut state, offset, reply)
                .map(|()| self.next_request(&mut state))
        };
        match applied {
            Ok(next) => self.notify(Some(conn), next),
            Err(error) => self.failed(generation, error),
        }
    }

    /// Takes a reply in; `Err` for a failure that may be retried.
    fn apply(
        &self,
        state: &mut ReaderState,
        offset: u64,
        reply: Result<Reply, ClientError>,
    ) -> Result<(), ClientError> {
        match reply {
            Ok(Reply::ReadData(data)) if data.offset == offset => {
                state.failures = 0;
                let end = offset.checked_add(data.data.len() as u64);
                let Some(end) = end else {
                    state.error = Some(ClientError::protocol("ReadData past the largest offset"));
                    return Ok(());
                };
                state.next_offset = end;
                if data.end_of_segment {
                    state.end = Some(ReadOutcome::EndOfSegment { offset: end });
                }
                // An empty answer is a long poll that timed out: read again.
                if !data.data.is_empty() {
                    state.ready.push_back(ReadChunk {
                        offset,
                        data: data.data,
                        end_of_segment: data.end_of_segment,
                    });
                }
            }
            Ok(Reply::ReadData(data)) => {
                let what = format!("ReadData at {} for a read at {offset}", data.offset);
                state.error = Some(ClientError::protocol(what));
            }
            Ok(Reply::SegmentIsTruncated(t)) => {
                state.end = Some(ReadOutcome::Truncated {
                    start_offset: t.start_offset,
                });
            }
            Ok(Reply::NoSuchSegment(_)) => state.end = Some(ReadOutcome::NoSuchSegment),
            Ok(Reply::Error(error)) => return Err(ClientError::from_reply(&error)),
            Ok(other) => state.error = Some(crate::error::unexpected("Read", &other)),
            Err(error) => state.error = Some(error),
        }
        Ok(())
    }

    /// A read failed: resend after a backoff (reads are idempotent) or, past
    /// the retry bound or for a non-retryable error, stop with the error.
    fn failed(self: &Arc<Self>, generation: u64, error: ClientError) {
        let retry = {
            let mut state = lock(&self.state);
            if state.generation != generation || state.closed {
                return;
            }
            state.in_flight = false;
            if error.is_retryable() && state.failures < self.policy.max_attempts {
                state.failures += 1;
                let delay = self.policy.backoff(state.failures);
                self.next_request(&mut state).map(|next| (delay, next))
            } else {
                state.error = Some(match state.failures {
                    0 => error,
                    n => error.context(format_args!("read gave up after {} attempts", n + 1)),
                });
                None
            }
        };
        match retry {
            Some((delay, next)) => self.after(delay, next),
            None => self.notify(None, None),
        }
    }
}

fn refusal_error(reason: Refusal) -> ClientError {
    match reason {
        Refusal::Failed(error) => error,
        Refusal::Full => ClientError::retryable("connection full"),
    }
}

/// Waits for the reply to one read.
struct ReadWaiter {
    shared: Arc<ReaderShared>,
    generation: u64,
    offset: u64,
}

impl Waiter for ReadWaiter {
    fn on_reply(self: Box<Self>, reply: Result<Reply, ClientError>, conn: &Arc<Connection>) {
        self.shared
            .on_reply(self.generation, self.offset, reply, conn);
    }

    fn on_lost(self: Box<Self>, error: ClientError) {
        self.shared.failed(self.generation, error);
    }
}
