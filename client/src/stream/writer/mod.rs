//! The event writer: events with an optional routing key, routed to the
//! current segment that owns the key's position, framed, batched and
//! pipelined by one segment writer per segment.
//!
//! **Order per key across scaling.** When a segment is sealed under the
//! writer, its rejected events wait; new writes wait too, and once every
//! event in flight has resolved the writer learns the new segments and
//! resends the rejected events in event-number order before anything else.
//! So a key's events reach its successor in order, after all of them that
//! reached the sealed segment.
//!
//! **Exactly-once across restarts.** Event numbers are the writer's, across
//! all segments; the node records each writer's last number per segment and
//! acks a number it has seen without writing it again. A writer opened with
//! a stable name gets the same writer id every time, numbers its events
//! from 0 again, and first reads what the node recorded for it in every
//! segment of the stream. An event is already durable exactly when some
//! segment over its key's position recorded a number at least its own: a
//! segment receives a writer's events in number order, and the resend rule
//! above keeps that true across seals. So an application that re-sends its
//! events from its last checkpoint (or from the start) with the same keys
//! writes each exactly once; events proven durable are acked at once as
//! duplicates without being sent. Unkeyed events get a position derived
//! from their number, so a re-sent one routes where it went the first time.

mod pending;
mod refresh;
mod resume;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use spate_wire::StatusCode;
use spate_wire::stream::{KeyRange, key_position};

use super::StreamName;
use super::framing::{EVENT_HEADER_BYTES, frame_event};
use crate::client::Client;
use crate::completion::{Completer, Completion, completion};
use crate::error::ClientError;
use crate::sync::{lock, wait};
use crate::writer::SegmentWriter;
use pending::Pending;
use resume::Recorded;

/// How to open an [`EventWriter`].
#[derive(Debug, Clone, Default)]
pub struct EventWriterOptions {
    /// A stable name makes the writer exactly-once across restarts (see the
    /// module documentation). `None`: a fresh writer id each time.
    pub name: Option<String>,
}

/// An event is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventAck {
    /// The writer's number for the event.
    pub event_number: i64,
    /// The segment that holds it; `None` if the writer proved it durable
    /// from the node's records without sending it (a re-sent duplicate).
    pub segment: Option<u64>,
}

/// Resolves when an event is durable.
pub type EventFuture = Completion<EventAck>;

/// Writes events to one stream. `Send + Sync`: events written from several
/// threads are numbered in the order they take the writer's lock.
pub struct EventWriter {
    shared: Arc<Shared>,
}

pub(super) struct Shared {
    client: Client,
    name: StreamName,
    writer_id: u128,
    max_event_bytes: usize,
    /// Held while numbering and sending, so each segment gets its events in
    /// number order; the resend after a seal holds it too.
    sender: Mutex<Sender>,
    state: Mutex<State>,
    /// Draining ended, or events resolved (for flush and close).
    changed: Condvar,
    /// Mirrors `State::draining || State::failed.is_some()`, so a write
    /// checks it without taking the state's lock (which the threads
    /// completing acks hold often). A write that slips past a seal still
    /// goes to a segment of the old epoch: acked there, or refused and
    /// resent in order with the rest.
    blocked: AtomicBool,
}

/// What numbering and routing need.
struct Sender {
    routes: Vec<Route>,
    next_number: i64,
    recorded: Recorded,
}

/// A current segment and its writer.
struct Route {
    number: u64,
    range: KeyRange,
    writer: Arc<SegmentWriter>,
}

/// Events between write and ack.
#[derive(Default)]
struct State {
    /// Handed to a segment writer, unresolved.
    in_flight: BTreeMap<i64, Pending>,
    /// Refused by a sealed segment; resent once the writer knows the
    /// successors.
    resend: BTreeMap<i64, Pending>,
    /// A seal was seen: new writes wait until the resend is done.
    draining: bool,
    refreshing: bool,
    /// The writer gave up; every later write fails with this.
    failed: Option<ClientError>,
    flushes: Vec<(i64, Completer<()>)>,
    /// The last number handed out.
    last_number: Option<i64>,
}

impl EventWriter {
    /// Opens a writer on an existing, active stream.
    pub fn open(
        client: &Client,
        name: &StreamName,
        options: EventWriterOptions,
    ) -> Result<EventWriter, ClientError> {
        let writer_id = match &options.name {
            Some(writer) => writer_id_for(name, writer),
            None => random_writer_id(),
        };
        let info = refresh::describe_active(client, name)?;
        let recorded = match options.name {
            Some(_) => Recorded::read(client, &info, writer_id)?,
            None => Recorded::default(),
        };
        let routes = refresh::routes_for(client, &info, writer_id, &[])?;
        let max_frame = client.topology().limits.max_frame_bytes;
        let max_event_bytes = crate::writer::frame_budget(max_frame)
            .min(spate_wire::MAX_EVENT_BYTES)
            - EVENT_HEADER_BYTES;
        Ok(EventWriter {
            shared: Arc::new(Shared {
                client: client.clone(),
                name: name.clone(),
                writer_id,
                max_event_bytes,
                sender: Mutex::new(Sender {
                    routes,
                    next_number: 0,
                    recorded,
                }),
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
                blocked: AtomicBool::new(false),
            }),
        })
    }

    /// The writer id its appends carry.
    pub fn writer_id(&self) -> u128 {
        self.shared.writer_id
    }

    /// The largest event payload this writer takes.
    pub fn max_event_bytes(&self) -> usize {
        self.shared.max_event_bytes
    }

    /// The number the next event gets.
    pub fn next_event_number(&self) -> i64 {
        lock(&self.shared.sender).next_number
    }

    /// The highest event number the node held from this writer's name when
    /// it opened (`None`: none). Events above it were certainly not
    /// written; an application without its own checkpoint can resume there
    /// with [`EventWriter::skip_to`], at the risk of losing events below it
    /// that never became durable. Re-sending from an earlier point is always
    /// safe: durable events are recognised and not written again.
    pub fn highest_recorded(&self) -> Option<i64> {
        lock(&self.shared.sender).recorded.highest()
    }

    /// Makes `number` the next event's number (never lower than now).
    pub fn skip_to(&self, number: i64) {
        let mut sender = lock(&self.shared.sender);
        sender.next_number = sender.next_number.max(number);
    }

    /// Writes one event. Its routing key (hashed to a position in the key
    /// space) decides its segment; events with the same key are read in the
    /// order written. Blocks while the writer's segment writers hold their
    /// maximum of unacknowledged events, and while it moves to new segments
    /// after a seal.
    pub fn write_event(&self, routing_key: Option<&[u8]>, payload: &[u8]) -> EventFuture {
        if payload.len() > self.shared.max_event_bytes {
            return Completion::ready(Err(ClientError::InvalidRequest {
                reason: format!(
                    "event of {} bytes; the most is {}",
                    payload.len(),
                    self.shared.max_event_bytes
                ),
                status: Some(StatusCode::EventTooLarge),
            }));
        }
        if let Err(error) = self.shared.wait_until_open() {
            return Completion::ready(Err(error));
        }
        let (completer, completion) = completion();
        let mut sender = lock(&self.shared.sender);
        let number = sender.next_number;
        sender.next_number += 1;
        let position = routing_key.map_or_else(|| number_position(number), key_position);
        if sender.recorded.holds(position, number) {
            lock(&self.shared.state).last_number = Some(number);
            completer.complete(Ok(EventAck {
                event_number: number,
                segment: None,
            }));
            return completion;
        }
        let pending = Pending::new(position, frame_event(payload), completer);
        self.shared.send(&sender, number, pending);
        completion
    }

    /// Resolves once every event written so far has resolved (fails if the
    /// writer gave up).
    pub fn flush(&self) -> Completion<()> {
        let (completer, completion) = completion();
        let mut state = lock(&self.shared.state);
        if let Some(error) = &state.failed {
            let error = error.clone();
            drop(state);
            completer.complete(Err(error));
            return completion;
        }
        match state.last_number.filter(|&last| state.holds_through(last)) {
            Some(last) => state.flushes.push((last, completer)),
            None => {
                drop(state);
                completer.complete(Ok(()));
            }
        }
        completion
    }

    /// Flushes and waits.
    pub fn close(self) -> Result<(), ClientError> {
        self.flush().wait()
    }
}

impl Shared {
    /// Waits while the writer moves to new segments; fails if it gave up.
    fn wait_until_open(&self) -> Result<(), ClientError> {
        if !self.blocked.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut state = lock(&self.state);
        while state.draining && state.failed.is_none() {
            state = wait(&self.changed, state);
        }
        match &state.failed {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Hands event `number` to the segment writer of its position. The
    /// caller holds the sender lock.
    fn send(self: &Arc<Self>, sender: &Sender, number: i64, mut pending: Pending) {
        let Some(route) = sender
            .routes
            .iter()
            .find(|r| r.range.contains(pending.position))
        else {
            let error = ClientError::fatal("no current segment covers the key space position");
            pending.fail(error);
            return;
        };
        pending.segment = route.number;
        if route.writer.next_event_number() > number {
            // The segment holds a number at least this one from this writer
            // id (an earlier run's appends landed after this writer read the
            // records): the event is durable there.
            pending.acked_as_duplicate(number);
            return;
        }
        let future = route
            .writer
            .append_numbered(number, std::mem::take(&mut pending.framed));
        pending.future = Some(future);
        let mut state = lock(&self.state);
        state.last_number = state.last_number.max(Some(number));
        state.in_flight.insert(number, pending);
        pending::poll_locked(self, state, number);
    }
}

impl State {
    /// Sets `draining` and the writer's fast-path flag with it.
    pub(super) fn set_draining(&mut self, shared: &Shared, draining: bool) {
        self.draining = draining;
        let blocked = self.draining || self.failed.is_some();
        shared.blocked.store(blocked, Ordering::Release);
    }

    /// Whether an event numbered at most `last` is unresolved.
    fn holds_through(&self, last: i64) -> bool {
        let oldest = |m: &BTreeMap<i64, Pending>| m.keys().next().copied();
        [oldest(&self.in_flight), oldest(&self.resend)]
            .into_iter()
            .flatten()
            .any(|n| n <= last)
    }
}

/// The stable writer id of a named writer on a stream.
fn writer_id_for(stream: &StreamName, name: &str) -> u128 {
    let key = format!("spate-writer:{stream}:{name}");
    let high = key_position(key.as_bytes());
    let low = key_position(format!("{key}:low").as_bytes());
    (u128::from(high) << 64) | u128::from(low)
}

fn random_writer_id() -> u128 {
    (u128::from(crate::options::random_u64()) << 64) | u128::from(crate::options::random_u64())
}

/// The position of an unkeyed event: from its number, so a re-sent event
/// goes where it went the first time, and unkeyed events spread evenly.
/// Transactions place their unkeyed events the same way.
pub(super) fn number_position(number: i64) -> u64 {
    key_position(&number.to_le_bytes())
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter")
            .field("stream", &self.shared.name)
            .field("writer_id", &self.shared.writer_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned: a named writer must get the same id in every release, or a
    /// restarted application would write its events again.
    #[test]
    fn named_writer_ids_are_stable() {
        let stream = StreamName::new("shop", "orders").expect("valid");
        let id = writer_id_for(&stream, "ingest-1");
        assert_eq!(id, writer_id_for(&stream, "ingest-1"));
        assert_ne!(id, writer_id_for(&stream, "ingest-2"));
        assert_eq!(id, WRITER_ID_SHOP_ORDERS_INGEST_1);
    }

    const WRITER_ID_SHOP_ORDERS_INGEST_1: u128 = 0xa0ca_544b_6677_284d_9887_3b87_c300_3176;
}
