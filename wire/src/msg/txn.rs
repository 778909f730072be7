//! Transaction requests and their replies (the controller's API for
//! transactions on a stream).
//!
//! Like every stream request, each goes to the core owning the stream's
//! metadata log. A transaction has one segment per segment of the epoch it
//! began in, named [`txn_segment_name`]; the client writes its events
//! there and the node merges them into the stream on commit.

use rkyv::{Archive, Deserialize, Serialize};

use super::Validate;
use super::stream::check_stream_names;
use crate::error::FieldError;
use crate::stream::KeyRange;

/// The shortest lease a transaction may ask for, milliseconds.
pub const MIN_TXN_LEASE_MS: u64 = 100;
/// The longest lease a transaction may ask for, milliseconds (one hour).
pub const MAX_TXN_LEASE_MS: u64 = 3_600_000;

/// The segment of transaction `id` that collects the events for parent
/// segment `parent` of `scope/stream`. It shares the parent's container, so
/// the commit merges it on one core.
pub fn txn_segment_name(scope: &str, stream: &str, parent: u64, id: u64) -> String {
    format!("{scope}/{stream}/{parent}#transaction.{id:016x}")
}

/// Begins a transaction on a stream's current segments; the node aborts it
/// if no request about it (a ping, a commit) comes within `lease_ms`.
/// Answer: `TxnBegun`, `NoSuchStream`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct BeginTxn {
    pub scope: String,
    pub stream: String,
    pub lease_ms: u64,
}

/// Keeps an open transaction alive for another `lease_ms`. Answer:
/// `TxnState` (a transaction no longer open says how it ended).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct PingTxn {
    pub scope: String,
    pub stream: String,
    pub id: u64,
    pub lease_ms: u64,
}

/// Commits a transaction: its events join the stream, whole. The answer
/// comes once the commit is complete and durable. Idempotent. Answer:
/// `TxnState` (`Committed`, or `Aborted` if it was aborted first).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct CommitTxn {
    pub scope: String,
    pub stream: String,
    pub id: u64,
}

/// Aborts a transaction: its events are dropped. Idempotent. Answer:
/// `TxnState` (`Aborted`, or `Committed` if it was committed first).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct AbortTxn {
    pub scope: String,
    pub stream: String,
    pub id: u64,
}

/// Asks where a transaction is. Answer: `TxnState`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct GetTxnState {
    pub scope: String,
    pub stream: String,
    pub id: u64,
}

/// One segment of a transaction: the parent it merges into and the keys
/// it takes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct TxnSegment {
    pub parent: u64,
    pub range: KeyRange,
}

/// The transaction is open: write events to its segments
/// ([`txn_segment_name`]), routed by key over their ranges.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct TxnBegun {
    pub id: u64,
    /// The epoch whose segments it covers.
    pub epoch: u32,
    pub lease_ms: u64,
    pub segments: Vec<TxnSegment>,
}

/// Where a transaction is in its life.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum TxnStatus {
    Open,
    Committed,
    Aborted,
    /// The node knows no such transaction: never begun, or ended so long ago
    /// that its outcome is no longer kept.
    Unknown,
}

/// A transaction's state.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct TxnState {
    pub id: u64,
    pub status: TxnStatus,
}

fn check_lease(lease_ms: u64) -> Result<(), FieldError> {
    if (MIN_TXN_LEASE_MS..=MAX_TXN_LEASE_MS).contains(&lease_ms) {
        Ok(())
    } else {
        Err(FieldError::invalid(
            "lease_ms",
            "must be between MIN_TXN_LEASE_MS and MAX_TXN_LEASE_MS",
        ))
    }
}

impl Validate for ArchivedBeginTxn {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)?;
        check_lease(self.lease_ms.to_native())
    }
}

impl Validate for ArchivedPingTxn {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)?;
        check_lease(self.lease_ms.to_native())
    }
}

impl Validate for ArchivedCommitTxn {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)
    }
}

impl Validate for ArchivedAbortTxn {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)
    }
}

impl Validate for ArchivedGetTxnState {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)
    }
}

impl Validate for ArchivedTxnBegun {
    fn validate(&self) -> Result<(), FieldError> {
        check_lease(self.lease_ms.to_native())?;
        if self.segments.is_empty()
            || self.segments.len() > crate::stream::MAX_STREAM_SEGMENTS as usize
        {
            return Err(FieldError::invalid(
                "segments",
                "must hold 1..=MAX_STREAM_SEGMENTS segments",
            ));
        }
        Ok(())
    }
}

no_field_rules!(ArchivedTxnState);
