//! A stream's description with the queries clients need: current segments,
//! the segment a key routes to, successors and predecessors, the segments
//! at a time, the tail as a stream cut.

use std::collections::BTreeMap;

use spate_wire::stream::{StreamCut, segment_name};
use spate_wire::{StreamDescription, StreamPhase, StreamSegment};

use super::StreamName;

/// What [`crate::Client::describe_stream`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream described.
    pub name: StreamName,
    /// What the node answered.
    pub description: StreamDescription,
}

impl StreamInfo {
    /// Where the stream is in its life.
    pub fn phase(&self) -> StreamPhase {
        self.description.phase
    }

    /// The segment record `number`, if not dropped by truncation.
    pub fn segment(&self, number: u64) -> Option<&StreamSegment> {
        self.description
            .segments
            .iter()
            .find(|s| s.number == number)
    }

    /// The current epoch's segments, in key order.
    pub fn current_segments(&self) -> Vec<&StreamSegment> {
        let mut current: Vec<&StreamSegment> = self
            .description
            .segments
            .iter()
            .filter(|s| s.sealed_epoch.is_none())
            .collect();
        current.sort_by_key(|s| s.range);
        current
    }

    /// The current segment a key position routes to.
    pub fn segment_for(&self, position: u64) -> Option<&StreamSegment> {
        self.current_segments()
            .into_iter()
            .find(|s| s.range.contains(position))
    }

    /// The segments that replaced `number` (their predecessors include it).
    pub fn successors(&self, number: u64) -> Vec<&StreamSegment> {
        self.description
            .segments
            .iter()
            .filter(|s| s.predecessors.contains(&number))
            .collect()
    }

    /// The segments current at `at_ms` (the first epoch for earlier times).
    pub fn segments_at(&self, at_ms: u64) -> Vec<u64> {
        let epochs = &self.description.epochs;
        epochs
            .iter()
            .rev()
            .find(|e| e.at_ms <= at_ms)
            .or(epochs.first())
            .map_or_else(Vec::new, |e| e.segments.clone())
    }

    /// The segment's full name (`scope/stream/N`).
    pub fn segment_name(&self, number: u64) -> String {
        segment_name(&self.name.scope, &self.name.stream, number)
    }

    /// A cut at the tail: every current segment at its length.
    pub fn tail_cut(&self) -> StreamCut {
        let positions: BTreeMap<u64, u64> = self
            .current_segments()
            .iter()
            .map(|s| (s.number, s.length))
            .collect();
        StreamCut {
            scope: self.name.scope.clone(),
            stream: self.name.stream.clone(),
            positions,
        }
    }

    /// Bytes the stream holds (from each segment's start offset).
    pub fn held_bytes(&self) -> u64 {
        self.description
            .segments
            .iter()
            .map(|s| s.length.saturating_sub(s.start_offset))
            .sum()
    }
}
