//! Record bytes → mutation, with every bound checked. The bytes come from
//! disk: whatever they hold, the answer is a value or a [`ReplayError`].

use bytes::Bytes;
use spate_wire::{MAX_BATCH_EVENTS, MAX_EVENT_BYTES, NameError, validate_segment_name};
use thiserror::Error;

use super::{EVENT_HEADER_BYTES, RECORD_HEADER_BYTES, RECORD_VERSION, kind};
use crate::container::mutation::{Event, Mutation};
use crate::container::state::ApplyError;
use crate::container::types::{ContainerId, MutationSeq};
use crate::le_reader::{LeReader as Reader, ShortRead};

/// Why a journal record could not be replayed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReplayError {
    #[error("record of {len} bytes ends inside a field: {needed} bytes needed at byte {at}")]
    Truncated {
        at: usize,
        needed: usize,
        len: usize,
    },
    #[error("record format version {0} is unknown (this build reads {RECORD_VERSION})")]
    UnknownVersion(u8),
    #[error("record kind {0} is unknown")]
    UnknownKind(u8),
    #[error("segment name at byte {at} is not UTF-8")]
    NameNotUtf8 { at: usize },
    #[error("segment name at byte {at} is invalid: {source}")]
    BadName { at: usize, source: NameError },
    #[error("append record holds {0} events; 1..={MAX_BATCH_EVENTS} allowed")]
    BadEventCount(u32),
    #[error("append record holds an event of {0} bytes; at most {MAX_EVENT_BYTES} allowed")]
    EventTooLarge(u32),
    #[error("{0} bytes follow the end of the record")]
    TrailingBytes(usize),
    #[error("record of {0} bytes is longer than any journal record")]
    TooLong(usize),
    #[error("record of container {found} replayed into container {expected}")]
    WrongContainer {
        expected: ContainerId,
        found: ContainerId,
    },
    #[error("record has mutation seq {found}; the container expects {expected}")]
    SeqGap {
        expected: MutationSeq,
        found: MutationSeq,
    },
    #[error("record with mutation seq {seq} does not fit the container's state: {source}")]
    Inconsistent {
        seq: MutationSeq,
        source: ApplyError,
    },
}

/// A decoded record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub container: ContainerId,
    pub seq: MutationSeq,
    pub mutation: Mutation,
}

/// The container a record belongs to, read from its header alone (so the
/// runtime can route a record before decoding the rest).
pub fn record_container(record: &[u8]) -> Result<ContainerId, ReplayError> {
    let mut reader = Reader::new(record);
    read_version(&mut reader)?;
    Ok(reader.u32()?)
}

/// Decodes a whole record.
pub(crate) fn decode(record: &[u8]) -> Result<Record, ReplayError> {
    let mut r = Reader::new(record);
    read_version(&mut r)?;
    let container = r.u32()?;
    let seq = r.u64()?;
    debug_assert_eq!(r.pos(), RECORD_HEADER_BYTES - 1);
    let mutation = match r.u8()? {
        kind::CREATE => Mutation::Create {
            segment: read_name(&mut r)?,
            created_ms: r.u64()?,
        },
        kind::APPEND => read_append(&mut r)?,
        kind::SEAL => Mutation::Seal {
            segment: read_name(&mut r)?,
            length: r.u64()?,
        },
        kind::TRUNCATE => Mutation::Truncate {
            segment: read_name(&mut r)?,
            start_offset: r.u64()?,
        },
        kind::MERGE => Mutation::Merge {
            target: read_name(&mut r)?,
            source: read_name(&mut r)?,
            target_offset: r.u64()?,
            source_length: r.u64()?,
        },
        kind::DELETE => Mutation::Delete {
            segment: read_name(&mut r)?,
        },
        kind::SET_ATTRIBUTE => Mutation::SetAttribute {
            segment: read_name(&mut r)?,
            key: r.u128()?,
            value: r.i64()?,
        },
        other => return Err(ReplayError::UnknownKind(other)),
    };
    finish(&r)?;
    Ok(Record {
        container,
        seq,
        mutation,
    })
}

fn read_version(r: &mut Reader<'_>) -> Result<(), ReplayError> {
    match r.u8()? {
        RECORD_VERSION => Ok(()),
        other => Err(ReplayError::UnknownVersion(other)),
    }
}

fn read_append(r: &mut Reader<'_>) -> Result<Mutation, ReplayError> {
    let segment = read_name(r)?;
    let writer_id = r.u128()?;
    let offset = r.u64()?;
    let count = r.u32()?;
    if count == 0 || count as usize > MAX_BATCH_EVENTS {
        return Err(ReplayError::BadEventCount(count));
    }
    // Never reserve more than the bytes present could hold: the count is
    // checked against the limit, but a short record must not allocate for it.
    let mut events = Vec::with_capacity((count as usize).min(r.remaining() / EVENT_HEADER_BYTES));
    let mut data_len = 0usize;
    for _ in 0..count {
        let event_number = r.i64()?;
        let len = r.u32()?;
        if len as usize > MAX_EVENT_BYTES {
            return Err(ReplayError::EventTooLarge(len));
        }
        data_len += len as usize;
        events.push(Event { event_number, len });
    }
    let data = Bytes::copy_from_slice(r.take(data_len)?);
    Ok(Mutation::Append {
        segment,
        writer_id,
        offset,
        events,
        data,
        source: None,
    })
}

impl From<ShortRead> for ReplayError {
    fn from(short: ShortRead) -> Self {
        ReplayError::Truncated {
            at: short.at,
            needed: short.needed,
            len: short.len,
        }
    }
}

/// A segment name: a `u8` length and that many bytes of a valid name.
fn read_name(r: &mut Reader<'_>) -> Result<String, ReplayError> {
    let len = r.u8()? as usize;
    let at = r.pos();
    let bytes = r.take(len)?;
    let name = std::str::from_utf8(bytes).map_err(|_| ReplayError::NameNotUtf8 { at })?;
    validate_segment_name(name).map_err(|source| ReplayError::BadName { at, source })?;
    Ok(name.to_owned())
}

/// Nothing may follow a record's body.
fn finish(r: &Reader<'_>) -> Result<(), ReplayError> {
    match r.remaining() {
        0 => Ok(()),
        extra => Err(ReplayError::TrailingBytes(extra)),
    }
}
