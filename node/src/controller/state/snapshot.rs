//! A stream's whole state as plain data, so the log can start again from
//! it: the controller appends a snapshot and truncates the log before it
//! once the log grows long (every transaction adds four events), which
//! keeps the log, its memory and every checkpoint that carries it bounded.

use std::collections::BTreeMap;

use spate_wire::stream::StreamConfig;

use super::super::txn::{Txn, TxnBook};
use super::{Epoch, Phase, SegmentRecord, StreamError, StreamState};

/// Everything a stream's state holds. Taken only while no workflow runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSnapshot {
    pub config: StreamConfig,
    pub created_ms: u64,
    pub sealed: bool,
    pub segments: Vec<SegmentRecord>,
    /// (start, segments) per epoch, oldest first.
    pub epochs: Vec<(u64, Vec<u64>)>,
    pub next_number: u64,
    pub truncated: Vec<(u64, u64)>,
    pub open_txns: Vec<Txn>,
    /// (id, committed) of the remembered ended transactions, oldest first.
    pub ended_txns: Vec<(u64, bool)>,
    pub next_txn: u64,
}

impl StreamState {
    /// The state as a snapshot; `None` while a workflow runs (its phase's
    /// details are not part of a snapshot).
    pub fn snapshot(&self) -> Option<StreamSnapshot> {
        let sealed = match self.phase {
            Phase::Active => false,
            Phase::Sealed => true,
            _ => return None,
        };
        let (open_txns, ended_txns, next_txn) = self.txns.parts();
        Some(StreamSnapshot {
            config: self.config,
            created_ms: self.created_ms,
            sealed,
            segments: self.segments.values().cloned().collect(),
            epochs: self
                .epochs
                .iter()
                .map(|e| (e.at_ms, e.segments.clone()))
                .collect(),
            next_number: self.next_number,
            truncated: self.truncated.iter().map(|(&s, &o)| (s, o)).collect(),
            open_txns,
            ended_txns,
            next_txn,
        })
    }

    /// The state a snapshot describes, if it is consistent (it came from
    /// disk: a damaged one is an error, never a panic later).
    pub fn from_snapshot(snapshot: &StreamSnapshot) -> Result<Self, StreamError> {
        let bad = |why: &'static str| StreamError::Snapshot(why);
        snapshot.config.validate()?;
        let segments: BTreeMap<u64, SegmentRecord> = snapshot
            .segments
            .iter()
            .map(|s| (s.number, s.clone()))
            .collect();
        if segments.len() != snapshot.segments.len() {
            return Err(bad("a segment number appears twice"));
        }
        if segments.keys().any(|&n| n >= snapshot.next_number) {
            return Err(bad("a segment number at or past the next number"));
        }
        let known = |n: &u64| segments.contains_key(n);
        if snapshot.epochs.is_empty() || snapshot.epochs.iter().any(|(_, e)| !e.iter().all(known)) {
            return Err(bad("an epoch names an unknown segment, or there is none"));
        }
        if snapshot.truncated.iter().any(|(n, _)| !known(n)) {
            return Err(bad("the truncation names an unknown segment"));
        }
        let txns =
            TxnBook::from_parts(&snapshot.open_txns, &snapshot.ended_txns, snapshot.next_txn)
                .ok_or(bad("the transactions do not fit together"))?;
        if snapshot
            .open_txns
            .iter()
            .any(|t| !t.parents.iter().all(known))
        {
            return Err(bad("a transaction names an unknown segment"));
        }
        Ok(Self {
            config: snapshot.config,
            created_ms: snapshot.created_ms,
            phase: if snapshot.sealed {
                Phase::Sealed
            } else {
                Phase::Active
            },
            segments,
            epochs: snapshot
                .epochs
                .iter()
                .map(|(at_ms, segments)| Epoch {
                    segments: segments.clone(),
                    at_ms: *at_ms,
                })
                .collect(),
            next_number: snapshot.next_number,
            truncated: snapshot.truncated.iter().copied().collect(),
            txns,
        })
    }
}
