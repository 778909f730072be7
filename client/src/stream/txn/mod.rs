//! Transactions: events that join a stream together, or not at all
//! (Pravega's `TransactionalEventStreamWriter`).
//!
//! [`Client::begin_transaction`] asks the node for a transaction: one
//! transaction segment per current segment of the stream, over the same
//! key ranges. [`Transaction::write_event`] routes each event by its key
//! exactly as the [`super::EventWriter`] does and queues it, framed as a
//! stream event, on one pipelined segment writer per transaction segment
//! (opened at its first event). The events are durable there but invisible
//! to readers until [`Transaction::commit`], which flushes them and asks
//! the node to merge every transaction segment into its parent; the node
//! answers once the merge is durable. A stream scaled meanwhile does not
//! matter to the client: the node commits into the new segments.
//!
//! **Leases.** The node aborts a transaction that hears nothing about it
//! for a lease (deleting its segments). Writes and flushes ping on their
//! own when a third of the lease has passed (`lease.rs`); a transaction
//! left idle longer than its lease needs [`Transaction::ping`].
//!
//! **Ended transactions.** An event refused because its transaction
//! segment is gone or sealed means the transaction ended under the writer
//! (expired, aborted or committed). The transaction then fails: it asks the
//! node how it ended, and every later write, flush and ping returns an
//! error that says so. Its commit answers [`TxnOutcome::Aborted`] if the
//! node says aborted: an expired transaction is an outcome, not an error.

mod calls;
mod lease;
mod routes;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use spate_wire::{MAX_TXN_LEASE_MS, MIN_TXN_LEASE_MS, StatusCode, TxnStatus, txn_segment_name};

use super::framing::{EVENT_HEADER_BYTES, frame_event};
use super::{StreamName, StreamOutcome};
use crate::client::Client;
use crate::completion::Completion;
use crate::error::ClientError;
use crate::sync::lock;
use crate::writer::{AppendFuture, AppendOutcome, FlushFuture, SegmentWriter};
use lease::{Keeper, LeaseClock, PingAnswer};
use routes::{Routes, event_position};

/// How a transaction ended, as its commit or abort reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnOutcome {
    /// Its events are in the stream, durable.
    Committed,
    /// Its events were dropped: it was aborted, or its lease ran out.
    Aborted,
}

/// An open transaction on one stream. `Send + Sync`: events written from
/// several threads are queued in the order they take its lock, and each
/// key's events are read in that order once it commits.
///
/// Dropping it without [`Transaction::commit`] or [`Transaction::abort`]
/// leaves it open until its lease runs out; the node then aborts it.
pub struct Transaction {
    client: Client,
    stream: StreamName,
    id: u64,
    epoch: u32,
    /// The lease the node granted, asked for again by every ping.
    lease_ms: u64,
    /// One per transaction: its segments are new, so numbering starts at 0.
    writer_id: u128,
    max_event_bytes: usize,
    writes: Mutex<Writes>,
    keeper: Mutex<Keeper>,
}

/// What writing needs: where events go and what is still unresolved.
struct Writes {
    routes: Routes,
    /// One per route, in the same order.
    lanes: Vec<Lane>,
    /// Events written so far (an unkeyed event's position comes from it).
    written: i64,
    /// Set once the transaction can take no more events.
    failure: Option<Failure>,
}

/// One transaction segment: its writer, opened at its first event, and the
/// appends not yet seen resolved, oldest first.
#[derive(Default)]
struct Lane {
    writer: Option<SegmentWriter>,
    pending: VecDeque<AppendFuture>,
}

/// Why the transaction takes no more events.
#[derive(Debug, Clone)]
struct Failure {
    error: ClientError,
    /// How the node says it ended, when it ended (rather than an append
    /// failing for another reason).
    status: Option<TxnStatus>,
}

/// An append came back without being written.
enum Problem {
    /// The transaction segment refused it: the transaction ended.
    Ended(StatusCode),
    /// The segment writer gave up (the node unreachable past the retry
    /// policy, a closed client, ...).
    Failed(ClientError),
}

impl Client {
    /// Begins a transaction on `stream`: its events join the stream when it
    /// commits, all of them at once. The node aborts it if it hears nothing
    /// about it for `lease` (`MIN_TXN_LEASE_MS` to `MAX_TXN_LEASE_MS`);
    /// writes and flushes renew it as they go. Fails with `InvalidRequest`
    /// if the stream does not exist, and with status `StreamStateConflict`
    /// if it is sealed.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// use spate_client::{Client, ClientOptions, StreamName, TxnOutcome};
    ///
    /// # fn main() -> Result<(), spate_client::ClientError> {
    /// let client = Client::connect("127.0.0.1:7000", ClientOptions::default())?;
    /// let orders = StreamName::new("shop", "orders")?;
    /// let txn = client.begin_transaction(&orders, Duration::from_secs(30))?;
    /// txn.write_event(Some(b"customer-7"), b"order 1")?;
    /// txn.write_event(Some(b"customer-9"), b"order 2")?;
    /// match txn.commit()? {
    ///     TxnOutcome::Committed => println!("both orders are in the stream"),
    ///     TxnOutcome::Aborted => println!("neither is: the lease ran out"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn begin_transaction(
        &self,
        stream: &StreamName,
        lease: Duration,
    ) -> Result<Transaction, ClientError> {
        Transaction::begin(self, stream, lease)
    }

    /// The state of transaction `id` of `stream` (any process can ask).
    pub fn transaction_state(
        &self,
        stream: &StreamName,
        id: u64,
    ) -> Completion<StreamOutcome<TxnStatus>> {
        calls::state(self, stream, id)
    }
}

impl Transaction {
    fn begin(
        client: &Client,
        stream: &StreamName,
        lease: Duration,
    ) -> Result<Transaction, ClientError> {
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        if !(MIN_TXN_LEASE_MS..=MAX_TXN_LEASE_MS).contains(&lease_ms) {
            return Err(ClientError::invalid(format!(
                "a transaction lease of {lease_ms} ms; it must be {MIN_TXN_LEASE_MS} to \
                 {MAX_TXN_LEASE_MS} ms"
            )));
        }
        let sent = Instant::now();
        let begun = calls::begin(client, stream, lease_ms)
            .wait()?
            .found(&stream.to_string())?;
        let routes = Routes::new(begun.segments).map_err(|reason| {
            ClientError::protocol(format_args!(
                "transaction {:016x} on {stream} has segments that {reason}",
                begun.id
            ))
        })?;
        let max_frame = client.topology().limits.max_frame_bytes;
        let max_event_bytes = crate::writer::frame_budget(max_frame)
            .min(spate_wire::MAX_EVENT_BYTES)
            - EVENT_HEADER_BYTES;
        let lanes = (0..routes.len()).map(|_| Lane::default()).collect();
        let clock = LeaseClock::new(Duration::from_millis(begun.lease_ms), sent);
        Ok(Transaction {
            client: client.clone(),
            stream: stream.clone(),
            id: begun.id,
            epoch: begun.epoch,
            lease_ms: begun.lease_ms,
            writer_id: (u128::from(crate::options::random_u64()) << 64)
                | u128::from(crate::options::random_u64()),
            max_event_bytes,
            writes: Mutex::new(Writes {
                routes,
                lanes,
                written: 0,
                failure: None,
            }),
            keeper: Mutex::new(Keeper::new(clock)),
        })
    }

    /// The transaction's id on its stream.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The stream it writes to.
    pub fn stream(&self) -> &StreamName {
        &self.stream
    }

    /// The epoch whose segments it began over.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The lease the node granted.
    pub fn lease(&self) -> Duration {
        lock(&self.keeper).clock.lease()
    }

    /// The largest event payload it takes.
    pub fn max_event_bytes(&self) -> usize {
        self.max_event_bytes
    }

    /// Writes one event into the transaction. Its routing key decides its
    /// segment as for the event writer (unkeyed events spread over all of
    /// them); events with one key are read in the order written once the
    /// transaction commits. Returns once the event is queued, blocking only
    /// while the segment's writer holds its maximum of unresolved events
    /// (and, at a segment's first event, while its writer opens). A failure
    /// already known is returned here; others come from
    /// [`Transaction::flush`] or [`Transaction::commit`].
    pub fn write_event(
        &self,
        routing_key: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<(), ClientError> {
        if payload.len() > self.max_event_bytes {
            return Err(ClientError::InvalidRequest {
                reason: format!(
                    "event of {} bytes; the most is {}",
                    payload.len(),
                    self.max_event_bytes
                ),
                status: Some(StatusCode::EventTooLarge),
            });
        }
        self.keep_alive();
        let mut writes = lock(&self.writes);
        if let Some(failure) = &writes.failure {
            return Err(failure.error.clone());
        }
        let index = writes
            .routes
            .index_for(event_position(routing_key, writes.written));
        if let Err(problem) = reap(&mut writes.lanes[index]) {
            return Err(self.fail(&mut writes, problem));
        }
        if writes.lanes[index].writer.is_none() {
            let parent = writes.routes.segment(index).parent;
            let segment =
                txn_segment_name(&self.stream.scope, &self.stream.stream, parent, self.id);
            match self.client.segment_writer(&segment, self.writer_id) {
                Ok(writer) => writes.lanes[index].writer = Some(writer),
                Err(error) if error.status() == Some(StatusCode::NoSuchSegment) => {
                    return Err(self.fail(&mut writes, Problem::Ended(StatusCode::NoSuchSegment)));
                }
                // Nothing was queued: the transaction is as it was.
                Err(error) => return Err(error),
            }
        }
        let lane = &mut writes.lanes[index];
        let writer = lane.writer.as_ref().expect("opened above");
        lane.pending.push_back(writer.append(frame_event(payload)));
        writes.written += 1;
        Ok(())
    }

    /// Returns once every event written so far is durable in the
    /// transaction's segments (not yet in the stream: that is the commit).
    /// It renews the lease as it waits.
    pub fn flush(&self) -> Result<(), ClientError> {
        self.keep_alive();
        let flushes: Vec<FlushFuture> = {
            let writes = lock(&self.writes);
            if let Some(failure) = &writes.failure {
                return Err(failure.error.clone());
            }
            writes
                .lanes
                .iter()
                .filter_map(|lane| lane.writer.as_ref().map(SegmentWriter::flush))
                .collect()
        };
        // A flush fails only if its writer gave up; its appends say why.
        let mut gave_up = None;
        for flush in flushes {
            if let Err(error) = self.wait_keeping_alive(flush) {
                gave_up.get_or_insert(error);
            }
        }
        let mut writes = lock(&self.writes);
        if let Some(failure) = &writes.failure {
            return Err(failure.error.clone());
        }
        for index in 0..writes.lanes.len() {
            if let Err(problem) = reap(&mut writes.lanes[index]) {
                return Err(self.fail(&mut writes, problem));
            }
        }
        match gave_up {
            Some(error) => Err(self.fail(&mut writes, Problem::Failed(error))),
            None => Ok(()),
        }
    }

    /// Renews the lease now. The answer says whether the transaction is
    /// still open; if it is not, later writes fail saying how it ended.
    pub fn ping(&self) -> Result<TxnStatus, ClientError> {
        let sent = Instant::now();
        let status = calls::ping(&self.client, &self.stream, self.id, self.lease_ms)
            .wait()?
            .found(&self.stream.to_string())?;
        lock(&self.keeper).clock.renewed(sent);
        if status != TxnStatus::Open {
            self.ended_as(status);
        }
        Ok(status)
    }

    /// Flushes, then commits: every event joins the stream, and it returns
    /// once they are durable there. [`TxnOutcome::Aborted`] if the
    /// transaction had been aborted or its lease had run out.
    ///
    /// If the flush fails for another reason (the node unreachable past the
    /// client's retry policy), some events may be missing: the transaction
    /// is not committed but aborted, and the error says so. If the commit
    /// request itself fails that way, the transaction may or may not have
    /// committed: [`Client::transaction_state`] tells.
    pub fn commit(self) -> Result<TxnOutcome, ClientError> {
        if let Err(error) = self.flush() {
            return self.not_flushed(error);
        }
        let status = calls::commit(&self.client, &self.stream, self.id)
            .wait()?
            .found(&self.stream.to_string())?;
        match status {
            TxnStatus::Committed => Ok(TxnOutcome::Committed),
            TxnStatus::Aborted => Ok(TxnOutcome::Aborted),
            TxnStatus::Unknown => Err(self.unknown()),
            TxnStatus::Open => Err(ClientError::protocol(format_args!(
                "answered the commit of transaction {:016x} with Open",
                self.id
            ))),
        }
    }

    /// Aborts: its events are dropped. [`TxnOutcome::Committed`] if it had
    /// committed first.
    pub fn abort(self) -> Result<TxnOutcome, ClientError> {
        let status = calls::abort(&self.client, &self.stream, self.id)
            .wait()?
            .found(&self.stream.to_string())?;
        match status {
            TxnStatus::Aborted => Ok(TxnOutcome::Aborted),
            TxnStatus::Committed => Ok(TxnOutcome::Committed),
            TxnStatus::Unknown => Err(self.unknown()),
            TxnStatus::Open => Err(ClientError::protocol(format_args!(
                "answered the abort of transaction {:016x} with Open",
                self.id
            ))),
        }
    }

    /// Where the transaction is, as the node sees it now.
    pub fn state(&self) -> Result<TxnStatus, ClientError> {
        self.client
            .transaction_state(&self.stream, self.id)
            .wait()?
            .found(&self.stream.to_string())
    }

    /// Renews the lease if a third of it has passed, without waiting; takes
    /// the answer of an earlier automatic ping if it has come.
    fn keep_alive(&self) {
        let answer = lock(&self.keeper).tick(Instant::now(), || {
            calls::ping(&self.client, &self.stream, self.id, self.lease_ms)
        });
        match answer {
            Some(Ok(StreamOutcome::Done(status))) if status != TxnStatus::Open => {
                self.ended_as(status);
            }
            // Open; or the ping failed (the next one may not), or the
            // stream is gone (the next append says so).
            Some(_) | None => {}
        }
    }

    /// Waits for `completion`, renewing the lease meanwhile: a flush
    /// behind many events may take longer than a short lease.
    fn wait_keeping_alive<T>(&self, mut completion: Completion<T>) -> Result<T, ClientError> {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut context = Context::from_waker(&waker);
        let pause = self.lease() / 6;
        loop {
            if let Poll::Ready(result) = Pin::new(&mut completion).poll(&mut context) {
                return result;
            }
            std::thread::park_timeout(pause);
            self.keep_alive();
        }
    }

    /// Records that the node says the transaction is no longer open.
    fn ended_as(&self, status: TxnStatus) {
        let mut writes = lock(&self.writes);
        if writes.failure.is_none() {
            writes.failure = Some(self.ended_failure(Ok(StreamOutcome::Done(status)), None));
        }
    }

    /// Makes the transaction failed because of `problem` (unless it already
    /// is); returns the error every later call gets.
    fn fail(&self, writes: &mut Writes, problem: Problem) -> ClientError {
        if writes.failure.is_none() {
            let failure = match problem {
                Problem::Ended(refusal) => {
                    let state = self.client.transaction_state(&self.stream, self.id).wait();
                    self.ended_failure(state, Some(refusal))
                }
                Problem::Failed(error) => Failure {
                    error: error.context(format_args!(
                        "transaction {:016x} on {}: an event could not be written, so it \
                         cannot commit",
                        self.id, self.stream
                    )),
                    status: None,
                },
            };
            writes.failure = Some(failure);
        }
        writes
            .failure
            .as_ref()
            .map(|failure| failure.error.clone())
            .expect("set above")
    }

    /// The failure of a transaction that ended, from what the node said
    /// about it (`state`) and the refusal that showed it, if any.
    fn ended_failure(&self, state: PingAnswer, refusal: Option<StatusCode>) -> Failure {
        let (status, how) = match state {
            Ok(StreamOutcome::Done(status)) => (Some(status), describe(status).to_string()),
            Ok(_) => (None, "its stream is gone".to_string()),
            Err(error) => (None, format!("asking the node how failed: {error}")),
        };
        let shown = match refusal {
            Some(StatusCode::SegmentSealed) => "; its segments are sealed",
            Some(_) => "; its segments are gone",
            None => "",
        };
        Failure {
            error: ClientError::InvalidRequest {
                reason: format!(
                    "transaction {:016x} on {} has ended ({how}{shown}): it takes no more events",
                    self.id, self.stream
                ),
                status: refusal,
            },
            status,
        }
    }

    /// The flush before a commit failed: an ended transaction reports its
    /// outcome; otherwise events may be missing, so it is aborted.
    fn not_flushed(&self, error: ClientError) -> Result<TxnOutcome, ClientError> {
        let status = lock(&self.writes).failure.as_ref().and_then(|f| f.status);
        match status {
            Some(TxnStatus::Aborted) => Ok(TxnOutcome::Aborted),
            Some(_) => Err(error),
            None => {
                let aborted = calls::abort(&self.client, &self.stream, self.id).wait();
                let what = match aborted {
                    Ok(StreamOutcome::Done(TxnStatus::Aborted)) => "aborted instead",
                    _ => "not aborted either (its lease will end it)",
                };
                Err(error.context(format_args!("not committed, {what}")))
            }
        }
    }

    fn unknown(&self) -> ClientError {
        ClientError::invalid(format!(
            "the node does not know transaction {:016x} on {}",
            self.id, self.stream
        ))
    }
}

/// Wakes a thread parked in [`Transaction::wait_keeping_alive`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drops a lane's resolved appends from the front; the first that was not
/// written is the problem.
fn reap(lane: &mut Lane) -> Result<(), Problem> {
    while lane.pending.front().is_some_and(Completion::is_done) {
        let ack = lane.pending.pop_front().expect("checked above");
        match ack.wait() {
            Ok(AppendOutcome::Appended(_)) => {}
            Ok(AppendOutcome::Sealed { .. }) => {
                return Err(Problem::Ended(StatusCode::SegmentSealed));
            }
            Ok(AppendOutcome::NoSuchSegment) => {
                return Err(Problem::Ended(StatusCode::NoSuchSegment));
            }
            Err(error) => return Err(Problem::Failed(error)),
        }
    }
    Ok(())
}

/// How a transaction in `status` ended, for an error message.
fn describe(status: TxnStatus) -> &'static str {
    match status {
        TxnStatus::Aborted => "aborted: its lease ran out, or it was aborted",
        TxnStatus::Committed => "committed",
        TxnStatus::Open => "though the node still reports it open",
        TxnStatus::Unknown => "the node no longer knows it",
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("stream", &self.stream)
            .field("id", &format_args!("{:016x}", self.id))
            .field("epoch", &self.epoch)
            .field("lease_ms", &self.lease_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Transaction>();
    }

    #[test]
    fn a_lane_reports_the_first_append_not_written_and_keeps_the_unresolved() {
        use crate::completion::completion;
        use crate::writer::Ack;
        let appended = AppendOutcome::Appended(Ack {
            event_number: 0,
            segment_length: None,
        });
        let mut lane = Lane::default();
        let mut completers = Vec::new();
        for _ in 0..4 {
            let (completer, ack) = completion();
            completers.push(completer);
            lane.pending.push_back(ack);
        }
        let mut completers = completers.into_iter();
        completers.next().expect("four").complete(Ok(appended));
        assert!(reap(&mut lane).is_ok());
        assert_eq!(lane.pending.len(), 3, "the written one is dropped");
        let second = completers.next().expect("four");
        completers
            .next()
            .expect("four")
            .complete(Ok(AppendOutcome::Sealed { length: 9 }));
        assert!(
            reap(&mut lane).is_ok(),
            "an unresolved append stops the reap"
        );
        assert_eq!(lane.pending.len(), 3);
        second.complete(Ok(appended));
        assert!(matches!(
            reap(&mut lane),
            Err(Problem::Ended(StatusCode::SegmentSealed))
        ));
        completers
            .next()
            .expect("four")
            .complete(Ok(AppendOutcome::NoSuchSegment));
        assert!(matches!(
            reap(&mut lane),
            Err(Problem::Ended(StatusCode::NoSuchSegment))
        ));
        assert!(lane.pending.is_empty());
    }
}
