//! Spate transactions: each send of the open loop is one transaction on the
//! workload's stream (created with `segments` fixed segments if absent):
//! begin, `txn_events` writes (routing keys round robin, as the stream
//! driver spreads them, or unkeyed), flush, commit. Its acknowledgement is
//! the commit's answer, so the open loop times a transaction from its
//! intended start to its commit.
//!
//! A transaction's calls block, so each runs on the tokio runtime's
//! blocking pool: the producers keep their schedule while transactions are
//! open, and the window bounds how many are. One client per producer, as
//! for the other drivers. Beside the ack, the driver keeps each
//! transaction's own timings (begin, flush, commit call to answer) for the
//! report to cut to the measured window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use spate_client::{Client, StreamName, Transaction, TxnOutcome};

use super::spate_stream::{create_stream, parse_stream, remove_stream};
use super::{AckFuture, Driver, Setup};

/// The timings of one committed transaction.
#[derive(Clone, Copy, Debug)]
pub struct TxnTimes {
    /// When the open loop meant it to start.
    pub intended: Instant,
    /// `begin_transaction`, call to answer.
    pub begin: Duration,
    /// `flush`, call to answer: its events durable in the transaction's
    /// segments.
    pub flush: Duration,
    /// `commit`, call to answer (after the flush: the node merging the
    /// transaction into the stream, durably).
    pub commit: Duration,
}

pub struct TxnDriver {
    admin: Client,
    /// Created by this run (and so deleted after it).
    created: bool,
    /// One per producer.
    clients: Vec<Client>,
    /// The producer of each lane.
    lane_producer: Vec<usize>,
    runtime: tokio::runtime::Handle,
    shared: Arc<Shared>,
}

/// What every transaction's thread needs.
struct Shared {
    stream: StreamName,
    lease: Duration,
    keys: Vec<[u8; 8]>,
    next_key: AtomicU64,
    /// Events of every transaction committed (warm-up and late ones too).
    committed_events: AtomicU64,
    timings: Mutex<Vec<TxnTimes>>,
}

impl TxnDriver {
    /// Connects every producer and creates the stream if absent. Each
    /// transaction asks for `lease`.
    pub fn connect(setup: &Setup<'_>, lease: Duration) -> anyhow::Result<Self> {
        let Some(stream) = setup.stream else {
            bail!("transactions need a stream (--stream SCOPE/NAME)");
        };
        let stream = parse_stream(stream)?;
        let clients = super::spate::connect_producers(setup)?;
        let admin = clients[0].clone();
        let created = create_stream(&admin, &stream, setup.segments)?;
        Ok(Self {
            admin,
            created,
            clients,
            lane_producer: setup.lanes.iter().map(|l| l.producer).collect(),
            runtime: setup.runtime.clone(),
            shared: Arc::new(Shared {
                stream,
                lease,
                keys: (0..setup.keys).map(|k| k.to_le_bytes()).collect(),
                next_key: AtomicU64::new(0),
                committed_events: AtomicU64::new(0),
                timings: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Events of every transaction committed so far.
    pub fn committed_events(&self) -> u64 {
        self.shared.committed_events.load(Ordering::Relaxed)
    }

    /// Every committed transaction's timings, in commit order.
    pub fn timings(&self) -> Vec<TxnTimes> {
        self.shared
            .timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn stream(&self) -> &StreamName {
        &self.shared.stream
    }

    /// A client for reading the stream back.
    pub fn admin(&self) -> &Client {
        &self.admin
    }
}

impl Shared {
    fn key(&self) -> Option<&[u8]> {
        if self.keys.is_empty() {
            return None;
        }
        let i = self.next_key.fetch_add(1, Ordering::Relaxed);
        Some(&self.keys[(i % self.keys.len() as u64) as usize][..])
    }

    /// One transaction, start to commit.
    fn run(&self, client: &Client, events: &[Vec<u8>], intended: Instant) -> anyhow::Result<()> {
        let asked = Instant::now();
        let txn = client
            .begin_transaction(&self.stream, self.lease)
            .with_context(|| format!("beginning a transaction on {}", self.stream))?;
        let begun = Instant::now();
        let id = txn.id();
        for event in events {
            if let Err(e) = txn.write_event(self.key(), event) {
                return Err(abandon(txn, e.into(), "writing to"));
            }
        }
        let flushing = Instant::now();
        if let Err(e) = txn.flush() {
            return Err(abandon(txn, e.into(), "flushing"));
        }
        let committing = Instant::now();
        let outcome = txn
            .commit()
            .with_context(|| format!("committing transaction {id:016x}"))?;
        let committed = Instant::now();
        if outcome == TxnOutcome::Aborted {
            bail!(
                "transaction {id:016x} was aborted before its commit (did its lease of {:?} run \
                 out?)",
                self.lease
            );
        }
        self.committed_events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        self.timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(TxnTimes {
                intended,
                begin: begun - asked,
                flush: committing - flushing,
                commit: committed - committing,
            });
        Ok(())
    }
}

/// Aborts a transaction that failed midway (best effort: the node would
/// abort it when its lease runs out anyway) and says where it failed.
fn abandon(txn: Transaction, error: anyhow::Error, doing: &str) -> anyhow::Error {
    let id = txn.id();
    let _ = txn.abort();
    error.context(format!("{doing} transaction {id:016x}"))
}

impl Driver for TxnDriver {
    fn connect(_setup: &Setup<'_>) -> anyhow::Result<Self> {
        bail!("the transaction driver is made by spate-bench txn")
    }

    /// A transaction of one event.
    fn send(&self, lane: usize, payload: &[u8]) -> AckFuture {
        self.send_events_at(lane, &[payload], Instant::now())
    }

    fn send_events_at(&self, lane: usize, events: &[&[u8]], intended: Instant) -> AckFuture {
        let client = self.clients[self.lane_producer[lane]].clone();
        let events: Vec<Vec<u8>> = events.iter().map(|e| e.to_vec()).collect();
        let shared = Arc::clone(&self.shared);
        let job = self
            .runtime
            .spawn_blocking(move || shared.run(&client, &events, intended));
        Box::pin(async move { job.await.context("a transaction's thread")? })
    }

    fn durability(&self) -> String {
        "a commit is answered once the transaction's events are merged into the stream and \
         durable in the node's journal (O_DIRECT, written with O_DSYNC); begin, writes, flush, \
         commit per transaction"
            .into()
    }

    fn teardown(self: Box<Self>, keep: bool) {
        let Self {
            admin,
            created,
            clients,
            shared,
            ..
        } = *self;
        drop(clients);
        if created && !keep {
            remove_stream(&admin, &shared.stream);
        }
    }
}
