//! Scanning one journal file image for its records.
//!
//! Pure: bytes in, records and a verdict out. Fed arbitrary bytes it must never
//! panic (it is fuzzed), and it never returns a record whose checksum failed.

use std::ops::Range;

use crate::aligned::{BLOCK, align_up};
use crate::format::Lsn;
use crate::format::record::{RECORD_ALIGN, RECORD_HEADER_LEN, RecordHeader, RecordKind};

/// What the scan expects of the file, from its header.
#[derive(Clone, Copy, Debug)]
pub struct ScanParams {
    pub file_seq: u64,
    pub start_lsn: Lsn,
    pub max_payload: u32,
}

/// A record that checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedRecord {
    pub offset: u64,
    pub lsn: Lsn,
    pub kind: RecordKind,
    /// Where the payload lies in the image.
    pub payload: Range<usize>,
}

/// How the sequence of records in a file ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// Unwritten space (zeros, or leftovers from an earlier use of the file).
    Clean { offset: u64 },
    /// Damaged bytes where `lsn` belongs, and nothing later in the file shows
    /// `lsn` was ever durable: a write that was cut short. Cut it off.
    Torn { offset: u64, lsn: Lsn },
    /// Damaged bytes where `lsn` belongs, but a later record of this file says
    /// `lsn` was durable when it was written: acknowledged data is damaged.
    Corrupt {
        offset: u64,
        lsn: Lsn,
        evidence_offset: u64,
        evidence_durable_lsn: Lsn,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileScan {
    pub records: Vec<ScannedRecord>,
    pub end: ScanEnd,
    /// The LSN after the last good record.
    pub end_lsn: Lsn,
}

/// Scans `image`, a whole journal file (header block included).
pub fn scan_file(image: &[u8], params: &ScanParams) -> FileScan {
    let mut records = Vec::new();
    let mut pos = BLOCK;
    let mut expected = params.start_lsn;
    loop {
        if let Some(record) = expected_record_at(image, pos, params, expected) {
            pos += record_footprint_at(&record);
            records.push(record);
            expected += 1;
            continue;
        }
        // A write ends with zero padding to its block boundary and the next
        // write starts on a fresh block; look there before calling it the end.
        let next_block = align_up(pos);
        if next_block != pos && expected_record_at(image, next_block, params, expected).is_some() {
            pos = next_block;
            continue;
        }
        let end = classify_end(image, pos, params, expected);
        return FileScan {
            records,
            end,
            end_lsn: expected,
        };
    }
}

fn record_footprint_at(record: &ScannedRecord) -> usize {
    RECORD_HEADER_LEN + record.payload.len().next_multiple_of(RECORD_ALIGN)
}

/// The record at `pos` if it checks out, belongs to this file and has `lsn`.
fn expected_record_at(
    image: &[u8],
    pos: usize,
    params: &ScanParams,
    lsn: Lsn,
) -> Option<ScannedRecord> {
    let (header, payload) = valid_record_at(image, pos, params)?;
    (header.lsn == lsn).then_some(ScannedRecord {
        offset: pos as u64,
        lsn,
        kind: header.kind,
        payload,
    })
}

/// The header and payload range of a checksummed record of this file at `pos`.
fn valid_record_at(
    image: &[u8],
    pos: usize,
    params: &ScanParams,
) -> Option<(RecordHeader, Range<usize>)> {
    checked_record_at(image, pos, params.max_payload).filter(|(h, _)| h.file_seq == params.file_seq)
}

/// The header and payload range of any checksummed record at `pos`.
fn checked_record_at(
    image: &[u8],
    pos: usize,
    max_payload: u32,
) -> Option<(RecordHeader, Range<usize>)> {
    let header_bytes = image.get(pos..pos.checked_add(RECORD_HEADER_LEN)?)?;
    let header = RecordHeader::decode(header_bytes, max_payload)?;
    let start = pos + RECORD_HEADER_LEN;
    let payload = start..start.checked_add(header.payload_len as usize)?;
    let payload_bytes = image.get(payload.clone())?;
    header
        .verify(header_bytes, payload_bytes)
        .then_some((header, payload))
}

fn classify_end(image: &[u8], pos: usize, params: &ScanParams, lsn: Lsn) -> ScanEnd {
    if let Some((offset, durable)) = evidence_of_durability(image, pos, params, lsn) {
        return ScanEnd::Corrupt {
            offset: pos as u64,
            lsn,
            evidence_offset: offset as u64,
            evidence_durable_lsn: durable,
        };
    }
    if looks_unwritten(image, pos, params) {
        ScanEnd::Clean { offset: pos as u64 }
    } else {
        ScanEnd::Torn {
            offset: pos as u64,
            lsn,
        }
    }
}

/// A record of this file, after `pos`, that was encoded when `lsn` was
/// already durable. Such a record proves the damage at `pos` is not a torn
/// tail. Returns its offset and durable watermark.
fn evidence_of_durability(
    image: &[u8],
    pos: usize,
    params: &ScanParams,
    lsn: Lsn,
) -> Option<(usize, Lsn)> {
    let seq_bytes = params.file_seq.to_le_bytes();
    let first = (pos + RECORD_ALIGN).next_multiple_of(RECORD_ALIGN);
    let last = image.len().checked_sub(RECORD_HEADER_LEN)?;
    (first..=last).step_by(RECORD_ALIGN).find_map(|at| {
        // Cheap filter before the checksum: the file sequence field must match.
        if image[at + 16..at + 24] != seq_bytes {
            return None;
        }
        let (header, _) = valid_record_at(image, at, params)?;
        (header.durable_lsn > lsn).then_some((at, header.durable_lsn))
    })
}

/// Zeros (never written since the file was prepared) or the end of the file.
fn looks_unwritten(image: &[u8], pos: usize, params: &ScanParams) -> bool {
    match image.get(pos..pos + RECORD_HEADER_LEN) {
        Some(bytes) => bytes.iter().all(|&b| b == 0) || is_leftover(bytes, params),
        None => true,
    }
}

/// A well-formed record header from an earlier use of the file (another file
/// sequence): the new use simply has not reached this far.
fn is_leftover(header_bytes: &[u8], params: &ScanParams) -> bool {
    RecordHeader::decode(header_bytes, u32::MAX).is_some_and(|h| h.file_seq != params.file_seq)
}

/// What the records of a file without a valid header say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderlessRecords {
    /// The highest file sequence among its checksummed records, 0 if none.
    pub max_file_seq: u64,
    /// A record from a file sequence after `chain_seq` whose durable
    /// watermark is past `end_lsn`: (offset, watermark).
    pub evidence: Option<(u64, Lsn)>,
}

/// Looks at every checksummed record in `image`, a file whose header is
/// missing or damaged, so its file sequence is unknown.
pub fn headerless_records(
    image: &[u8],
    chain_seq: u64,
    end_lsn: Lsn,
    max_payload: u32,
) -> HeaderlessRecords {
    let mut found = HeaderlessRecords::default();
    let Some(last) = image.len().checked_sub(RECORD_HEADER_LEN) else {
        return found;
    };
    for at in (BLOCK..=last).step_by(RECORD_ALIGN) {
        // Cheap filter: a header's reserved bytes are zero and its LSN is not.
        if image[at + 33..at + 40].iter().any(|&b| b != 0) || image[at + 8..at + 16] == [0; 8] {
            continue;
        }
        let Some((header, _)) = checked_record_at(image, at, max_payload) else {
            continue;
        };
        found.max_file_seq = found.max_file_seq.max(header.file_seq);
        if found.evidence.is_none() && header.file_seq > chain_seq && header.durable_lsn > end_lsn {
            found.evidence = Some((at as u64, header.durable_lsn));
        }
    }
    found
}
