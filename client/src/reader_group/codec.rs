//! The byte forms of reader-group updates and snapshots, making
//! [`GroupState`] a [`SyncState`]. Layout in `docs/streams.md` ("Reader
//! group records"); every count is checked against the group's caps when
//! read back.

use std::collections::BTreeSet;

use super::state::{
    Bounds, GroupState, MAX_COMPLETED_CHECKPOINTS, MAX_GROUP_SEGMENTS, MAX_GROUP_STREAMS,
    MAX_NAME_BYTES, MAX_PENDING_CHECKPOINTS, MAX_READERS, Owned, Pending, Positions, SegmentId,
    Successor, Update, Waiting,
};
use crate::codec::{Decoder, Encoder};
use crate::error::ClientError;
use crate::synchronizer::SyncState;

/// Snapshot layout version.
const SNAPSHOT_VERSION: u8 = 1;
/// Stream names are `scope/stream`, each part at most 64 bytes.
const MAX_STREAM_NAME_BYTES: usize = 129;

const RESET: u8 = 1;
const ADD_READER: u8 = 2;
const REMOVE_READER: u8 = 3;
const ACQUIRE: u8 = 4;
const RELEASE: u8 = 5;
const COMPLETE: u8 = 6;
const INITIATE_CHECKPOINT: u8 = 7;
const CHECKPOINT_REACHED: u8 = 8;

fn put_segment(out: &mut Encoder, segment: SegmentId) {
    out.u16(segment.stream);
    out.u64(segment.number);
}

fn get_segment(input: &mut Decoder<'_>) -> Result<SegmentId, ClientError> {
    Ok(SegmentId {
        stream: input.u16()?,
        number: input.u64()?,
    })
}

fn put_positions(out: &mut Encoder, positions: &Positions) {
    out.count(positions.len());
    for (&segment, &offset) in positions {
        put_segment(out, segment);
        out.u64(offset);
    }
}

fn get_positions(input: &mut Decoder<'_>) -> Result<Positions, ClientError> {
    let count = input.count(MAX_GROUP_SEGMENTS)?;
    let mut positions = Positions::new();
    for _ in 0..count {
        let segment = get_segment(input)?;
        positions.insert(segment, input.u64()?);
    }
    Ok(positions)
}

fn put_segments<'a>(out: &mut Encoder, segments: impl ExactSizeIterator<Item = &'a SegmentId>) {
    out.count(segments.len());
    for &segment in segments {
        put_segment(out, segment);
    }
}

fn get_segments(input: &mut Decoder<'_>) -> Result<Vec<SegmentId>, ClientError> {
    let count = input.count(MAX_GROUP_SEGMENTS)?;
    (0..count).map(|_| get_segment(input)).collect()
}

fn put_names<'a>(out: &mut Encoder, names: impl ExactSizeIterator<Item = &'a String>) {
    out.count(names.len());
    for name in names {
        out.str(name);
    }
}

fn get_names(input: &mut Decoder<'_>, max: usize) -> Result<BTreeSet<String>, ClientError> {
    let count = input.count(max)?;
    (0..count).map(|_| input.str(MAX_NAME_BYTES)).collect()
}

fn put_bounds(out: &mut Encoder, bounds: &Bounds) {
    out.count(bounds.streams.len());
    for (stream, &bounded) in bounds.streams.iter().zip(&bounds.bounded) {
        out.str(stream);
        out.u8(u8::from(bounded));
    }
    put_positions(out, &bounds.ends);
}

fn get_bounds(input: &mut Decoder<'_>) -> Result<Bounds, ClientError> {
    let count = input.count(MAX_GROUP_STREAMS)?;
    let mut bounds = Bounds::default();
    for _ in 0..count {
        bounds.streams.push(input.str(MAX_STREAM_NAME_BYTES)?);
        bounds.bounded.push(input.bool()?);
    }
    bounds.ends = get_positions(input)?;
    Ok(bounds)
}

fn encode_update(update: &Update, out: &mut Encoder) {
    match update {
        Update::Reset { bounds, start } => {
            out.u8(RESET);
            put_bounds(out, bounds);
            put_positions(out, start);
        }
        Update::AddReader { reader } => {
            out.u8(ADD_READER);
            out.str(reader);
        }
        Update::RemoveReader { reader, positions } => {
            out.u8(REMOVE_READER);
            out.str(reader);
            put_positions(out, positions);
        }
        Update::Acquire { reader, segments } => {
            out.u8(ACQUIRE);
            out.str(reader);
            put_segments(out, segments.iter());
        }
        Update::Release {
            reader,
            segment,
            offset,
        } => {
            out.u8(RELEASE);
            out.str(reader);
            put_segment(out, *segment);
            out.u64(*offset);
        }
        Update::Complete {
            reader,
            segment,
            successors,
        } => {
            out.u8(COMPLETE);
            out.str(reader);
            put_segment(out, *segment);
            out.count(successors.len());
            for successor in successors {
                put_segment(out, successor.segment);
                out.u64(successor.offset);
                put_segments(out, successor.wait_on.iter());
            }
        }
        Update::InitiateCheckpoint { name } => {
            out.u8(INITIATE_CHECKPOINT);
            out.str(name);
        }
        Update::CheckpointReached {
            reader,
            name,
            positions,
        } => {
            out.u8(CHECKPOINT_REACHED);
            out.str(reader);
            out.str(name);
            put_positions(out, positions);
        }
    }
}

fn decode_update(input: &mut Decoder<'_>) -> Result<Update, ClientError> {
    let update = match input.u8()? {
        RESET => Update::Reset {
            bounds: get_bounds(input)?,
            start: get_positions(input)?,
        },
        ADD_READER => Update::AddReader {
            reader: input.str(MAX_NAME_BYTES)?,
        },
        REMOVE_READER => Update::RemoveReader {
            reader: input.str(MAX_NAME_BYTES)?,
            positions: get_positions(input)?,
        },
        ACQUIRE => Update::Acquire {
            reader: input.str(MAX_NAME_BYTES)?,
            segments: get_segments(input)?,
        },
        RELEASE => Update::Release {
            reader: input.str(MAX_NAME_BYTES)?,
            segment: get_segment(input)?,
            offset: input.u64()?,
        },
        COMPLETE => {
            let reader = input.str(MAX_NAME_BYTES)?;
            let segment = get_segment(input)?;
            let count = input.count(MAX_GROUP_SEGMENTS)?;
            let mut successors = Vec::with_capacity(count);
            for _ in 0..count {
                successors.push(Successor {
                    segment: get_segment(input)?,
                    offset: input.u64()?,
                    wait_on: get_segments(input)?.into_iter().collect(),
                });
            }
            Update::Complete {
                reader,
                segment,
                successors,
            }
        }
        INITIATE_CHECKPOINT => Update::InitiateCheckpoint {
            name: input.str(MAX_NAME_BYTES)?,
        },
        CHECKPOINT_REACHED => Update::CheckpointReached {
            reader: input.str(MAX_NAME_BYTES)?,
            name: input.str(MAX_NAME_BYTES)?,
            positions: get_positions(input)?,
        },
        other => return Err(input.error(format_args!("unknown update tag {other}"))),
    };
    Ok(update)
}

fn encode_snapshot(state: &GroupState, out: &mut Encoder) {
    out.u8(SNAPSHOT_VERSION);
    out.u64(state.generation);
    put_bounds(out, &state.bounds);
    put_names(out, state.readers.iter());
    out.count(state.assigned.len());
    for (&segment, owned) in &state.assigned {
        put_segment(out, segment);
        out.str(&owned.reader);
        out.u64(owned.offset);
    }
    put_positions(out, &state.unassigned);
    out.count(state.future.len());
    for (&segment, waiting) in &state.future {
        put_segment(out, segment);
        out.u64(waiting.offset);
        put_segments(out, waiting.on.iter());
    }
    out.count(state.pending.len());
    for pending in &state.pending {
        out.str(&pending.name);
        put_names(out, pending.waiting.iter());
        put_positions(out, &pending.positions);
    }
    out.count(state.completed.len());
    for (name, positions) in &state.completed {
        out.str(name);
        put_positions(out, positions);
    }
}

fn decode_snapshot(input: &mut Decoder<'_>) -> Result<GroupState, ClientError> {
    let version = input.u8()?;
    if version != SNAPSHOT_VERSION {
        return Err(input.error(format_args!("unknown snapshot version {version}")));
    }
    let mut state = GroupState {
        generation: input.u64()?,
        bounds: get_bounds(input)?,
        readers: get_names(input, MAX_READERS)?,
        ..GroupState::default()
    };
    for _ in 0..input.count(MAX_GROUP_SEGMENTS)? {
        let segment = get_segment(input)?;
        let reader = input.str(MAX_NAME_BYTES)?;
        let offset = input.u64()?;
        state.assigned.insert(segment, Owned { reader, offset });
    }
    state.unassigned = get_positions(input)?;
    for _ in 0..input.count(MAX_GROUP_SEGMENTS)? {
        let segment = get_segment(input)?;
        let offset = input.u64()?;
        let on = get_segments(input)?.into_iter().collect();
        state.future.insert(segment, Waiting { offset, on });
    }
    for _ in 0..input.count(MAX_PENDING_CHECKPOINTS)? {
        state.pending.push(Pending {
            name: input.str(MAX_NAME_BYTES)?,
            waiting: get_names(input, MAX_READERS)?,
            positions: get_positions(input)?,
        });
    }
    for _ in 0..input.count(MAX_COMPLETED_CHECKPOINTS)? {
        let name = input.str(MAX_NAME_BYTES)?;
        state.completed.push_back((name, get_positions(input)?));
    }
    Ok(state)
}

impl SyncState for GroupState {
    type Update = Update;

    fn initial() -> Self {
        GroupState::default()
    }

    fn apply(&mut self, update: &Update) {
        GroupState::apply(self, update);
    }

    fn encode_update(update: &Update, out: &mut Vec<u8>) {
        let mut encoder = Encoder::default();
        encode_update(update, &mut encoder);
        out.extend_from_slice(&encoder.bytes);
    }

    fn decode_update(bytes: &[u8]) -> Result<Update, ClientError> {
        let mut input = Decoder::new(bytes, "reader-group update");
        let update = decode_update(&mut input)?;
        input.finish()?;
        Ok(update)
    }

    fn encode_snapshot(&self, out: &mut Vec<u8>) {
        let mut encoder = Encoder::default();
        encode_snapshot(self, &mut encoder);
        out.extend_from_slice(&encoder.bytes);
    }

    fn decode_snapshot(bytes: &[u8]) -> Result<Self, ClientError> {
        let mut input = Decoder::new(bytes, "reader-group snapshot");
        let state = decode_snapshot(&mut input)?;
        input.finish()?;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(number: u64) -> SegmentId {
        SegmentId { stream: 0, number }
    }

    fn round_trip(update: Update) -> Update {
        let mut bytes = Vec::new();
        GroupState::encode_update(&update, &mut bytes);
        for cut in 0..bytes.len() {
            assert!(
                GroupState::decode_update(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        GroupState::decode_update(&bytes).expect("decodes")
    }

    #[test]
    fn a_state_at_every_cap_fits_one_record() {
        let mut state = GroupState::default();
        let name = |i: usize| format!("{i:0>width$}", width = MAX_NAME_BYTES);
        state.readers = (0..MAX_READERS).map(name).collect();
        let all: Positions = (0..MAX_GROUP_SEGMENTS as u64)
            .map(|n| (seg(n), u64::MAX))
            .collect();
        for (i, &segment) in all.keys().enumerate() {
            let owned = Owned {
                reader: name(i % MAX_READERS),
                offset: u64::MAX,
            };
            state.assigned.insert(segment, owned);
        }
        for i in 0..MAX_PENDING_CHECKPOINTS {
            state.pending.push(Pending {
                name: name(i),
                waiting: state.readers.clone(),
                positions: all.clone(),
            });
        }
        for i in 0..MAX_COMPLETED_CHECKPOINTS {
            state.completed.push_back((name(i), all.clone()));
        }
        let mut bytes = Vec::new();
        state.encode_snapshot(&mut bytes);
        assert!(
            bytes.len() <= crate::synchronizer::MAX_RECORD_BYTES,
            "{}",
            bytes.len()
        );
        assert_eq!(GroupState::decode_snapshot(&bytes).expect("decodes"), state);
    }

    #[test]
    fn updates_and_snapshots_round_trip() {
        let bounds = Bounds {
            streams: vec!["s/a".into(), "s/b".into()],
            bounded: vec![false, true],
            ends: [(
                SegmentId {
                    stream: 1,
                    number: 3,
                },
                99,
            )]
            .into(),
        };
        let updates = vec![
            Update::Reset {
                bounds,
                start: [(seg(0), 0), (seg(1), 5)].into(),
            },
            Update::AddReader {
                reader: "r1".into(),
            },
            Update::AddReader {
                reader: "r2".into(),
            },
            Update::Acquire {
                reader: "r1".into(),
                segments: vec![seg(0), seg(1)],
            },
            Update::Release {
                reader: "r1".into(),
                segment: seg(1),
                offset: 7,
            },
            Update::InitiateCheckpoint { name: "c1".into() },
            Update::CheckpointReached {
                reader: "r1".into(),
                name: "c1".into(),
                positions: [(seg(0), 3)].into(),
            },
            Update::Complete {
                reader: "r1".into(),
                segment: seg(0),
                successors: vec![Successor {
                    segment: seg(4),
                    offset: 0,
                    wait_on: [seg(1)].into(),
                }],
            },
            Update::RemoveReader {
                reader: "r2".into(),
                positions: Positions::new(),
            },
        ];
        let mut state = GroupState::default();
        for update in updates {
            let back = round_trip(update.clone());
            assert_eq!(back, update);
            state.apply(&back);
        }
        assert!(state.completed_checkpoint("c1").is_some());
        assert!(!state.future.is_empty());
        let mut bytes = Vec::new();
        state.encode_snapshot(&mut bytes);
        assert_eq!(GroupState::decode_snapshot(&bytes).expect("decodes"), state);
        bytes.push(0);
        assert!(GroupState::decode_snapshot(&bytes).is_err());
    }
}
