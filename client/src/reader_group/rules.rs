//! The decisions a reader makes against the group state: what to acquire
//! or release for a fair share, and which successors a completed segment
//! opens and what they wait for. Pure functions, tested without a node.

use std::collections::BTreeSet;

use super::state::{GroupState, SegmentId, Successor};
use crate::stream::StreamInfo;

/// Segments `reader` should acquire now: none while a checkpoint is
/// pending (positions must hold still until every reader passed it),
/// otherwise unassigned ones up to its fair share.
pub fn to_acquire(state: &GroupState, reader: &str) -> Vec<SegmentId> {
    if !state.pending.is_empty() || !state.readers.contains(reader) {
        return Vec::new();
    }
    let owned = state.owned_by(reader).count();
    let want = state.fair_share().saturating_sub(owned);
    state.unassigned.keys().take(want).copied().collect()
}

/// One segment `reader` should hand back, if it owns more than its fair
/// share: one at a time, so the group converges without thrashing. The
/// highest-numbered, so that the oldest segments (predecessors) stay put.
pub fn to_release(state: &GroupState, reader: &str) -> Option<SegmentId> {
    if !state.pending.is_empty() {
        return None;
    }
    let owned: Vec<SegmentId> = state.owned_by(reader).collect();
    if owned.len() > state.fair_share() {
        owned.last().copied()
    } else {
        None
    }
}

/// The successors that completing `segment` opens, for the `Complete`
/// update. `info` describes the segment's stream.
///
/// A successor already live in the group is left alone (an earlier
/// predecessor added it). A successor past the stream's end cut is not
/// read. Each new successor waits for its other predecessors that the
/// group still has to read: those live in the group, or descended from a
/// live segment (not reached yet). Any other predecessor was read before
/// the group's start or was completed already.
pub fn successors(state: &GroupState, segment: SegmentId, info: &StreamInfo) -> Vec<Successor> {
    let in_stream = |number: u64| SegmentId {
        stream: segment.stream,
        number,
    };
    let bounded = state
        .bounds
        .bounded
        .get(usize::from(segment.stream))
        .copied()
        .unwrap_or(false);
    let readable = bounded.then(|| end_and_before(state, segment.stream, info));
    let mut out = Vec::new();
    for next in info.successors(segment.number) {
        let id = in_stream(next.number);
        if state.is_live(&id) || readable.as_ref().is_some_and(|r| !r.contains(&next.number)) {
            continue;
        }
        let wait_on = next
            .predecessors
            .iter()
            .filter(|&&p| p != segment.number)
            .filter(|&&p| still_to_read(state, segment.stream, p, info))
            .map(|&p| in_stream(p))
            .collect();
        out.push(Successor {
            segment: id,
            offset: next.start_offset,
            wait_on,
        });
    }
    out
}

/// True if the group has yet to read segment `number`: it is live, or one
/// of its ancestors is.
fn still_to_read(state: &GroupState, stream: u16, number: u64, info: &StreamInfo) -> bool {
    let mut seen = BTreeSet::new();
    let mut next = vec![number];
    while let Some(n) = next.pop() {
        if !seen.insert(n) {
            continue;
        }
        if state.is_live(&SegmentId { stream, number: n }) {
            return true;
        }
        if let Some(record) = info.segment(n) {
            next.extend(&record.predecessors);
        }
    }
    false
}

/// The segments of a bounded stream that are read: its end cut's segments
/// and all their ancestors.
fn end_and_before(state: &GroupState, stream: u16, info: &StreamInfo) -> BTreeSet<u64> {
    let mut seen = BTreeSet::new();
    let mut next: Vec<u64> = state
        .bounds
        .ends
        .keys()
        .filter(|s| s.stream == stream)
        .map(|s| s.number)
        .collect();
    while let Some(n) = next.pop() {
        if seen.insert(n)
            && let Some(record) = info.segment(n)
        {
            next.extend(&record.predecessors);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader_group::state::{Bounds, Update};
    use crate::stream::StreamName;
    use spate_wire::stream::{KeyRange, StreamConfig};
    use spate_wire::{StreamDescription, StreamPhase, StreamSegment};

    fn seg(number: u64) -> SegmentId {
        SegmentId { stream: 0, number }
    }

    fn record(number: u64, predecessors: &[u64], sealed: bool) -> StreamSegment {
        StreamSegment {
            number,
            range: KeyRange {
                start: number,
                end: number,
            },
            created_epoch: 0,
            sealed_epoch: sealed.then_some(1),
            predecessors: predecessors.to_vec(),
            length: 0,
            start_offset: 0,
        }
    }

    /// 0 splits into 2 and 3; then 3 and 1 merge into 4.
    fn info() -> StreamInfo {
        StreamInfo {
            name: StreamName::new("s", "t").expect("valid"),
            description: StreamDescription {
                config: StreamConfig::fixed(2),
                phase: StreamPhase::Active,
                epoch: 2,
                created_unix_ms: 0,
                segments: vec![
                    record(0, &[], true),
                    record(1, &[], true),
                    record(2, &[0], false),
                    record(3, &[0], true),
                    record(4, &[3, 1], false),
                ],
                epochs: Vec::new(),
                truncation: Vec::new(),
            },
        }
    }

    fn group(readers: &[&str], start: &[u64]) -> GroupState {
        let mut state = GroupState::default();
        state.apply(&Update::Reset {
            bounds: Bounds {
                streams: vec!["s/t".into()],
                bounded: vec![false],
                ends: Default::default(),
            },
            start: start.iter().map(|&n| (seg(n), 0)).collect(),
        });
        for reader in readers {
            state.apply(&Update::AddReader {
                reader: (*reader).into(),
            });
        }
        state
    }

    #[test]
    fn a_merge_waits_for_a_predecessor_not_reached_yet() {
        let mut state = group(&["a"], &[0, 1]);
        state.apply(&Update::Acquire {
            reader: "a".into(),
            segments: vec![seg(0), seg(1)],
        });
        // 1 ends first: 4 must wait for 3, which 0 has not reached yet.
        let next = successors(&state, seg(1), &info());
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].wait_on, [seg(3)].into());
    }

    #[test]
    fn predecessors_before_the_start_are_not_waited_for() {
        // Started at 2, 3 and 1 (after the split): 0 is before the start.
        let state = group(&["a"], &[1, 2, 3]);
        let next = successors(&state, seg(3), &info());
        assert_eq!(next[0].wait_on, [seg(1)].into());
        // Started at 1 alone (a cut from a checkpoint after 3 completed).
        let state = group(&["a"], &[1]);
        assert!(successors(&state, seg(1), &info())[0].wait_on.is_empty());
    }

    #[test]
    fn readers_converge_on_a_fair_share_one_release_at_a_time() {
        let mut state = group(&["a"], &[0, 1, 2, 3, 4, 5, 6, 7]);
        let all = to_acquire(&state, "a");
        assert_eq!(all.len(), 8);
        state.apply(&Update::Acquire {
            reader: "a".into(),
            segments: all,
        });
        for reader in ["b", "c", "d"] {
            state.apply(&Update::AddReader {
                reader: reader.into(),
            });
        }
        for _ in 0..20 {
            for reader in ["a", "b", "c", "d"] {
                if let Some(segment) = to_release(&state, reader) {
                    state.apply(&Update::Release {
                        reader: reader.into(),
                        segment,
                        offset: 0,
                    });
                }
                let segments = to_acquire(&state, reader);
                state.apply(&Update::Acquire {
                    reader: reader.into(),
                    segments,
                });
            }
        }
        for reader in ["a", "b", "c", "d"] {
            assert_eq!(state.owned_by(reader).count(), 2, "{reader}");
        }
    }
}
