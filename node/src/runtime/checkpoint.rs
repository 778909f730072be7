//! When a core writes a metadata checkpoint, and what it releases after.
//!
//! A checkpoint is one journal record holding the snapshot of every
//! container of the core (see `container::snapshot`). Once it is durable,
//! recovery starts there, and the journal may drop every record below both
//! the checkpoint and the oldest record whose data a segment still holds
//! (segment data lives in the journal until the flusher exists).
//!
//! Taken:
//! - after every `every_bytes` of appended records, so replay after a crash
//!   covers at most about that much;
//! - after every `every_bytes` the flusher moved to hot chunk files, so the
//!   journal gives the room back (and a restart does not flush it again),
//!   and at once when `CompactNow` asks;
//! - when the journal is short of files and a truncate, delete or merge may
//!   have freed some, so space comes back without waiting for more appends
//!   (which are refused then);
//! - right away, in a fresh file, when a release left files waiting for a
//!   header that names the new floor (see `Journal::roll`).
//!
//! The record must follow exactly what it covers: each container's snapshot
//! stops before its first mutation still waiting in `unjournaled` (a busy
//! journal has not taken it yet), so a checkpoint never waits for the
//! journal to catch up. (It once did; under a sustained full load it never
//! did catch up, no checkpoint was written, nothing was released, and the
//! journal filled.)

use spate_journal::{AppendError, Lsn, Storage};

use super::core::{APPEND_RESERVE_FILES, CoreState};
use crate::container::{Snapshot, encode_checkpoint};

/// The checkpoint bookkeeping of one core.
#[derive(Debug)]
pub struct Checkpoints {
    every_bytes: u64,
    since_bytes: u64,
    /// Bytes flushed out of the journal since the last checkpoint.
    flushed_bytes: u64,
    /// A checkpoint was asked for (`CompactNow`).
    asked: bool,
    freed: bool,
    /// A checkpoint appended, not yet durable: its LSN and the floor to
    /// release once it is.
    in_flight: Option<(Lsn, Lsn)>,
    roll_next: bool,
    warned_too_large: bool,
}

impl Checkpoints {
    pub fn new(every_bytes: u64) -> Self {
        Self {
            every_bytes,
            since_bytes: 0,
            flushed_bytes: 0,
            asked: false,
            freed: false,
            in_flight: None,
            roll_next: false,
            warned_too_large: false,
        }
    }

    pub fn appended(&mut self, bytes: usize) {
        self.since_bytes += bytes as u64;
    }

    /// A mutation that may let journal records go (truncate, delete, merge).
    pub fn freed(&mut self) {
        self.freed = true;
    }

    /// The flusher moved `bytes` out of the journal.
    pub fn flushed(&mut self, bytes: u64) {
        self.flushed_bytes += bytes;
        self.freed = true;
    }

    /// Takes a checkpoint at the next step, due or not.
    pub fn ask(&mut self) {
        self.asked = true;
    }
}

impl<S: Storage> CoreState<S> {
    /// Releases what a durable checkpoint allows, and writes the next one
    /// when it is due.
    pub(super) fn checkpoint_step(&mut self, durable: Lsn) {
        if let Some((lsn, floor)) = self.checkpoints.in_flight
            && durable > lsn
        {
            self.checkpoints.in_flight = None;
            self.journal.release(floor);
            let short = self.journal.unused_files() < APPEND_RESERVE_FILES;
            if short && self.journal.files_awaiting_recycle() > 0 {
                self.checkpoints.roll_next = true;
            }
        }
        if self.checkpoint_due() {
            self.write_checkpoint();
        }
    }

    fn checkpoint_due(&self) -> bool {
        let c = &self.checkpoints;
        if c.in_flight.is_some() {
            return false;
        }
        let short = self.journal.unused_files() < APPEND_RESERVE_FILES;
        c.since_bytes >= c.every_bytes
            || c.flushed_bytes >= c.every_bytes
            || c.asked
            || c.roll_next
            || (c.freed && short)
    }

    fn write_checkpoint(&mut self) {
        let mut first_unjournaled = std::collections::HashMap::new();
        for (_, pending) in &self.unjournaled {
            first_unjournaled
                .entry(pending.container)
                .or_insert(pending.seq);
        }
        let snapshots: Option<Vec<Snapshot>> = self
            .containers
            .iter()
            .map(|(id, c)| match first_unjournaled.get(id) {
                Some(&seq) => c.snapshot_through(seq - 1),
                None => c.snapshot(),
            })
            .collect();
        let Some(snapshots) = snapshots else {
            // Some data has no journal location yet; try on the next step.
            return;
        };
        let payload = encode_checkpoint(&snapshots);
        let max = self.journal.config().max_record_bytes as usize;
        if payload.len() > max {
            if !self.checkpoints.warned_too_large {
                tracing::warn!(
                    core = self.index,
                    bytes = payload.len(),
                    max,
                    "segment metadata outgrew one journal record: no more checkpoints, so \
                     recovery replays from the last one and the journal keeps everything after it"
                );
                self.checkpoints.warned_too_large = true;
            }
            self.checkpoints.since_bytes = 0;
            return;
        }
        // A roll needs a file to start; the last one is kept for the
        // checkpoint itself rather than wasted on a roll.
        let roll = self.checkpoints.roll_next && self.journal.unused_files() >= 1;
        if roll {
            self.journal.roll();
        }
        let lsn = match self.journal.checkpoint(&payload) {
            Ok(lsn) => lsn,
            Err(AppendError::Busy) => return,
            Err(AppendError::TooLarge { .. }) => unreachable!("checked against the record limit"),
            Err(AppendError::Stopped(failure)) => return self.fail(&failure),
        };
        let oldest = snapshots.iter().filter_map(Snapshot::oldest_lsn).min();
        let floor = oldest.map_or(lsn, |o| o.min(lsn));
        tracing::debug!(
            core = self.index,
            lsn,
            floor,
            bytes = payload.len(),
            "checkpoint"
        );
        // The driver submits it on its next pass; with no client request
        // coming (appends refused while the journal is full) nothing else
        // would wake it.
        self.driver.signal();
        let c = &mut self.checkpoints;
        c.in_flight = Some((lsn, floor));
        c.since_bytes = 0;
        c.flushed_bytes = 0;
        c.asked = false;
        c.freed = false;
        c.roll_next = false;
    }
}
