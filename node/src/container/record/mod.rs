//! The journal record of a container mutation (format version 2).
//!
//! One record per mutation. The journal frames and checksums records, so a
//! record carries neither its length nor a CRC. Records are still input on
//! replay: decoding checks every bound and returns a typed [`ReplayError`],
//! and never panics (`tests/records.rs` feeds it random and mutated bytes).
//!
//! All integers are little-endian. Every record starts with a 14-byte header:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 1 | format version, `2` |
//! | 1  | 4 | container id (`u32`) |
//! | 5  | 8 | mutation seq (`u64`): 1 for the container's first, then +1 each |
//! | 13 | 1 | kind |
//!
//! A `name` is a `u8` length (1..=255) and that many bytes of a segment name
//! that passes `spate_wire::validate_segment_name`. The body by kind:
//!
//! | kind | mutation | body |
//! |---:|---|---|
//! | 1 | Create | `name`, `created_ms: u64` |
//! | 2 | Append | `name`, `writer_id: u128`, `offset: u64`, `count: u32` (1..=`MAX_BATCH_EVENTS`), then `count` × (`event_number: i64`, `len: u32` (≤ `MAX_EVENT_BYTES`)), then the `count` payloads concatenated (the sum of the `len`s) |
//! | 3 | Seal | `name`, `length: u64` |
//! | 4 | Truncate | `name`, `start_offset: u64` |
//! | 5 | Merge | `target` name, `source` name, `target_offset: u64`, `source_length: u64` |
//! | 6 | Delete | `name` |
//! | 7 | SetAttribute | `name`, `key: u128`, `value: i64` |
//!
//! Nothing may follow the body. A record states the result of a request, not
//! the request: conditions (expected offsets, attribute compare-and-set,
//! duplicate checks) were decided before the record was written. The offset
//! and length fields let replay check that each record fits the state it
//! finds (an append lands at the segment's length, a merge moves a source of
//! the recorded length), so a misordered or foreign record is an error, not a
//! silently different state. `docs/node-records.md` has the same table.
//!
//! An append's payloads come last and together, so the segment bytes it
//! adds are the tail of the record: the node may drop them from memory and
//! read them back from the journal in one piece. (Version 1 interleaved
//! them with the event headers; no release ever wrote it.)

mod decode;
mod encode;

pub(crate) use decode::{Record, decode};
pub use decode::{ReplayError, record_container};
pub(crate) use encode::{append_record_len, encode};

/// The format version this build writes and reads.
pub const RECORD_VERSION: u8 = 2;

/// Bytes of the header every record starts with.
pub const RECORD_HEADER_BYTES: usize = 14;

/// Bytes of an append record besides its payloads, for one event and the
/// longest name: header, name, writer id, offset, count, event header.
pub const MAX_APPEND_OVERHEAD_BYTES: usize =
    RECORD_HEADER_BYTES + 1 + spate_wire::MAX_SEGMENT_NAME_BYTES + 16 + 8 + 4 + EVENT_HEADER_BYTES;

/// Bytes before each event's payload in an append record.
const EVENT_HEADER_BYTES: usize = 8 + 4;

/// The kind byte of each mutation.
mod kind {
    pub const CREATE: u8 = 1;
    pub const APPEND: u8 = 2;
    pub const SEAL: u8 = 3;
    pub const TRUNCATE: u8 = 4;
    pub const MERGE: u8 = 5;
    pub const DELETE: u8 = 6;
    pub const SET_ATTRIBUTE: u8 = 7;
}
