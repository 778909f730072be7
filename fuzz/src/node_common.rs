//! What the node fuzz entries share: small container limits, so that short
//! inputs reach eviction and the other bounds, and the checks every read
//! answer must pass.

use spate_node::container::{Container, ContainerLimits, MIN_MAX_RECORD_BYTES, Piece, ReadOutcome};
use spate_wire::Reply;

/// Containers an input may touch: bounds the work of one case.
pub const MAX_CONTAINERS: usize = 4;

pub fn limits() -> ContainerLimits {
    ContainerLimits {
        data_budget_bytes: 4096,
        max_segments: 64,
        max_attributes_per_segment: 16,
        max_writers_per_segment: 16,
        max_record_bytes: MIN_MAX_RECORD_BYTES,
    }
}

/// Reads `segment` at the offsets that matter (before its start, its start,
/// the middle, its end, past it) and checks each answer:
/// - never more than asked;
/// - some bytes whenever the offset lies inside the data (a reader that
///   gets nothing there would ask again forever);
/// - every journal piece lies inside its record's payload (the node reads
///   exactly that range back from disk).
pub fn check_reads(container: &Container, segment: &str, start: u64, length: u64) {
    const MAX_BYTES: u32 = 1000;
    let middle = start + (length.saturating_sub(start)) / 2;
    for offset in [
        start.saturating_sub(1),
        start,
        middle,
        length,
        length.saturating_add(1),
    ] {
        let (read, pieces) = match container.read(segment, offset, MAX_BYTES) {
            ReadOutcome::Reply(Reply::ReadData(data)) => (data.data.len() as u64, Vec::new()),
            ReadOutcome::Load(plan) => {
                assert_eq!(plan.offset, offset, "a plan for another offset");
                (plan.pieces.iter().map(Piece::len).sum(), plan.pieces)
            }
            ReadOutcome::Reply(_) | ReadOutcome::AtTail => continue,
        };
        assert!(
            read <= u64::from(MAX_BYTES),
            "{segment}@{offset}: read {read} bytes"
        );
        if offset >= start && offset < length {
            assert!(read > 0, "{segment}@{offset}: no bytes inside the data");
        }
        for piece in &pieces {
            if let Piece::Journal { at, start, len } = piece {
                let end = u64::from(*start) + u64::from(*len);
                assert!(
                    end <= u64::from(at.payload_len),
                    "{segment}@{offset}: piece {start}+{len} outside a payload of {}",
                    at.payload_len
                );
            }
        }
    }
}
