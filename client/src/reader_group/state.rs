//! A reader group's shared state and how each update changes it. Pure and
//! deterministic: every process folds the same updates into equal states
//! (see `synchronizer`). Updates are computed against the exact state they
//! apply to (conditional appends), so one that does not fit is ignored
//! rather than an error: it can only come from a damaged or foreign log.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::error::ClientError;

/// Readers online in one group at most.
pub const MAX_READERS: usize = 64;
/// Segments a group tracks at once at most (owned, unassigned and waiting
/// for their predecessors together). With the other caps it keeps a
/// snapshot of the whole state under the synchronizer's record bound.
pub const MAX_GROUP_SEGMENTS: usize = 1024;
/// Streams one group reads at most.
pub const MAX_GROUP_STREAMS: usize = 16;
/// Checkpoints pending at once at most (Pravega's default is 3).
pub const MAX_PENDING_CHECKPOINTS: usize = 4;
/// Completed checkpoints kept for [`crate::ReaderGroup::checkpoint`].
pub const MAX_COMPLETED_CHECKPOINTS: usize = 8;
/// Longest reader or checkpoint name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// Checks a reader or checkpoint name: non-empty, at most
/// [`MAX_NAME_BYTES`].
pub fn check_name(what: &str, name: &str) -> Result<(), ClientError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(ClientError::invalid(format!(
            "a {what} name is 1 to {MAX_NAME_BYTES} bytes; {name:?} is not"
        )));
    }
    Ok(())
}

/// A segment of one of the group's streams: the stream's index in the
/// group's list, and the segment's number in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId {
    pub stream: u16,
    pub number: u64,
}

/// Segment → offset.
pub type Positions = BTreeMap<SegmentId, u64>;

/// A segment owned by a reader, with the offset the state last heard of
/// (where it was acquired, or the reader's last checkpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub reader: String,
    pub offset: u64,
}

/// A successor not yet assignable: where it starts, and the predecessors
/// still to be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub offset: u64,
    pub on: BTreeSet<SegmentId>,
}

/// A successor named by a completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor {
    pub segment: SegmentId,
    pub offset: u64,
    /// Predecessors that must complete first (computed by the completing
    /// reader against this very state).
    pub wait_on: BTreeSet<SegmentId>,
}

/// A checkpoint some readers have not passed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub name: String,
    pub waiting: BTreeSet<String>,
    pub positions: Positions,
}

/// What the group reads: its streams (`scope/stream`) and, for bounded
/// reads, each stream's end cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds {
    pub streams: Vec<String>,
    /// Per stream: true if it has an end cut (then only the end cut's
    /// segments and their predecessors are read).
    pub bounded: Vec<bool>,
    /// End offsets of the end cuts' segments.
    pub ends: Positions,
}

/// One change to the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// (Re)starts the group: its bounds, and every segment unassigned at
    /// its start position. Readers stay online but own nothing; pending
    /// checkpoints are dropped.
    Reset {
        bounds: Bounds,
        start: Positions,
    },
    AddReader {
        reader: String,
    },
    /// The reader is gone; its segments go back at `positions` (or, for a
    /// segment not named there, the offset the state last heard of).
    RemoveReader {
        reader: String,
        positions: Positions,
    },
    Acquire {
        reader: String,
        segments: Vec<SegmentId>,
    },
    Release {
        reader: String,
        segment: SegmentId,
        offset: u64,
    },
    /// The reader read the segment to its end (or its end cut).
    Complete {
        reader: String,
        segment: SegmentId,
        successors: Vec<Successor>,
    },
    InitiateCheckpoint {
        name: String,
    },
    /// The reader passed checkpoint `name` at these positions (all it owns).
    CheckpointReached {
        reader: String,
        name: String,
        positions: Positions,
    },
}

/// The group's state: the reader-group `SyncState`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupState {
    /// Bumped by every reset; 0 until the group is first set up.
    pub generation: u64,
    pub bounds: Bounds,
    pub readers: BTreeSet<String>,
    pub assigned: BTreeMap<SegmentId, Owned>,
    pub unassigned: Positions,
    pub future: BTreeMap<SegmentId, Waiting>,
    pub pending: Vec<Pending>,
    /// Newest last, at most `MAX_COMPLETED_CHECKPOINTS`.
    pub completed: VecDeque<(String, Positions)>,
}

impl GroupState {
    /// Segments the group still has to read (owned, unassigned, waiting).
    pub fn live_segments(&self) -> usize {
        self.assigned.len() + self.unassigned.len() + self.future.len()
    }

    /// True if `segment` is owned, unassigned or waiting.
    pub fn is_live(&self, segment: &SegmentId) -> bool {
        self.assigned.contains_key(segment)
            || self.unassigned.contains_key(segment)
            || self.future.contains_key(segment)
    }

    /// The segments `reader` owns.
    pub fn owned_by<'a>(&'a self, reader: &'a str) -> impl Iterator<Item = SegmentId> + 'a {
        self.assigned
            .iter()
            .filter(move |(_, owned)| owned.reader == reader)
            .map(|(segment, _)| *segment)
    }

    /// The most segments a reader should own: the assignable segments
    /// shared out evenly, rounded up.
    pub fn fair_share(&self) -> usize {
        let assignable = self.assigned.len() + self.unassigned.len();
        assignable.div_ceil(self.readers.len().max(1))
    }

    /// A pending checkpoint that `reader` has not passed yet.
    pub fn checkpoint_for(&self, reader: &str) -> Option<&Pending> {
        self.pending.iter().find(|p| p.waiting.contains(reader))
    }

    /// The completed checkpoint `name`.
    pub fn completed_checkpoint(&self, name: &str) -> Option<&Positions> {
        self.completed
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, positions)| positions)
    }

    pub fn apply(&mut self, update: &Update) {
        match update {
            Update::Reset { bounds, start } => {
                self.generation += 1;
                self.bounds = bounds.clone();
                self.assigned.clear();
                self.future.clear();
                self.pending.clear();
                self.unassigned = start.clone();
            }
            Update::AddReader { reader } => {
                self.readers.insert(reader.clone());
            }
            Update::RemoveReader { reader, positions } => self.remove_reader(reader, positions),
            Update::Acquire { reader, segments } => {
                if !self.readers.contains(reader) {
                    return;
                }
                for segment in segments {
                    if let Some(offset) = self.unassigned.remove(segment) {
                        let owned = Owned {
                            reader: reader.clone(),
                            offset,
                        };
                        self.assigned.insert(*segment, owned);
                    }
                }
            }
            Update::Release {
                reader,
                segment,
                offset,
            } => {
                if self
                    .assigned
                    .get(segment)
                    .is_some_and(|o| &o.reader == reader)
                {
                    self.assigned.remove(segment);
                    self.unassigned.insert(*segment, *offset);
                }
            }
            Update::Complete {
                reader,
                segment,
                successors,
            } => self.complete(reader, *segment, successors),
            Update::InitiateCheckpoint { name } => {
                let pending = Pending {
                    name: name.clone(),
                    waiting: self.readers.clone(),
                    // Nobody acquires or releases while a checkpoint is
                    // pending, so the unassigned segments stay where they
                    // are now until it completes.
                    positions: self.unassigned.clone(),
                };
                self.pending.push(pending);
                self.finish_checkpoints();
            }
            Update::CheckpointReached {
                reader,
                name,
                positions,
            } => {
                for (segment, &offset) in positions {
                    if let Some(owned) = self.assigned.get_mut(segment) {
                        owned.offset = offset;
                    }
                }
                if let Some(pending) = self.pending.iter_mut().find(|p| &p.name == name)
                    && pending.waiting.remove(reader)
                {
                    pending.positions.extend(positions);
                }
                self.finish_checkpoints();
            }
        }
    }

    fn remove_reader(&mut self, reader: &str, positions: &Positions) {
        if !self.readers.remove(reader) {
            return;
        }
        let owned: Vec<SegmentId> = self.owned_by(reader).collect();
        let mut handed_back = Positions::new();
        for segment in owned {
            if let Some(was) = self.assigned.remove(&segment) {
                let offset = positions.get(&segment).copied().unwrap_or(was.offset);
                handed_back.insert(segment, offset);
                self.unassigned.insert(segment, offset);
            }
        }
        // A reader that leaves before passing a checkpoint passes it at
        // the positions it handed back.
        for pending in &mut self.pending {
            if pending.waiting.remove(reader) {
                pending.positions.extend(&handed_back);
            }
        }
        self.finish_checkpoints();
    }

    fn complete(&mut self, reader: &str, segment: SegmentId, successors: &[Successor]) {
        if self
            .assigned
            .get(&segment)
            .is_none_or(|o| o.reader != reader)
        {
            return;
        }
        self.assigned.remove(&segment);
        for waiting in self.future.values_mut() {
            waiting.on.remove(&segment);
        }
        for successor in successors {
            if !self.is_live(&successor.segment) {
                let waiting = Waiting {
                    offset: successor.offset,
                    on: successor.wait_on.clone(),
                };
                self.future.insert(successor.segment, waiting);
            }
        }
        let ready: Vec<SegmentId> = self
            .future
            .iter()
            .filter(|(_, waiting)| waiting.on.is_empty())
            .map(|(segment, _)| *segment)
            .collect();
        for segment in ready {
            if let Some(waiting) = self.future.remove(&segment) {
                self.unassigned.insert(segment, waiting.offset);
            }
        }
    }

    /// Moves checkpoints every reader has passed to `completed`.
    fn finish_checkpoints(&mut self) {
        while let Some(index) = self.pending.iter().position(|p| p.waiting.is_empty()) {
            let done = self.pending.remove(index);
            self.completed.push_back((done.name, done.positions));
            while self.completed.len() > MAX_COMPLETED_CHECKPOINTS {
                self.completed.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(number: u64) -> SegmentId {
        SegmentId { stream: 0, number }
    }

    fn started(segments: u64) -> GroupState {
        let mut state = GroupState::default();
        let start = (0..segments).map(|n| (seg(n), 0)).collect();
        state.apply(&Update::Reset {
            bounds: Bounds::default(),
            start,
        });
        state
    }

    #[test]
    fn a_successor_is_assignable_only_after_all_its_predecessors() {
        let mut state = started(2);
        state.apply(&Update::AddReader { reader: "a".into() });
        state.apply(&Update::Acquire {
            reader: "a".into(),
            segments: vec![seg(0), seg(1)],
        });
        let merged = Successor {
            segment: seg(2),
            offset: 0,
            wait_on: [seg(1)].into(),
        };
        state.apply(&Update::Complete {
            reader: "a".into(),
            segment: seg(0),
            successors: vec![merged.clone()],
        });
        assert!(state.future.contains_key(&seg(2)));
        assert!(state.unassigned.is_empty());
        let again = Successor {
            wait_on: BTreeSet::new(),
            ..merged
        };
        state.apply(&Update::Complete {
            reader: "a".into(),
            segment: seg(1),
            successors: vec![again],
        });
        assert_eq!(state.unassigned, [(seg(2), 0)].into());
        assert!(state.future.is_empty());
    }

    #[test]
    fn an_offline_reader_hands_back_its_segments_and_passes_checkpoints() {
        let mut state = started(4);
        for reader in ["a", "b"] {
            state.apply(&Update::AddReader {
                reader: reader.into(),
            });
        }
        state.apply(&Update::Acquire {
            reader: "a".into(),
            segments: vec![seg(0), seg(1)],
        });
        state.apply(&Update::Acquire {
            reader: "b".into(),
            segments: vec![seg(2)],
        });
        assert_eq!(state.fair_share(), 2);
        state.apply(&Update::InitiateCheckpoint { name: "cp".into() });
        state.apply(&Update::CheckpointReached {
            reader: "b".into(),
            name: "cp".into(),
            positions: [(seg(2), 30)].into(),
        });
        assert!(state.completed_checkpoint("cp").is_none());
        state.apply(&Update::RemoveReader {
            reader: "a".into(),
            positions: [(seg(0), 10)].into(),
        });
        assert_eq!(
            state.unassigned,
            [(seg(0), 10), (seg(1), 0), (seg(3), 0)].into()
        );
        let cut = state.completed_checkpoint("cp").expect("completed");
        assert_eq!(
            *cut,
            [(seg(0), 10), (seg(1), 0), (seg(2), 30), (seg(3), 0)].into()
        );
    }
}
