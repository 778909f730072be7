//! A stream's transactions as its log records them: the open ones (each
//! over the segments of the epoch it began in) and the outcomes of the most
//! recently ended ones.
//!
//! Leases are not here: a lease is a timer, kept in memory by the core that
//! owns the stream, and restarted in full after a node restart (as
//! Pravega's controller restarts its timeout service). Pings therefore
//! cost no log entry.

use std::collections::{BTreeMap, VecDeque};

/// Ended transactions whose outcome is remembered; older ones answer
/// `Unknown`. Bounds the state a stream with many transactions keeps.
pub const KEPT_OUTCOMES: usize = 1024;

/// One open transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub id: u64,
    /// The epoch it began in.
    pub epoch: u32,
    /// The segments of that epoch, each with a transaction segment.
    pub parents: Vec<u64>,
    /// Its lease, as asked at begin.
    pub lease_ms: u64,
}

/// How a transaction ended, or that it is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnOutcome {
    Open,
    Committed,
    Aborted,
    Unknown,
}

/// The transactions of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnBook {
    open: BTreeMap<u64, Txn>,
    ended: VecDeque<(u64, bool)>,
    next_id: u64,
}

impl TxnBook {
    /// The id the next transaction gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    pub fn open(&self, id: u64) -> Option<&Txn> {
        self.open.get(&id)
    }

    /// Every open transaction, by id.
    pub fn all_open(&self) -> impl Iterator<Item = &Txn> {
        self.open.values()
    }

    pub fn outcome(&self, id: u64) -> TxnOutcome {
        if self.open.contains_key(&id) {
            return TxnOutcome::Open;
        }
        match self.ended.iter().find(|(ended, _)| *ended == id) {
            Some((_, true)) => TxnOutcome::Committed,
            Some((_, false)) => TxnOutcome::Aborted,
            None => TxnOutcome::Unknown,
        }
    }

    /// Records a new transaction; ids are handed out in order.
    pub(super) fn begin(&mut self, txn: Txn) -> bool {
        if txn.id != self.next_id {
            return false;
        }
        self.next_id += 1;
        self.open.insert(txn.id, txn);
        true
    }

    /// Ends an open transaction. False if it is not open.
    pub(super) fn end(&mut self, id: u64, committed: bool) -> bool {
        if self.open.remove(&id).is_none() {
            return false;
        }
        if self.ended.len() == KEPT_OUTCOMES {
            self.ended.pop_front();
        }
        self.ended.push_back((id, committed));
        true
    }

    /// The book as plain data: open transactions, remembered outcomes
    /// (oldest first), the next id.
    pub(super) fn parts(&self) -> (Vec<Txn>, Vec<(u64, bool)>, u64) {
        let open = self.open.values().cloned().collect();
        (open, self.ended.iter().copied().collect(), self.next_id)
    }

    /// The book those parts describe; `None` if they contradict each other
    /// (an id at or past the next, twice, or over the bound).
    pub(super) fn from_parts(open: &[Txn], ended: &[(u64, bool)], next_id: u64) -> Option<Self> {
        if ended.len() > KEPT_OUTCOMES {
            return None;
        }
        let mut ids: Vec<u64> = open
            .iter()
            .map(|t| t.id)
            .chain(ended.iter().map(|e| e.0))
            .collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        if ids.len() != before || ids.last().is_some_and(|&id| id >= next_id) {
            return None;
        }
        Some(Self {
            open: open.iter().map(|t| (t.id, t.clone())).collect(),
            ended: ended.iter().copied().collect(),
            next_id,
        })
    }

    /// Aborts every open transaction (the stream was sealed).
    pub(super) fn abort_all(&mut self) {
        let ids: Vec<u64> = self.open.keys().copied().collect();
        for id in ids {
            self.end(id, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(id: u64) -> Txn {
        Txn {
            id,
            epoch: 0,
            parents: vec![0],
            lease_ms: 1000,
        }
    }

    #[test]
    fn ids_come_in_order_and_outcomes_are_remembered_within_the_bound() {
        let mut book = TxnBook::default();
        assert!(!book.begin(txn(1)), "ids start at 0");
        assert!(book.begin(txn(0)));
        assert_eq!(book.outcome(0), TxnOutcome::Open);
        assert!(book.end(0, true));
        assert!(!book.end(0, false), "ends once");
        assert_eq!(book.outcome(0), TxnOutcome::Committed);
        for id in 1..=KEPT_OUTCOMES as u64 {
            assert!(book.begin(txn(id)));
            assert!(book.end(id, false));
        }
        assert_eq!(book.outcome(0), TxnOutcome::Unknown, "pushed out");
        assert_eq!(book.outcome(1), TxnOutcome::Aborted);
        assert_eq!(book.outcome(99_999), TxnOutcome::Unknown);
    }
}
