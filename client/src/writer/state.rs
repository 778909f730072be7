//! A segment writer's bookkeeping, without I/O: which events are
//! unresolved, which of them are on the wire, and when the next frame
//! should go.
//!
//! `events` holds every unresolved event in event-number order. The first
//! `sent` of them are in flight on the current connection; the rest wait.
//! Acks arrive in event-number order, so resolving always pops the front.
//! After a failure everything unresolved is resent in order: the node
//! deduplicates by writer id and event number.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Ack, AppendOutcome, ConditionalOutcome};
use crate::completion::Completer;
use crate::conn::{Connection, WriteTurn};
use crate::error::ClientError;
use crate::options::WriterOptions;

/// Per-event bytes of an `AppendBatch` besides the payload (event number
/// and the payload's relative pointer and length).
const BATCH_EVENT_OVERHEAD: usize = 16;

/// One appended event, kept until it resolves so that it can be resent.
pub(super) struct Event {
    pub number: i64,
    pub payload: Vec<u8>,
    pub kind: Kind,
    /// Appended while the writer was idle: goes out alone, at once.
    pub idle: bool,
    pub done: Done,
}

/// Plain append or conditional append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Plain,
    Conditional { expected_offset: u64 },
}

/// Whoever waits for an event.
pub(super) enum Done {
    Plain(Completer<AppendOutcome>),
    Conditional(Completer<ConditionalOutcome>),
    /// As `Plain`, and an event that was not appended comes back with its
    /// payload (the event writer resends it elsewhere without a copy).
    Returning(Completer<Returned>),
}

/// The outcome of a [`Done::Returning`] append: the payload is `Some` unless
/// the event was appended.
pub(crate) type Returned = (AppendOutcome, Option<Vec<u8>>);

/// How an event ended.
pub(super) enum Resolution {
    Appended(Ack),
    Sealed(u64),
    NoSuchSegment,
    ConditionFailed(u64),
    Failed(ClientError),
}

/// Why the writer takes no more appends.
#[derive(Debug, Clone)]
pub(super) enum Closed {
    Sealed(u64),
    NoSuchSegment,
    Failed(ClientError),
}

impl Closed {
    pub(super) fn resolution(&self) -> Resolution {
        match self {
            Closed::Sealed(length) => Resolution::Sealed(*length),
            Closed::NoSuchSegment => Resolution::NoSuchSegment,
            Closed::Failed(error) => Resolution::Failed(error.clone()),
        }
    }
}

impl Done {
    /// Resolves the event; `payload` is its bytes (given back by a
    /// `Returning` append that was not appended).
    pub(super) fn resolve(self, resolution: Resolution, payload: Vec<u8>) {
        match self {
            Done::Returning(completer) => completer.complete(match resolution {
                Resolution::Appended(ack) => Ok((AppendOutcome::Appended(ack), None)),
                Resolution::Sealed(length) => Ok((AppendOutcome::Sealed { length }, Some(payload))),
                Resolution::NoSuchSegment => Ok((AppendOutcome::NoSuchSegment, Some(payload))),
                Resolution::ConditionFailed(_) => Err(ClientError::protocol(
                    "ConditionalAppendFailed for a plain append",
                )),
                Resolution::Failed(error) => Err(error),
            }),
            Done::Plain(completer) => completer.complete(match resolution {
                Resolution::Appended(ack) => Ok(AppendOutcome::Appended(ack)),
                Resolution::Sealed(length) => Ok(AppendOutcome::Sealed { length }),
                Resolution::NoSuchSegment => Ok(AppendOutcome::NoSuchSegment),
                Resolution::ConditionFailed(_) => Err(ClientError::protocol(
                    "ConditionalAppendFailed for a plain append",
                )),
                Resolution::Failed(error) => Err(error),
            }),
            Done::Conditional(completer) => completer.complete(match resolution {
                Resolution::Appended(ack) => Ok(ConditionalOutcome::Appended(ack)),
                Resolution::Sealed(length) => Ok(ConditionalOutcome::Sealed { length }),
                Resolution::NoSuchSegment => Ok(ConditionalOutcome::NoSuchSegment),
                Resolution::ConditionFailed(current_length) => {
                    Ok(ConditionalOutcome::ConditionalAppendFailed { current_length })
                }
                Resolution::Failed(error) => Err(error),
            }),
        }
    }
}

/// Completions collected under the lock, fired after it is released (a
/// waker may run code that takes the lock again); also the connection's
/// writer role, when scheduling got it (the frames are built under the
/// same lock, so they too wait for its release).
#[derive(Default)]
#[must_use = "completions must be fired after the lock is released"]
pub(super) struct Finished {
    turns: Vec<WriteTurn>,
    events: Vec<(Done, Resolution, Vec<u8>)>,
    flushes: Vec<(Completer<()>, Result<(), ClientError>)>,
}

impl Finished {
    /// Nothing to complete; `turn` to run.
    pub(super) fn turn(turn: Option<WriteTurn>) -> Self {
        Finished {
            turns: turn.into_iter().collect(),
            ..Finished::default()
        }
    }

    /// Sends first (the node's work starts sooner), then completes.
    pub(super) fn fire(self) {
        for turn in self.turns {
            turn.run();
        }
        for (done, resolution, payload) in self.events {
            done.resolve(resolution, payload);
        }
        for (completer, result) in self.flushes {
            completer.complete(result);
        }
    }

    pub(super) fn merge(&mut self, other: Finished) {
        self.turns.extend(other.turns);
        self.events.extend(other.events);
        self.flushes.extend(other.flushes);
    }
}

/// Everything a writer knows, behind its lock.
pub(super) struct WriterState {
    pub events: VecDeque<Event>,
    /// Leading events of `events` that are in flight.
    pub sent: usize,
    sent_bytes: usize,
    outstanding_bytes: usize,
    /// Requests in flight (each covers one or more events).
    pub in_flight: usize,
    pub next_number: i64,
    /// The connection in use; `None` while recovering or idle after one.
    pub conn: Option<Arc<Connection>>,
    /// Bumped whenever in-flight requests are written off, so that their
    /// late replies are ignored.
    pub generation: u64,
    /// A frame-building job is queued or parked on `conn`.
    pub scheduled: bool,
    /// An ack arrived (or the writer reattached): send what is gathered.
    pub send_now: bool,
    /// Failures since the last ack; bounded by the retry policy.
    pub failures: u32,
    /// A reattach job is queued on the retrier.
    pub recovering: bool,
    pub closed: Option<Closed>,
    /// Flush waiters: resolved once every event up to the number is.
    flushes: Vec<(i64, Completer<()>)>,
}

impl WriterState {
    pub(super) fn new(next_number: i64, conn: Option<Arc<Connection>>) -> Self {
        WriterState {
            events: VecDeque::new(),
            sent: 0,
            sent_bytes: 0,
            outstanding_bytes: 0,
            in_flight: 0,
            next_number,
            conn,
            generation: 0,
            scheduled: false,
            send_now: false,
            failures: 0,
            recovering: false,
            closed: None,
            flushes: Vec::new(),
        }
    }

    /// True if one more event of `len` bytes must wait for room.
    pub(super) fn is_full(&self, options: &WriterOptions, len: usize) -> bool {
        !self.events.is_empty()
            && (self.events.len() >= options.max_outstanding_events
                || self.outstanding_bytes + len > options.max_outstanding_bytes)
    }

    /// Adds an event with the next number; returns that number.
    #[cfg(test)]
    pub(super) fn push(&mut self, payload: Vec<u8>, kind: Kind, done: Done) -> i64 {
        let number = self.next_number;
        self.push_numbered(number, payload, kind, done)
    }

    /// Adds an event numbered `number`, at least the next number: numbers
    /// need only increase, so a writer whose numbers span several segments
    /// (the event writer) leaves gaps in each.
    pub(super) fn push_numbered(
        &mut self,
        number: i64,
        payload: Vec<u8>,
        kind: Kind,
        done: Done,
    ) -> i64 {
        assert!(number >= self.next_number, "event numbers only increase");
        self.next_number = number + 1;
        let idle = self.in_flight == 0 && self.sent == self.events.len();
        self.outstanding_bytes += payload.len();
        self.events.push_back(Event {
            number,
            payload,
            kind,
            idle,
            done,
        });
        number
    }

    fn unsent(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().skip(self.sent)
    }

    /// Whether a frame should be built now. Latency first when idle (an
    /// event appended with nothing in flight goes out alone, at once);
    /// throughput under load (otherwise events gather until an ack arrives
    /// or a batch is full).
    pub(super) fn should_send(&self, options: &WriterOptions, budget: usize) -> bool {
        let Some(front) = self.events.get(self.sent) else {
            return false;
        };
        let unsent = self.events.len() - self.sent;
        let unsent_bytes = self.outstanding_bytes - self.sent_bytes;
        self.in_flight == 0
            || self.send_now
            || front.idle
            || unsent >= options.max_batch_events
            || unsent_bytes >= options.max_batch_bytes.min(budget)
    }

    /// How many unsent events the next request carries: one for an idle or
    /// conditional event, else as many plain events as the batch bounds and
    /// the frame `budget` allow (at least one).
    pub(super) fn next_request_len(&self, options: &WriterOptions, budget: usize) -> usize {
        let limit = options.max_batch_bytes.min(budget);
        let mut count = 0;
        let mut bytes = 0;
        for event in self.unsent() {
            let solo = event.idle || event.kind != Kind::Plain;
            if count > 0 && solo {
                break;
            }
            let size = event.payload.len() + BATCH_EVENT_OVERHEAD;
            if count > 0 && (bytes + size > limit || count >= options.max_batch_events) {
                break;
            }
            count += 1;
            bytes += size;
            if solo {
                break;
            }
        }
        count
    }

    /// The next `count` unsent events are now in flight in one request.
    pub(super) fn mark_sent(&mut self, count: usize) {
        let bytes: usize = self.unsent().take(count).map(|e| e.payload.len()).sum();
        self.sent += count;
        self.sent_bytes += bytes;
        self.in_flight += 1;
        self.send_now = false;
    }

    /// The request ending at event `last` resolved; its events (the front
    /// ones, acks being in order) resolve with `resolution(event)`.
    pub(super) fn resolve_through(
        &mut self,
        last: i64,
        mut resolution: impl FnMut(&Event) -> Resolution,
    ) -> Finished {
        let mut finished = Finished::default();
        while self.sent > 0 && self.events.front().is_some_and(|e| e.number <= last) {
            let Some(event) = self.events.pop_front() else {
                break;
            };
            self.sent -= 1;
            self.sent_bytes -= event.payload.len();
            self.outstanding_bytes -= event.payload.len();
            let outcome = resolution(&event);
            finished.events.push((event.done, outcome, event.payload));
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.failures = 0;
        if self.events.len() > self.sent {
            self.send_now = true;
        }
        finished.merge(self.resolve_flushes());
        finished
    }

    /// Writes off everything in flight: it will all be sent again.
    pub(super) fn rewind(&mut self) {
        self.generation += 1;
        self.conn = None;
        self.sent = 0;
        self.sent_bytes = 0;
        self.in_flight = 0;
        self.scheduled = false;
        self.send_now = true;
        for event in &mut self.events {
            event.idle = false;
        }
    }

    /// Takes no more appends; every unresolved event and flush resolves.
    pub(super) fn close(&mut self, closed: Closed) -> Finished {
        self.generation += 1;
        self.conn = None;
        let mut finished = Finished::default();
        for event in self.events.drain(..) {
            finished
                .events
                .push((event.done, closed.resolution(), event.payload));
        }
        (
            self.sent,
            self.sent_bytes,
            self.outstanding_bytes,
            self.in_flight,
        ) = (0, 0, 0, 0);
        let result = match &closed {
            Closed::Failed(error) => Err(error.clone()),
            Closed::Sealed(_) | Closed::NoSuchSegment => Ok(()),
        };
        for (_, completer) in self.flushes.drain(..) {
            finished.flushes.push((completer, result.clone()));
        }
        self.closed = Some(closed);
        finished
    }

    /// Registers a flush of everything appended so far; `None` if there is
    /// nothing to wait for.
    pub(super) fn add_flush(&mut self, completer: Completer<()>) -> Option<Completer<()>> {
        match self.events.back() {
            Some(last) => {
                self.flushes.push((last.number, completer));
                None
            }
            None => Some(completer),
        }
    }

    fn resolve_flushes(&mut self) -> Finished {
        let oldest = self.events.front().map(|e| e.number);
        let mut finished = Finished::default();
        let (done, waiting) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|(target, _)| oldest.is_none_or(|oldest| *target < oldest));
        self.flushes = waiting;
        let done: Vec<(i64, Completer<()>)> = done;
        finished
            .flushes
            .extend(done.into_iter().map(|(_, completer)| (completer, Ok(()))));
        finished
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
