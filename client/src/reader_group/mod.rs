//! Reader groups: several readers share the reading of one or more
//! streams, each segment read by one reader at a time, in the model of
//! Pravega (`../shared/reference/pravega.md` §3).
//!
//! There is no coordinator: the group's state (`state.rs`: readers online,
//! who owns which segment, unassigned segments and their positions,
//! successors waiting for their predecessors, checkpoints) lives in a
//! segment of the node and changes only through the state synchronizer's
//! conditional updates. Each reader refreshes it now and then and moves
//! itself toward a fair share (`rules.rs`); a [`ReaderGroup`] handle
//! manages the group (readers offline, checkpoints, resets).
//!
//! Layout: `state` (the state and its updates), `codec` (their bytes),
//! `rules` (acquire, release, successors), `cuts` (stream cuts to and from
//! group positions), `cursor` (one owned segment),
//! `reader` ([`EventReader`]), `group` ([`ReaderGroup`]).

mod codec;
mod cursor;
mod cuts;
mod group;
mod reader;
mod rules;
mod state;

use std::collections::BTreeMap;
use std::time::Duration;

use spate_wire::stream::StreamCut;

pub use group::{ReaderGroup, SegmentDistribution};
pub use reader::EventReader;
pub use state::{
    MAX_COMPLETED_CHECKPOINTS, MAX_GROUP_SEGMENTS, MAX_GROUP_STREAMS, MAX_NAME_BYTES,
    MAX_PENDING_CHECKPOINTS, MAX_READERS,
};

use crate::stream::StreamName;
use state::SegmentId;

/// The segment holding group `group`'s state in `scope`.
pub fn reader_group_segment(scope: &str, group: &str) -> String {
    format!("_system/readergroups/{scope}/{group}")
}

/// What a group reads.
#[derive(Debug, Clone)]
pub struct ReaderGroupConfig {
    /// The streams, each with optional start and end cuts.
    pub streams: Vec<StreamBounds>,
    /// How often a reader looks at the group state (for new segments,
    /// rebalancing, checkpoints) while it reads.
    pub refresh: Duration,
}

impl ReaderGroupConfig {
    /// Reads `stream` from its head, unbounded.
    pub fn stream(stream: StreamName) -> Self {
        ReaderGroupConfig {
            streams: vec![StreamBounds {
                stream,
                start: None,
                end: None,
            }],
            refresh: Duration::from_secs(1),
        }
    }
}

/// One stream of a group and where reading starts and ends.
#[derive(Debug, Clone)]
pub struct StreamBounds {
    /// The stream.
    pub stream: StreamName,
    /// Where to start; `None`: the stream's head (its truncation point).
    pub start: Option<StreamCut>,
    /// Where to stop (bounded read); `None`: read on at the tail.
    pub end: Option<StreamCut>,
}

/// What [`EventReader::read_next_event`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRead {
    /// The next event.
    Event(Event),
    /// This reader passed checkpoint `name`: every event returned before
    /// this marker is before the checkpoint, every event after it after.
    Checkpoint(String),
}

/// An event and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its stream.
    pub stream: StreamName,
    /// The segment's number in the stream.
    pub segment: u64,
    /// The offset of the event's header in the segment.
    pub offset: u64,
    /// The event's bytes.
    pub payload: Vec<u8>,
}

/// A reader's position: for each segment it owns, the offset of the next
/// event it would return. Hand it to [`ReaderGroup::reader_offline`] so a
/// reader that died resumes exactly there. Meaningful within its group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    offsets: BTreeMap<SegmentId, u64>,
}

impl Position {
    /// The segments held, as `(stream index in the group, segment, offset)`.
    pub fn offsets(&self) -> Vec<(u16, u64, u64)> {
        self.offsets
            .iter()
            .map(|(s, &offset)| (s.stream, s.number, offset))
            .collect()
    }
}

/// A completed checkpoint: where every segment of every stream stood when
/// all readers had passed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Its name.
    pub name: String,
    /// One cut per stream of the group.
    pub cuts: Vec<StreamCut>,
}
