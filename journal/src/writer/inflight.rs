//! Writes submitted to storage and not yet acknowledged.
//!
//! Completions arrive in any order; acknowledgements advance only over the
//! contiguous prefix of finished writes, so acks leave strictly in LSN order.

use std::collections::VecDeque;

use crate::format::Lsn;
use crate::storage::Slot;

#[derive(Debug)]
pub(crate) struct InFlightWrite {
    pub token: u64,
    pub slot: Slot,
    pub offset: u64,
    pub len: usize,
    /// The LSN after the last record written; `None` for a file header.
    pub end_lsn: Option<Lsn>,
    /// The checkpoint named by the file header this write carries, if any.
    pub header_retain: Option<Lsn>,
    pub done: bool,
}

#[derive(Debug, Default)]
pub(crate) struct InFlight {
    writes: VecDeque<InFlightWrite>,
}

impl InFlight {
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    pub fn push(&mut self, write: InFlightWrite) {
        let last_end = self.writes.iter().rev().find_map(|w| w.end_lsn);
        if let (Some(last), Some(end)) = (last_end, write.end_lsn) {
            assert!(end > last, "writes are submitted in LSN order");
        }
        self.writes.push_back(write);
    }

    pub fn find(&self, token: u64) -> Option<&InFlightWrite> {
        self.writes.iter().find(|w| w.token == token)
    }

    pub fn mark_done(&mut self, token: u64) {
        let write = self.writes.iter_mut().find(|w| w.token == token);
        let write = write.expect("completion for a write that is not in flight");
        assert!(!write.done, "write completed twice");
        write.done = true;
    }

    /// Removes the finished writes at the front: they are acknowledged.
    pub fn pop_acknowledged(&mut self) -> Option<InFlightWrite> {
        if self.writes.front()?.done {
            self.writes.pop_front()
        } else {
            None
        }
    }
}
