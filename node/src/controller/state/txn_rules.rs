//! Transactions in the stream model: which events may join the log, how
//! they change the state, and the segment work of each transaction phase.
//!
//! A transaction's workflows take the stream's phase like any other, so at
//! most one workflow runs at a time; they are short (create, merge or
//! delete one segment per parent). An *open* transaction is not a phase:
//! scaling, truncation and other transactions go on around it, and a
//! commit after a scale rolls it into new epochs (`Phase::RollingTxn`).

use super::super::events::StreamEvent;
use super::super::txn::{Txn, TxnOutcome};
use super::{Phase, SegmentRecord, StreamError, StreamState, Work};

/// Open transactions a stream may have at once: each holds a segment per
/// parent and a place in the stream's state (and its snapshot).
pub const MAX_OPEN_TXNS: usize = 4096;

/// Whether `event` is one of the transaction events.
pub(super) fn is_txn_event(event: &StreamEvent) -> bool {
    matches!(
        event,
        StreamEvent::TxnBegun { .. }
            | StreamEvent::TxnOpened { .. }
            | StreamEvent::TxnCommitStarted { .. }
            | StreamEvent::TxnCommitted { .. }
            | StreamEvent::TxnAbortStarted { .. }
            | StreamEvent::TxnAborted { .. }
    )
}

impl StreamState {
    /// The event that begins a transaction over the current segments.
    pub fn begin_txn_event(&self, lease_ms: u64) -> Result<StreamEvent, StreamError> {
        self.require_active("a transaction")?;
        if self.txns.all_open().count() >= MAX_OPEN_TXNS {
            return Err(StreamError::TooManyTxns(MAX_OPEN_TXNS));
        }
        Ok(StreamEvent::TxnBegun {
            id: self.txns.next_id(),
            lease_ms,
        })
    }

    /// The event that commits open transaction `id`.
    pub fn commit_txn_event(&self, id: u64, at_ms: u64) -> Result<StreamEvent, StreamError> {
        self.require_active("a commit")?;
        self.txns.open(id).ok_or(StreamError::TxnNotOpen(id))?;
        Ok(StreamEvent::TxnCommitStarted { id, at_ms })
    }

    /// The event that aborts open transaction `id`.
    pub fn abort_txn_event(&self, id: u64) -> Result<StreamEvent, StreamError> {
        self.require_active("an abort")?;
        self.txns.open(id).ok_or(StreamError::TxnNotOpen(id))?;
        Ok(StreamEvent::TxnAbortStarted { id })
    }

    pub fn txn_outcome(&self, id: u64) -> TxnOutcome {
        self.txns.outcome(id)
    }

    /// Open transaction `id`.
    pub fn txn(&self, id: u64) -> Option<&Txn> {
        self.txns.open(id)
    }

    /// Every open transaction.
    pub fn open_txns(&self) -> impl Iterator<Item = &Txn> {
        self.txns.all_open()
    }

    pub(super) fn apply_txn(
        &mut self,
        event: &StreamEvent,
        phase: Phase,
    ) -> Result<(), StreamError> {
        let misfit = StreamError::Replay {
            event: event.name(),
            phase: super::phase_name(&phase),
        };
        match (event, phase) {
            (&StreamEvent::TxnBegun { id, lease_ms }, Phase::Active) => {
                let txn = Txn {
                    id,
                    epoch: self.epoch(),
                    parents: self.current_segments().iter().map(|s| s.number).collect(),
                    lease_ms,
                };
                if !self.txns.begin(txn) {
                    return Err(misfit);
                }
                self.phase = Phase::OpeningTxn { id };
            }
            (&StreamEvent::TxnOpened { id }, Phase::OpeningTxn { id: opening })
                if id == opening =>
            {
                self.phase = Phase::Active;
            }
            (&StreamEvent::TxnCommitStarted { id, at_ms }, Phase::Active) => {
                let txn = self
                    .txns
                    .open(id)
                    .ok_or(StreamError::TxnNotOpen(id))?
                    .clone();
                let current = self.current_numbers();
                self.phase = if txn.parents.iter().all(|p| current.contains(p)) {
                    Phase::CommittingTxn { id }
                } else {
                    self.start_roll(&txn, at_ms)
                };
            }
            (&StreamEvent::TxnCommitted { id }, Phase::CommittingTxn { id: committing })
                if id == committing =>
            {
                self.txns.end(id, true);
                self.phase = Phase::Active;
            }
            (&StreamEvent::TxnCommitted { id }, Phase::RollingTxn { id: rolling, .. })
                if id == rolling =>
            {
                self.complete_roll();
                self.txns.end(id, true);
            }
            (&StreamEvent::TxnAbortStarted { id }, Phase::Active) => {
                self.txns.open(id).ok_or(StreamError::TxnNotOpen(id))?;
                self.phase = Phase::AbortingTxn { id };
            }
            (&StreamEvent::TxnAborted { id }, Phase::AbortingTxn { id: aborting })
                if id == aborting =>
            {
                self.txns.end(id, false);
                self.phase = Phase::Active;
            }
            _ => return Err(misfit),
        }
        Ok(())
    }

    /// Allocates the roll's two epochs of segments (not current yet).
    fn start_roll(&mut self, txn: &Txn, at_ms: u64) -> Phase {
        let epoch = self.epoch();
        let seal = self.current_numbers();
        let mut parents: Vec<&SegmentRecord> = txn
            .parents
            .iter()
            .filter_map(|p| self.segments.get(p))
            .collect();
        parents.sort_by_key(|s| s.range);
        let parents: Vec<(u64, spate_wire::stream::KeyRange)> =
            parents.iter().map(|s| (s.number, s.range)).collect();
        let mut copies = Vec::with_capacity(parents.len());
        for (parent, range) in parents {
            let predecessors = self.overlapping(&seal, range);
            let copy = self.add_segment(range, epoch + 1, predecessors);
            copies.push((parent, copy));
        }
        let copy_numbers: Vec<u64> = copies.iter().map(|&(_, c)| c).collect();
        let mut next = Vec::with_capacity(seal.len());
        for range in self
            .current_segments()
            .iter()
            .map(|s| s.range)
            .collect::<Vec<_>>()
        {
            let predecessors = self.overlapping(&copy_numbers, range);
            next.push(self.add_segment(range, epoch + 2, predecessors));
        }
        Phase::RollingTxn {
            id: txn.id,
            copies,
            next,
            seal,
            at_ms,
        }
    }

    fn overlapping(&self, among: &[u64], range: spate_wire::stream::KeyRange) -> Vec<u64> {
        among
            .iter()
            .copied()
            .filter(|n| self.segments[n].range.overlaps(&range))
            .collect()
    }

    fn add_segment(
        &mut self,
        range: spate_wire::stream::KeyRange,
        created_epoch: u32,
        predecessors: Vec<u64>,
    ) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        self.segments.insert(
            number,
            SegmentRecord {
                number,
                range,
                created_epoch,
                sealed_epoch: None,
                predecessors,
                deleted: false,
            },
        );
        number
    }

    /// The roll is done: the copies' epoch, sealed, then `next`'s.
    fn complete_roll(&mut self) {
        let Phase::RollingTxn {
            copies,
            mut next,
            seal,
            at_ms,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Active)
        else {
            unreachable!("matched RollingTxn");
        };
        let epoch = self.epoch();
        let mut copies: Vec<u64> = copies.into_iter().map(|(_, c)| c).collect();
        for (numbers, sealed) in [(&seal, epoch + 1), (&copies, epoch + 2)] {
            for number in numbers {
                if let Some(segment) = self.segments.get_mut(number) {
                    segment.sealed_epoch = Some(sealed);
                }
            }
        }
        copies.sort_unstable();
        next.sort_unstable();
        self.epochs.push(super::Epoch {
            segments: copies,
            at_ms,
        });
        self.epochs.push(super::Epoch {
            segments: next,
            at_ms,
        });
    }

    /// The segment work of a transaction phase (`None`: not one).
    pub(super) fn txn_work(&self) -> Option<(Vec<Work>, StreamEvent)> {
        let parents = |id: u64| {
            self.txns
                .open(id)
                .map_or_else(Vec::new, |t| t.parents.clone())
        };
        Some(match &self.phase {
            &Phase::OpeningTxn { id } => (
                parents(id)
                    .into_iter()
                    .map(|parent| Work::CreateTxnSegment { parent, id })
                    .collect(),
                StreamEvent::TxnOpened { id },
            ),
            // Every segment sealed before any merges (the waves run each
            // kind at once).
            &Phase::CommittingTxn { id } => {
                let parents = parents(id);
                let seal = parents
                    .iter()
                    .map(|&parent| Work::SealTxnSegment { parent, id });
                let merge = parents
                    .iter()
                    .map(|&parent| Work::MergeTxnSegment { parent, id });
                (
                    seal.chain(merge).collect(),
                    StreamEvent::TxnCommitted { id },
                )
            }
            Phase::RollingTxn {
                id,
                copies,
                next,
                seal,
                ..
            } => (
                roll_work(*id, copies, next, seal),
                StreamEvent::TxnCommitted { id: *id },
            ),
            &Phase::AbortingTxn { id } => (
                parents(id)
                    .into_iter()
                    .map(|parent| Work::DeleteTxnSegment { parent, id })
                    .collect(),
                StreamEvent::TxnAborted { id },
            ),
            _ => return None,
        })
    }

    /// Deleting the segments of every open transaction (a seal aborts them).
    pub(super) fn delete_open_txns(&self) -> impl Iterator<Item = Work> + '_ {
        self.txns.all_open().flat_map(|t| {
            t.parents
                .iter()
                .map(|&parent| Work::DeleteTxnSegment { parent, id: t.id })
        })
    }
}

/// A roll, in an order that a crash at any step can resume: the copies
/// exist before data goes in; every transaction segment is sealed, then
/// copied, and only then deleted (so a missing one was copied); the copies are
/// sealed before `next` exists; the current segments are sealed last, so
/// writers move on only once everything before them is in place.
fn roll_work(id: u64, copies: &[(u64, u64)], next: &[u64], seal: &[u64]) -> Vec<Work> {
    let create_copies = copies.iter().map(|&(_, c)| Work::CreateSegment(c));
    let seal_txn = copies
        .iter()
        .map(|&(parent, _)| Work::SealTxnSegment { parent, id });
    let copy = copies
        .iter()
        .map(|&(parent, into)| Work::CopyTxnSegment { parent, id, into });
    let delete_txn = copies
        .iter()
        .map(|&(parent, _)| Work::DeleteTxnSegment { parent, id });
    let fill = seal_txn.chain(copy).chain(delete_txn);
    let seal_copies = copies.iter().map(|&(_, c)| Work::SealSegment(c));
    let create_next = next.iter().map(|&n| Work::CreateSegment(n));
    let seal_current = seal.iter().map(|&n| Work::SealSegment(n));
    create_copies
        .chain(fill)
        .chain(seal_copies)
        .chain(create_next)
        .chain(seal_current)
        .collect()
}
