//! Which physical file (slot) holds what.
//!
//! A slot is *live* while it holds records that may still be needed, *ready*
//! once prepared (allocated, zero-filled or recycled) and waiting to be
//! started, or *queued* for preparation. At most one preparation runs at a
//! time and one spare file is kept ready, so rolling over to the next file
//! does not wait for a disk allocation.

use std::collections::VecDeque;

use crate::format::Lsn;
use crate::storage::Slot;

/// How many prepared files to keep ahead of need.
const SPARE_FILES: usize = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LiveFile {
    pub slot: Slot,
    pub file_seq: u64,
    pub start_lsn: Lsn,
    /// `None` while it is the file being written.
    pub end_lsn: Option<Lsn>,
}

#[derive(Debug)]
pub(crate) struct FileTable {
    max_files: u32,
    live: VecDeque<LiveFile>,
    ready: VecDeque<Slot>,
    to_prepare: VecDeque<Slot>,
    preparing: Option<Slot>,
    next_new_slot: Slot,
    /// A preparation failed: none is tried again until the caller says so
    /// (the journal has no clock; retrying at every poll would spin on a
    /// full disk).
    held_back: bool,
}

impl FileTable {
    pub fn new(max_files: u32, live: Vec<LiveFile>, free: Vec<Slot>, next_new_slot: Slot) -> Self {
        let mut table = Self {
            max_files,
            live: live.into(),
            ready: VecDeque::new(),
            to_prepare: free.into(),
            preparing: None,
            next_new_slot,
            held_back: false,
        };
        table.to_prepare.make_contiguous().sort_unstable();
        table
    }

    fn known_slots(&self) -> usize {
        self.live.len()
            + self.ready.len()
            + self.to_prepare.len()
            + usize::from(self.preparing.is_some())
    }

    pub fn ready_count(&self) -> usize {
        self.ready.len()
    }

    pub fn is_preparing(&self) -> bool {
        self.preparing.is_some()
    }

    /// The next slot to prepare, if a spare is wanted and none is being
    /// prepared. Marks it as being prepared.
    pub fn next_to_prepare(&mut self) -> Option<Slot> {
        if self.held_back || self.preparing.is_some() || self.ready.len() >= SPARE_FILES {
            return None;
        }
        if self.to_prepare.is_empty() && self.known_slots() < self.max_files as usize {
            self.to_prepare.push_back(self.next_new_slot);
            self.next_new_slot += 1;
        }
        let slot = self.to_prepare.pop_front()?;
        self.preparing = Some(slot);
        Some(slot)
    }

    /// Makes the newest live file the one being written again (after a
    /// recovery that continues in it).
    pub fn reopen_last(&mut self) {
        let last = self.live.back_mut().expect("a recovered file to continue");
        last.end_lsn = None;
    }

    pub fn prepared(&mut self, slot: Slot, ok: bool) {
        assert_eq!(
            self.preparing,
            Some(slot),
            "completion for a preparation not running"
        );
        self.preparing = None;
        if ok {
            self.ready.push_back(slot);
        } else {
            // Tried again once the caller allows it: out of space is not
            // fatal for what is already written.
            self.to_prepare.push_front(slot);
            self.held_back = true;
        }
    }

    /// Allows the next preparation after a failed one.
    pub fn retry_preparation(&mut self) {
        self.held_back = false;
    }

    /// Starts writing file `file_seq` at `start_lsn` in a ready slot; the file
    /// written so far ends where this one starts.
    pub fn start_file(&mut self, file_seq: u64, start_lsn: Lsn) -> Option<Slot> {
        let slot = self.ready.pop_front()?;
        if let Some(active) = self.live.back_mut() {
            assert!(active.file_seq < file_seq, "file sequences increase");
            active.end_lsn.get_or_insert(start_lsn);
        }
        self.live.push_back(LiveFile {
            slot,
            file_seq,
            start_lsn,
            end_lsn: None,
        });
        Some(slot)
    }

    /// The slot of live file `file_seq`.
    pub fn slot_of(&self, file_seq: u64) -> Option<Slot> {
        self.live
            .iter()
            .find(|f| f.file_seq == file_seq)
            .map(|f| f.slot)
    }

    /// Live files whose records all lie below `lsn`.
    pub fn ended_below(&self, lsn: Lsn) -> usize {
        self.live
            .iter()
            .take_while(|f| f.end_lsn.is_some_and(|end| end <= lsn))
            .count()
    }

    /// Whether any file holds records (or is being written).
    pub fn has_live(&self) -> bool {
        !self.live.is_empty()
    }

    /// Slots not holding live records, counting those not created yet.
    pub fn unused(&self) -> usize {
        (self.max_files as usize).saturating_sub(self.live.len())
    }

    /// The slot of the file being written.
    pub fn active_slot(&self, file_seq: u64) -> Slot {
        let active = self.live.back().expect("a file is being written");
        assert_eq!(
            active.file_seq, file_seq,
            "batch for a file that is not active"
        );
        active.slot
    }

    /// Recycles the oldest files whose records all lie below `below`.
    pub fn recycle_below(&mut self, below: Lsn) -> usize {
        let mut recycled = 0;
        while let Some(file) = self.live.front() {
            match file.end_lsn {
                Some(end) if end <= below => {
                    self.ready.push_back(file.slot);
                    self.live.pop_front();
                    recycled += 1;
                }
                _ => break,
            }
        }
        recycled
    }
}
