//! A mutation: the outcome of a validated request, as journaled.
//!
//! A mutation records what happened, not what was asked: a conditional
//! append that passed is a plain `Append`, a batch whose first events were
//! duplicates is an `Append` of the rest, an attribute compare-and-set that
//! held is a `SetAttribute`. Replay therefore never re-evaluates a condition;
//! it only checks that each mutation still fits the state it finds (the
//! `offset`, `length` and `source_length` fields exist for that check).

use bytes::Bytes;

use super::chunks::JournalData;

/// One event of an [`Mutation::Append`]: its number and the length of its
/// payload in the append's `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub event_number: i64,
    pub len: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mutation {
    Create {
        segment: String,
        created_ms: u64,
    },
    /// Events of one writer, in order, starting at segment offset `offset`
    /// (the segment's length before the append). `data` is their payloads,
    /// concatenated; `source` says where the record carrying them lies in
    /// the journal, once known (it is not part of the record).
    Append {
        segment: String,
        writer_id: u128,
        offset: u64,
        events: Vec<Event>,
        data: Bytes,
        source: Option<JournalData>,
    },
    /// `length` is the segment's length, which sealing makes final.
    Seal {
        segment: String,
        length: u64,
    },
    Truncate {
        segment: String,
        start_offset: u64,
    },
    /// Appends the whole of sealed `source` (`source_length` bytes) to
    /// `target` at `target_offset`, then removes `source`.
    Merge {
        target: String,
        source: String,
        target_offset: u64,
        source_length: u64,
    },
    Delete {
        segment: String,
    },
    SetAttribute {
        segment: String,
        key: u128,
        value: i64,
    },
}

impl Mutation {
    /// Adds the segments whose readers may be waiting on this mutation to
    /// `out`: their durable length grows, or they become sealed or disappear.
    pub(crate) fn wakes(&self, out: &mut Vec<String>) {
        match self {
            Mutation::Append { segment, .. }
            | Mutation::Seal { segment, .. }
            | Mutation::Delete { segment } => out.push(segment.clone()),
            Mutation::Merge { target, source, .. } => {
                out.push(target.clone());
                out.push(source.clone());
            }
            Mutation::Create { .. } | Mutation::Truncate { .. } | Mutation::SetAttribute { .. } => {
            }
        }
    }
}
