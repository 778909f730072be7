//! The figures one core keeps about itself.
//!
//! Owned by the core (`Rc<CoreMetrics>`, shared only with the core's own
//! tasks: connections, the journal's storage, read-backs), so every update is
//! a plain `Cell` add on the core's thread: nothing shared, nothing atomic on
//! the hot path. The scraper never reads these: it asks the core for a
//! [`CoreSnapshot`](super::snapshot::CoreSnapshot) over a channel.

use std::cell::Cell;
use std::time::Duration;

use spate_wire::{Reply, StatusCode};

use super::histogram::Histogram;

/// A count that only grows.
#[derive(Default)]
pub struct Counter(Cell<u64>);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.set(self.0.get().wrapping_add(n));
    }

    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// Why a request was refused, for `spate_refusals_total{reason}`: the
/// refusals that say the node is at a limit (the rest are the client's
/// mistakes or the segment's state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Busy,
    StorageFull,
    TooManyConnections,
}

impl Refusal {
    pub const ALL: [Refusal; 3] = [
        Refusal::Busy,
        Refusal::StorageFull,
        Refusal::TooManyConnections,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Busy => "busy",
            Refusal::StorageFull => "storage_full",
            Refusal::TooManyConnections => "too_many_connections",
        }
    }

    /// The refusal a reply is, if it is one.
    pub fn of(reply: &Reply) -> Option<Refusal> {
        let Reply::Error(error) = reply else {
            return None;
        };
        match StatusCode::from_u16(error.status)? {
            StatusCode::Busy => Some(Refusal::Busy),
            StatusCode::StorageFull => Some(Refusal::StorageFull),
            StatusCode::TooManyConnections => Some(Refusal::TooManyConnections),
            _ => None,
        }
    }
}

/// Events and payload bytes of an append request.
#[derive(Clone, Copy, Debug, Default)]
pub struct AppendSize {
    pub events: u64,
    pub bytes: u64,
}

impl AppendSize {
    /// The size of `request` if it is an append of any kind.
    pub fn of(request: &spate_wire::Request) -> Option<AppendSize> {
        use spate_wire::Request as R;
        let one = |payload: &[u8]| AppendSize {
            events: 1,
            bytes: payload.len() as u64,
        };
        match request {
            R::Append(a) => Some(one(&a.payload)),
            R::ConditionalAppend(a) => Some(one(&a.payload)),
            R::AppendBatch(b) => Some(AppendSize {
                events: b.events.len() as u64,
                bytes: b.events.iter().map(|e| e.payload.len() as u64).sum(),
            }),
            _ => None,
        }
    }
}

/// Everything one core counts. Gauges that the core's state already knows
/// (segments, cache bytes, journal files) are read when a snapshot is taken,
/// not kept here.
#[derive(Default)]
pub struct CoreMetrics {
    pub append_requests: Counter,
    /// Events and bytes of appends acknowledged (`Appended`), duplicates
    /// included: the client's view of what went in.
    pub appended_events: Counter,
    pub appended_bytes: Counter,
    pub read_requests: Counter,
    /// Segment bytes returned by reads.
    pub read_bytes: Counter,
    /// From the moment a connection read an append to its reply.
    pub append_ack: Histogram,
    /// One journal write (a group commit, `O_DSYNC`) from submission to
    /// completion.
    pub journal_write: Histogram,
    pub journal_writes: Counter,
    pub journal_bytes_written: Counter,
    /// Reads completed from journal files (evicted data).
    pub readbacks: Counter,
    /// Bytes read from journal files (and hot chunk files) for them.
    pub readback_bytes: Counter,
    /// Segment bytes the flusher moved out of the journal into hot chunk
    /// files.
    pub flushed_bytes: Counter,
    pub connections_accepted: Counter,
    /// Connections this core holds now (a gauge, kept by increments).
    pub connections_open: Cell<u64>,
    /// Indexed by `Refusal as usize`: its variants are declared in
    /// `Refusal::ALL` order, from 0.
    refusals: [Counter; Refusal::ALL.len()],
}

impl CoreMetrics {
    /// Counts an append request and its reply.
    pub fn append_done(&self, size: AppendSize, reply: &Reply, took: Duration) {
        self.append_requests.add(1);
        if matches!(reply, Reply::Appended(_)) {
            self.appended_events.add(size.events);
            self.appended_bytes.add(size.bytes);
            self.append_ack.observe(took);
        }
        self.refused(reply);
    }

    /// Counts a read request and its reply.
    pub fn read_done(&self, reply: &Reply) {
        self.read_requests.add(1);
        if let Reply::ReadData(data) = reply {
            self.read_bytes.add(data.data.len() as u64);
        }
        self.refused(reply);
    }

    /// Counts `reply` if it is a refusal.
    pub fn refused(&self, reply: &Reply) {
        if let Some(refusal) = Refusal::of(reply) {
            self.refusals[refusal as usize].add(1);
        }
    }

    pub fn refusals(&self, refusal: Refusal) -> u64 {
        self.refusals[refusal as usize].get()
    }

    pub fn journal_written(&self, bytes: usize, took: Duration) {
        self.journal_writes.add(1);
        self.journal_bytes_written.add(bytes as u64);
        self.journal_write.observe(took);
    }

    pub fn connection_opened(&self) {
        self.connections_accepted.add(1);
        self.connections_open.set(self.connections_open.get() + 1);
    }

    pub fn connection_closed(&self) {
        self.connections_open
            .set(self.connections_open.get().saturating_sub(1));
    }
}
