//! Mutation → record bytes. The layout is in the parent module's doc.

use super::{EVENT_HEADER_BYTES, RECORD_HEADER_BYTES, RECORD_VERSION, kind};
use crate::container::mutation::Mutation;
use crate::container::types::{ContainerId, MutationSeq};

/// The record of `mutation`, numbered `seq`, of container `container`.
pub(crate) fn encode(container: ContainerId, seq: MutationSeq, mutation: &Mutation) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(mutation));
    out.push(RECORD_VERSION);
    out.extend_from_slice(&container.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    match mutation {
        Mutation::Create {
            segment,
            created_ms,
        } => {
            out.push(kind::CREATE);
            put_name(&mut out, segment);
            out.extend_from_slice(&created_ms.to_le_bytes());
        }
        Mutation::Append {
            segment,
            writer_id,
            offset,
            events,
            data,
            source: _,
        } => {
            out.push(kind::APPEND);
            put_name(&mut out, segment);
            out.extend_from_slice(&writer_id.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&count_u32(events.len()).to_le_bytes());
            for event in events {
                out.extend_from_slice(&event.event_number.to_le_bytes());
                out.extend_from_slice(&event.len.to_le_bytes());
            }
            // The payloads last and together: the segment's bytes are then
            // one contiguous range of the record, read back in one piece.
            out.extend_from_slice(data);
        }
        Mutation::Seal { segment, length } => {
            out.push(kind::SEAL);
            put_name(&mut out, segment);
            out.extend_from_slice(&length.to_le_bytes());
        }
        Mutation::Truncate {
            segment,
            start_offset,
        } => {
            out.push(kind::TRUNCATE);
            put_name(&mut out, segment);
            out.extend_from_slice(&start_offset.to_le_bytes());
        }
        Mutation::Merge {
            target,
            source,
            target_offset,
            source_length,
        } => {
            out.push(kind::MERGE);
            put_name(&mut out, target);
            put_name(&mut out, source);
            out.extend_from_slice(&target_offset.to_le_bytes());
            out.extend_from_slice(&source_length.to_le_bytes());
        }
        Mutation::Delete { segment } => {
            out.push(kind::DELETE);
            put_name(&mut out, segment);
        }
        Mutation::SetAttribute {
            segment,
            key,
            value,
        } => {
            out.push(kind::SET_ATTRIBUTE);
            put_name(&mut out, segment);
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    debug_assert_eq!(out.len(), encoded_len(mutation));
    out
}

/// The size of an append record to a segment named with `name_len` bytes,
/// holding events with these payload sizes. Lets the planner refuse an
/// append the journal could not take before building anything.
pub(crate) fn append_record_len(
    name_len: usize,
    payload_lens: impl Iterator<Item = usize>,
) -> usize {
    let events: usize = payload_lens.map(|len| EVENT_HEADER_BYTES + len).sum();
    RECORD_HEADER_BYTES + 1 + name_len + 16 + 8 + 4 + events
}

fn encoded_len(mutation: &Mutation) -> usize {
    let name = |s: &String| 1 + s.len();
    let body = match mutation {
        Mutation::Append {
            segment, events, ..
        } => return append_record_len(segment.len(), events.iter().map(|e| e.len as usize)),
        Mutation::Create { segment, .. }
        | Mutation::Seal { segment, .. }
        | Mutation::Truncate { segment, .. } => name(segment) + 8,
        Mutation::Merge { target, source, .. } => name(target) + name(source) + 16,
        Mutation::Delete { segment } => name(segment),
        Mutation::SetAttribute { segment, .. } => name(segment) + 16 + 8,
    };
    RECORD_HEADER_BYTES + body
}

/// Names are valid wire names (at most 255 bytes) by the time they reach a
/// mutation, so the length always fits the `u8` prefix.
fn put_name(out: &mut Vec<u8>, name: &str) {
    let len = u8::try_from(name.len()).unwrap_or_else(|_| panic!("segment name over 255 bytes"));
    out.push(len);
    out.extend_from_slice(name.as_bytes());
}

/// Event counts and payload sizes are bounded by the wire limits (16384
/// events, 8 MiB), far below `u32::MAX`.
fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or_else(|_| panic!("count {n} over u32"))
}
