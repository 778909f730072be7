//! Reading a record back from its place in a journal file.
//!
//! A caller that keeps only a record's [`RecordLocation`] (because it dropped
//! the bytes from memory) reads them again from the file. The bytes come from
//! the disk, so they are checked as on recovery: the header must parse, name
//! the expected LSN and file sequence, and the checksum must hold. A mismatch
//! is a typed error, never a panic and never the wrong bytes.

use crate::aligned::BLOCK;
use crate::format::Lsn;
use crate::format::record::{RECORD_HEADER_LEN, RecordHeader};

/// Where a record lies: its file (by sequence number, which outlives slot
/// reuse) and the byte offset of its header in that file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordLocation {
    pub lsn: Lsn,
    pub file_seq: u64,
    pub offset: u64,
}

/// The block-aligned file range to read to get the record at `location`
/// with `payload_len` payload bytes: `(offset, len)`, both multiples of
/// [`BLOCK`], as O_DIRECT wants.
pub fn aligned_span(location: RecordLocation, payload_len: u32) -> (u64, usize) {
    let start = location.offset - location.offset % BLOCK as u64;
    let end = location.offset + RECORD_HEADER_LEN as u64 + u64::from(payload_len);
    let len = (end - start).next_multiple_of(BLOCK as u64);
    (start, len as usize)
}

/// Why bytes read back are not the record expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadBackError {
    #[error("no record header at offset {offset} of file seq {file_seq}")]
    NoHeader { file_seq: u64, offset: u64 },
    #[error(
        "offset {offset} of file seq {file_seq} holds LSN {found_lsn} of file seq {found_file_seq}, expected LSN {lsn}"
    )]
    WrongRecord {
        file_seq: u64,
        offset: u64,
        lsn: Lsn,
        found_lsn: Lsn,
        found_file_seq: u64,
    },
    #[error("record LSN {lsn} at offset {offset} of file seq {file_seq} fails its checksum")]
    Checksum {
        file_seq: u64,
        offset: u64,
        lsn: Lsn,
    },
}

/// Returns the payload of the record at `location` from `span`, the bytes
/// read at `span_offset` of its file (see [`aligned_span`]).
pub fn payload_at(
    span: &[u8],
    span_offset: u64,
    location: RecordLocation,
    max_payload: u32,
) -> Result<&[u8], ReadBackError> {
    let (file_seq, offset, lsn) = (location.file_seq, location.offset, location.lsn);
    let no_header = ReadBackError::NoHeader { file_seq, offset };
    let start = usize::try_from(offset.checked_sub(span_offset).ok_or(no_header.clone())?)
        .map_err(|_| no_header.clone())?;
    let bytes = span.get(start..).ok_or(no_header.clone())?;
    let header = RecordHeader::decode(bytes, max_payload).ok_or(no_header.clone())?;
    if header.lsn != lsn || header.file_seq != file_seq {
        return Err(ReadBackError::WrongRecord {
            file_seq,
            offset,
            lsn,
            found_lsn: header.lsn,
            found_file_seq: header.file_seq,
        });
    }
    let end = RECORD_HEADER_LEN + header.payload_len as usize;
    let payload = bytes.get(RECORD_HEADER_LEN..end).ok_or(no_header)?;
    if !header.verify(&bytes[..RECORD_HEADER_LEN], payload) {
        return Err(ReadBackError::Checksum {
            file_seq,
            offset,
            lsn,
        });
    }
    Ok(payload)
}
