//! A stream's state: the fold of its metadata log, the checks that decide
//! whether a new event may join the log, and the segment work each phase
//! still needs.

use std::collections::BTreeMap;

use spate_wire::stream::{
    ConfigError, KeyRange, RangeError, StreamConfig, check_cover, split_evenly,
};
use thiserror::Error;

use super::events::StreamEvent;
use super::txn::TxnBook;

mod snapshot;
mod txn_rules;
pub use snapshot::StreamSnapshot;
#[cfg(test)]
pub use txn_rules::MAX_OPEN_TXNS;
use txn_rules::is_txn_event;

/// Where a stream is in its life. At most one workflow runs at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    Creating,
    Active,
    Scaling {
        seal: Vec<u64>,
        new: Vec<u64>,
        at_ms: u64,
    },
    Truncating {
        positions: BTreeMap<u64, u64>,
    },
    Sealing,
    Sealed,
    Deleting,
    /// Transaction `id` began; its segments are being created.
    OpeningTxn {
        id: u64,
    },
    /// Transaction `id`'s segments merge into their parents, all current.
    CommittingTxn {
        id: u64,
    },
    /// Transaction `id` began before a scale, so some of its parents are
    /// sealed: it is *rolled*, as in Pravega. A new epoch of `copies` (one
    /// segment per parent, over the parent's keys) receives its data, and
    /// is sealed at once; then a further epoch of `next` (one segment per
    /// current segment, over the same keys) replaces the current `seal`.
    /// Readers read the current segments, then the copies, then `next`, so
    /// every key's order holds and the transaction's events come whole
    /// after everything written before the commit.
    RollingTxn {
        id: u64,
        /// (parent, copy) pairs.
        copies: Vec<(u64, u64)>,
        next: Vec<u64>,
        seal: Vec<u64>,
        at_ms: u64,
    },
    /// Transaction `id`'s segments are being deleted.
    AbortingTxn {
        id: u64,
    },
}

/// One segment of a stream, over its whole life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRecord {
    pub number: u64,
    pub range: KeyRange,
    /// The epoch that created it.
    pub created_epoch: u32,
    /// The epoch whose start sealed it (`None` while it is current).
    pub sealed_epoch: Option<u32>,
    /// The sealed segments it replaced (whose ranges overlap its own).
    pub predecessors: Vec<u64>,
    /// Dropped by a truncation: wholly before a stream cut.
    pub deleted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Epoch {
    segments: Vec<u64>,
    at_ms: u64,
}

/// Segment work a phase needs, in order; each step is idempotent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    CreateSegment(u64),
    SealSegment(u64),
    TruncateSegment {
        number: u64,
        offset: u64,
    },
    DeleteSegment(u64),
    /// The segment of transaction `id` for parent `parent`.
    CreateTxnSegment {
        parent: u64,
        id: u64,
    },
    SealTxnSegment {
        parent: u64,
        id: u64,
    },
    /// Merge it into its parent; already merged if it no longer exists.
    MergeTxnSegment {
        parent: u64,
        id: u64,
    },
    /// Copy its bytes to the end of segment `into` (a roll's copy, which
    /// only this step writes); done if it no longer exists.
    CopyTxnSegment {
        parent: u64,
        id: u64,
        into: u64,
    },
    DeleteTxnSegment {
        parent: u64,
        id: u64,
    },
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StreamError {
    #[error("stream configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("key ranges: {0}")]
    Range(#[from] RangeError),
    #[error("the stream is {phase}; {wanted} needs it {needs}")]
    WrongPhase {
        phase: &'static str,
        wanted: &'static str,
        needs: &'static str,
    },
    #[error("segment {0} is not one of the stream's current segments")]
    NotCurrent(u64),
    #[error("segment {0} does not exist in this stream")]
    NoSuchSegment(u64),
    #[error("the segments to seal are not neighbours in the key space")]
    NotAdjacent,
    #[error("a stream cut names no segments")]
    EmptyCut,
    #[error("the stream cut's segments overlap in the key space ({0} and {1})")]
    CutOverlap(u64, u64),
    #[error("the stream cut's segments do not cover the key space: {0}")]
    CutCover(RangeError),
    #[error("the stream cut is before the stream's current truncation point at segment {0}")]
    CutBeforeTruncation(u64),
    #[error("stream snapshot: {0}")]
    Snapshot(&'static str),
    #[error("the stream has {0} open transactions, the most it takes; commit or abort some")]
    TooManyTxns(usize),
    #[error("transaction {0} is not open")]
    TxnNotOpen(u64),
    #[error("event {event} does not fit a stream that is {phase}")]
    Replay {
        event: &'static str,
        phase: &'static str,
    },
}

/// The state of one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamState {
    pub config: StreamConfig,
    pub created_ms: u64,
    pub phase: Phase,
    segments: BTreeMap<u64, SegmentRecord>,
    epochs: Vec<Epoch>,
    next_number: u64,
    /// The positions of the last completed truncation.
    truncated: BTreeMap<u64, u64>,
    txns: TxnBook,
}

impl StreamState {
    /// The event that creates a stream with `config`: its first epoch splits
    /// the key space evenly.
    pub fn create_event(config: StreamConfig, at_ms: u64) -> Result<StreamEvent, StreamError> {
        config.validate()?;
        let ranges = split_evenly(KeyRange::ALL, config.scaling.initial_segments())?;
        Ok(StreamEvent::Created {
            config,
            ranges,
            at_ms,
        })
    }

    /// The state a log starts with: its first event must be `Created` (or,
    /// once compacted, `Snapshot`).
    pub fn from_created(event: &StreamEvent) -> Result<Self, StreamError> {
        if let StreamEvent::Snapshot(snapshot) = event {
            return Self::from_snapshot(snapshot);
        }
        let StreamEvent::Created {
            config,
            ranges,
            at_ms,
        } = event
        else {
            return Err(StreamError::Replay {
                event: event.name(),
                phase: "not created",
            });
        };
        config.validate()?;
        check_cover(ranges, KeyRange::ALL)?;
        let segments = ranges
            .iter()
            .enumerate()
            .map(|(i, &range)| {
                let record = SegmentRecord {
                    number: i as u64,
                    range,
                    created_epoch: 0,
                    sealed_epoch: None,
                    predecessors: Vec::new(),
                    deleted: false,
                };
                (i as u64, record)
            })
            .collect();
        Ok(Self {
            config: *config,
            created_ms: *at_ms,
            phase: Phase::Creating,
            segments,
            epochs: vec![Epoch {
                segments: (0..ranges.len() as u64).collect(),
                at_ms: *at_ms,
            }],
            next_number: ranges.len() as u64,
            truncated: BTreeMap::new(),
            txns: TxnBook::default(),
        })
    }

    /// Applies the next event of the log. An event that does not fit (a
    /// damaged or foreign log) is an error and changes nothing.
    pub fn apply(&mut self, event: &StreamEvent) -> Result<(), StreamError> {
        let misfit = || StreamError::Replay {
            event: event.name(),
            phase: phase_name(&self.phase),
        };
        match (event, &self.phase) {
            (StreamEvent::Activated, Phase::Creating) => self.phase = Phase::Active,
            (
                StreamEvent::ScaleStarted {
                    seal,
                    ranges,
                    at_ms,
                },
                Phase::Active,
            ) => {
                self.check_scale(seal, ranges)?;
                self.start_scale(seal, ranges, *at_ms);
            }
            (StreamEvent::ScaleCompleted, Phase::Scaling { .. }) => self.complete_scale(),
            (StreamEvent::ConfigUpdated { config }, Phase::Active) => {
                config.validate()?;
                self.config = *config;
            }
            (StreamEvent::TruncateStarted { positions }, Phase::Active) => {
                let positions: BTreeMap<u64, u64> = positions.iter().copied().collect();
                self.check_cut(&positions)?;
                self.phase = Phase::Truncating { positions };
            }
            (StreamEvent::TruncateCompleted, Phase::Truncating { positions }) => {
                let positions = positions.clone();
                for number in self.before_cut(&positions) {
                    if let Some(segment) = self.segments.get_mut(&number) {
                        segment.deleted = true;
                    }
                }
                self.truncated = positions;
                self.phase = Phase::Active;
            }
            (StreamEvent::SealStarted, Phase::Active) => self.phase = Phase::Sealing,
            (StreamEvent::SealCompleted, Phase::Sealing) => {
                // Sealing deleted the open transactions' segments.
                self.txns.abort_all();
                let epoch = self.epoch();
                for number in self.current_numbers() {
                    if let Some(segment) = self.segments.get_mut(&number) {
                        segment.sealed_epoch = Some(epoch + 1);
                    }
                }
                self.phase = Phase::Sealed;
            }
            (StreamEvent::DeleteStarted, Phase::Sealed) => self.phase = Phase::Deleting,
            (StreamEvent::Snapshot(snapshot), Phase::Active | Phase::Sealed) => {
                // A snapshot left before its truncation: it restates the state.
                *self = Self::from_snapshot(snapshot)?;
            }
            (event, phase) if is_txn_event(event) => return self.apply_txn(event, phase.clone()),
            _ => return Err(misfit()),
        }
        Ok(())
    }

    /// The current epoch's number.
    pub fn epoch(&self) -> u32 {
        (self.epochs.len() - 1) as u32
    }

    fn current_numbers(&self) -> Vec<u64> {
        self.epochs
            .last()
            .map_or_else(Vec::new, |e| e.segments.clone())
    }

    /// The current segments, in key order.
    pub fn current_segments(&self) -> Vec<&SegmentRecord> {
        let mut current: Vec<&SegmentRecord> = self
            .current_numbers()
            .iter()
            .filter_map(|n| self.segments.get(n))
            .collect();
        current.sort_by_key(|s| s.range);
        current
    }

    pub fn segment(&self, number: u64) -> Option<&SegmentRecord> {
        self.segments.get(&number)
    }

    /// Every segment the stream ever had, by number.
    pub fn all_segments(&self) -> impl Iterator<Item = &SegmentRecord> {
        self.segments.values()
    }

    /// The current segment a key position routes to.
    pub fn segment_for(&self, position: u64) -> Option<u64> {
        self.current_segments()
            .into_iter()
            .find(|s| s.range.contains(position))
            .map(|s| s.number)
    }

    /// The segments that replaced sealed segment `number` (those whose
    /// predecessors include it), with their own predecessors: a reader moves
    /// to a successor only once it has finished all of them.
    pub fn successors(&self, number: u64) -> Result<Vec<&SegmentRecord>, StreamError> {
        self.segments
            .get(&number)
            .ok_or(StreamError::NoSuchSegment(number))?;
        Ok(self
            .segments
            .values()
            .filter(|s| s.predecessors.contains(&number))
            .collect())
    }

    /// The segments current at `at_ms` (the first epoch for earlier times).
    pub fn segments_at(&self, at_ms: u64) -> Vec<u64> {
        let epoch = self
            .epochs
            .iter()
            .rev()
            .find(|e| e.at_ms <= at_ms)
            .or(self.epochs.first());
        epoch.map_or_else(Vec::new, |e| e.segments.clone())
    }

    /// Every epoch, oldest first: when it began and its segments.
    pub fn epochs(&self) -> impl Iterator<Item = (u64, &[u64])> {
        self.epochs.iter().map(|e| (e.at_ms, e.segments.as_slice()))
    }

    /// The positions of the last completed truncation (empty: none yet).
    pub fn truncation(&self) -> &BTreeMap<u64, u64> {
        &self.truncated
    }

    /// The event that scales: seals `seal` (current, neighbours in the key
    /// space) and creates segments over `ranges`, which must cover exactly
    /// what the sealed ones covered.
    pub fn scale_event(
        &self,
        seal: Vec<u64>,
        ranges: Vec<KeyRange>,
        at_ms: u64,
    ) -> Result<StreamEvent, StreamError> {
        self.require_active("scaling")?;
        self.check_scale(&seal, &ranges)?;
        Ok(StreamEvent::ScaleStarted {
            seal,
            ranges,
            at_ms,
        })
    }

    /// The event that truncates at a stream cut.
    pub fn truncate_event(
        &self,
        positions: BTreeMap<u64, u64>,
    ) -> Result<StreamEvent, StreamError> {
        self.require_active("truncation")?;
        self.check_cut(&positions)?;
        Ok(StreamEvent::TruncateStarted {
            positions: positions.into_iter().collect(),
        })
    }

    pub fn update_event(&self, config: StreamConfig) -> Result<StreamEvent, StreamError> {
        self.require_active("an update")?;
        config.validate()?;
        Ok(StreamEvent::ConfigUpdated { config })
    }

    pub fn seal_event(&self) -> Result<StreamEvent, StreamError> {
        self.require_active("sealing")?;
        Ok(StreamEvent::SealStarted)
    }

    pub fn delete_event(&self) -> Result<StreamEvent, StreamError> {
        if self.phase != Phase::Sealed {
            return Err(self.wrong_phase("deleting", "sealed"));
        }
        Ok(StreamEvent::DeleteStarted)
    }

    /// The segment work the current phase still needs, and the event that
    /// records its completion (`None`: nothing runs, or, for a delete, the
    /// runtime removes the log itself).
    pub fn pending_work(&self) -> (Vec<Work>, Option<StreamEvent>) {
        match &self.phase {
            Phase::Creating => {
                let work = self.current_numbers().into_iter().map(Work::CreateSegment);
                (work.collect(), Some(StreamEvent::Activated))
            }
            Phase::Scaling { seal, new, .. } => {
                // New segments first: a writer that finds a segment sealed
                // asks for its successors, which must exist by then.
                let create = new.iter().map(|&n| Work::CreateSegment(n));
                let seal = seal.iter().map(|&n| Work::SealSegment(n));
                (
                    create.chain(seal).collect(),
                    Some(StreamEvent::ScaleCompleted),
                )
            }
            Phase::Truncating { positions } => {
                let truncate = positions
                    .iter()
                    .filter(|&(_, &offset)| offset > 0)
                    .map(|(&number, &offset)| Work::TruncateSegment { number, offset });
                let delete = self
                    .before_cut(positions)
                    .into_iter()
                    .map(Work::DeleteSegment);
                (
                    truncate.chain(delete).collect(),
                    Some(StreamEvent::TruncateCompleted),
                )
            }
            Phase::Sealing => {
                let work = self.current_numbers().into_iter().map(Work::SealSegment);
                let txns = self.delete_open_txns();
                (work.chain(txns).collect(), Some(StreamEvent::SealCompleted))
            }
            Phase::Deleting => {
                let work = self
                    .segments
                    .values()
                    .filter(|s| !s.deleted)
                    .map(|s| Work::DeleteSegment(s.number));
                (work.collect(), None)
            }
            Phase::Active | Phase::Sealed => (Vec::new(), None),
            _ => match self.txn_work() {
                Some((work, done)) => (work, Some(done)),
                None => unreachable!("every other phase is a transaction's"),
            },
        }
    }

    fn require_active(&self, wanted: &'static str) -> Result<(), StreamError> {
        match self.phase {
            Phase::Active => Ok(()),
            _ => Err(self.wrong_phase(wanted, "active")),
        }
    }

    fn wrong_phase(&self, wanted: &'static str, needs: &'static str) -> StreamError {
        StreamError::WrongPhase {
            phase: phase_name(&self.phase),
            wanted,
            needs,
        }
    }

    fn check_scale(&self, seal: &[u64], ranges: &[KeyRange]) -> Result<(), StreamError> {
        let current = self.current_numbers();
        let mut sealed: Vec<KeyRange> = Vec::with_capacity(seal.len());
        for number in seal {
            if !current.contains(number) {
                return Err(StreamError::NotCurrent(*number));
            }
            sealed.push(self.segments[number].range);
        }
        sealed.sort_unstable();
        let (Some(first), Some(last)) = (sealed.first(), sealed.last()) else {
            return Err(StreamError::Range(RangeError::None));
        };
        let union = KeyRange {
            start: first.start,
            end: last.end,
        };
        check_cover(&sealed, union).map_err(|_| StreamError::NotAdjacent)?;
        check_cover(ranges, union)?;
        Ok(())
    }

    fn start_scale(&mut self, seal: &[u64], ranges: &[KeyRange], at_ms: u64) {
        let epoch = self.epoch() + 1;
        let mut new = Vec::with_capacity(ranges.len());
        let mut sorted = ranges.to_vec();
        sorted.sort_unstable();
        for range in sorted {
            let number = self.next_number;
            self.next_number += 1;
            let predecessors = seal
                .iter()
                .copied()
                .filter(|n| self.segments[n].range.overlaps(&range))
                .collect();
            self.segments.insert(
                number,
                SegmentRecord {
                    number,
                    range,
                    created_epoch: epoch,
                    sealed_epoch: None,
                    predecessors,
                    deleted: false,
                },
            );
            new.push(number);
        }
        self.phase = Phase::Scaling {
            seal: seal.to_vec(),
            new,
            at_ms,
        };
    }

    fn complete_scale(&mut self) {
        let Phase::Scaling { seal, new, at_ms } = std::mem::replace(&mut self.phase, Phase::Active)
        else {
            unreachable!("matched Scaling");
        };
        let epoch = self.epoch() + 1;
        for number in &seal {
            if let Some(segment) = self.segments.get_mut(number) {
                segment.sealed_epoch = Some(epoch);
            }
        }
        let mut segments: Vec<u64> = self
            .current_numbers()
            .into_iter()
            .filter(|n| !seal.contains(n))
            .chain(new)
            .collect();
        segments.sort_unstable();
        self.epochs.push(Epoch { segments, at_ms });
    }

    /// A cut's segments must exist, not overlap, cover the key space, and
    /// not lie before the current truncation.
    fn check_cut(&self, positions: &BTreeMap<u64, u64>) -> Result<(), StreamError> {
        if positions.is_empty() {
            return Err(StreamError::EmptyCut);
        }
        let mut ranges = Vec::with_capacity(positions.len());
        for &number in positions.keys() {
            let segment = self
                .segments
                .get(&number)
                .ok_or(StreamError::NoSuchSegment(number))?;
            if segment.deleted {
                return Err(StreamError::CutBeforeTruncation(number));
            }
            ranges.push((segment.range, number));
        }
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            if pair[0].0.overlaps(&pair[1].0) {
                return Err(StreamError::CutOverlap(pair[0].1, pair[1].1));
            }
        }
        let only: Vec<KeyRange> = ranges.iter().map(|(r, _)| *r).collect();
        check_cover(&only, KeyRange::ALL).map_err(StreamError::CutCover)?;
        for (&number, &offset) in &self.truncated {
            if positions.get(&number).is_some_and(|&o| o < offset) {
                return Err(StreamError::CutBeforeTruncation(number));
            }
        }
        Ok(())
    }

    /// Segments wholly before a cut: not in it, not deleted yet, and every
    /// cut segment over their keys is a later one (a descendant).
    fn before_cut(&self, positions: &BTreeMap<u64, u64>) -> Vec<u64> {
        self.segments
            .values()
            .filter(|s| !s.deleted && !positions.contains_key(&s.number))
            .filter(|s| {
                positions.keys().all(|c| {
                    let cut = &self.segments[c];
                    !cut.range.overlaps(&s.range) || cut.created_epoch > s.created_epoch
                })
            })
            .map(|s| s.number)
            .collect()
    }
}

fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Creating => "being created",
        Phase::Active => "active",
        Phase::Scaling { .. } => "scaling",
        Phase::Truncating { .. } => "being truncated",
        Phase::Sealing => "being sealed",
        Phase::Sealed => "sealed",
        Phase::Deleting => "being deleted",
        Phase::OpeningTxn { .. } => "beginning a transaction",
        Phase::CommittingTxn { .. } | Phase::RollingTxn { .. } => "committing a transaction",
        Phase::AbortingTxn { .. } => "aborting a transaction",
    }
}
