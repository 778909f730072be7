//! Rebuilding the record sequence from the journal files.
//!
//! 1. Read every file header. Files of this journal form a chain ordered by
//!    file sequence; a file without a valid header is free.
//! 2. Start at the file holding the newest retain LSN any header names (files
//!    before it were released and may be recycled). The retain LSN is the
//!    caller's release floor, never past a durable checkpoint.
//! 3. Scan each file of the chain; each must start at the LSN where the
//!    previous one ended. A torn tail is cut; damage that a later record proves
//!    was acknowledged is an error (see [`scan`]).
//! 4. Hand the caller the records from the last checkpoint on.

pub mod fuzz;
pub mod scan;

use crate::aligned::{AlignedBuf, BLOCK};
use crate::config::JournalConfig;
use crate::error::{CorruptionReport, RecoveryError};
use crate::format::Lsn;
use crate::format::file_header::{FileHeader, HeaderDefect};
use crate::format::record::RecordKind;
use crate::readback::RecordLocation;
use crate::storage::{Slot, SlotInfo, Storage};
use scan::{ScanEnd, ScanParams, scan_file};

/// A record handed back by recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredRecord {
    pub lsn: Lsn,
    pub kind: RecordKind,
    pub payload: Vec<u8>,
    /// Where it lies, to read it back later (see [`crate::readback`]).
    pub location: RecordLocation,
}

/// Where recovery cut off a torn tail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub slot: Slot,
    pub file_seq: u64,
    pub offset: u64,
    pub lsn: Lsn,
}

/// What recovery found, for the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records in LSN order, starting with the last checkpoint record (or from
    /// the first record if there is no checkpoint).
    pub records: Vec<RecoveredRecord>,
    /// The LSN the next append gets.
    pub next_lsn: Lsn,
    pub checkpoint: Option<Lsn>,
    /// The last torn tail that was cut, if any.
    pub torn_tail: Option<TornTail>,
}

/// One file of the recovered chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainFile {
    pub slot: Slot,
    pub file_seq: u64,
    pub start_lsn: Lsn,
    pub end_lsn: Lsn,
}

/// What the journal needs to resume writing.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub chain: Vec<ChainFile>,
    /// Files that hold nothing needed: reusable.
    pub free: Vec<SlotInfo>,
    /// The highest file sequence seen anywhere, in headers or in records of
    /// files whose header is missing. New files get higher ones, so leftover
    /// records of an abandoned file can never pass for records of a new one.
    pub max_file_seq: u64,
    /// Where the records of the last file of the chain end.
    pub tail_offset: u64,
    /// The newest checkpoint a durable file header names.
    pub header_retain: Lsn,
}

struct HeaderedFile {
    info: SlotInfo,
    header: FileHeader,
}

/// What a read-only look at a journal finds (for tools: `spate journal`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Every record of the chain in LSN order, checkpoints included (not
    /// only those from the last checkpoint on, as [`Recovered`] holds).
    pub recovered: Recovered,
    /// The files recovery would start from, in order.
    pub chain: Vec<ChainFile>,
    /// Slots that hold nothing needed.
    pub free_slots: usize,
    /// The newest retain LSN a durable file header names.
    pub retain_lsn: Lsn,
}

/// Runs recovery's checks on the journal in `storage` without writing
/// anything: the same chain, the same torn-tail and corruption verdicts.
pub fn inspect<S: Storage>(
    storage: &mut S,
    config: &JournalConfig,
) -> Result<Inspection, RecoveryError> {
    let (recovered, layout) = recover_with(storage, config, true)?;
    Ok(Inspection {
        recovered,
        chain: layout.chain,
        free_slots: layout.free.len(),
        retain_lsn: layout.header_retain,
    })
}

/// Reads the journal in `storage` back.
pub(crate) fn recover<S: Storage>(
    storage: &mut S,
    config: &JournalConfig,
) -> Result<(Recovered, Layout), RecoveryError> {
    recover_with(storage, config, false)
}

/// `keep_all`: keep the records before the last checkpoint too.
fn recover_with<S: Storage>(
    storage: &mut S,
    config: &JournalConfig,
    keep_all: bool,
) -> Result<(Recovered, Layout), RecoveryError> {
    let slots = storage
        .slots()
        .map_err(|source| RecoveryError::Io { slot: 0, source })?;
    let (mut files, mut free, headerless) = read_headers(storage, config, slots)?;
    files.sort_by_key(|f| f.header.file_seq);
    if let Some(pair) = files
        .windows(2)
        .find(|w| w[0].header.file_seq == w[1].header.file_seq)
    {
        return Err(RecoveryError::Inconsistent(format!(
            "slots {} and {} both claim file sequence {}",
            pair[0].info.slot, pair[1].info.slot, pair[0].header.file_seq
        )));
    }
    let header_retain = files.iter().map(|f| f.header.retain_lsn).max().unwrap_or(0);
    let start = chain_start(&files, header_retain)?;
    free.extend(files.drain(..start).map(|f| f.info));
    let chain_seq = files.last().map_or(0, |f| f.header.file_seq);
    let mut image = AlignedBuf::new(config.file_bytes as usize);
    let (recovered, chain, tail_offset) =
        walk_chain(storage, config, &files, &mut image, keep_all)?;
    let headerless_seq = check_headerless(
        storage,
        config,
        &headerless,
        chain_seq,
        recovered.next_lsn,
        &mut image,
    )?;
    free.extend(headerless);
    let max_file_seq = chain_seq.max(headerless_seq);
    Ok((
        recovered,
        Layout {
            chain,
            free,
            max_file_seq,
            tail_offset,
            header_retain,
        },
    ))
}

type Headers = (Vec<HeaderedFile>, Vec<SlotInfo>, Vec<SlotInfo>);

/// Sorts slots into files of this journal, free slots (an older file of this
/// journal, released), and slots without a valid header (never used, a torn
/// first write, or damage).
fn read_headers<S: Storage>(
    storage: &mut S,
    config: &JournalConfig,
    slots: Vec<SlotInfo>,
) -> Result<Headers, RecoveryError> {
    let (mut files, free, mut headerless) = (Vec::new(), Vec::new(), Vec::new());
    let mut block = AlignedBuf::new(BLOCK);
    for info in slots {
        storage
            .read_at(info.slot, 0, &mut block)
            .map_err(|source| RecoveryError::Io {
                slot: info.slot,
                source,
            })?;
        match FileHeader::decode(block.as_slice()) {
            Ok(header) if header.journal_id == config.journal_id => {
                files.push(HeaderedFile { info, header })
            }
            Ok(header) => {
                return Err(RecoveryError::Foreign {
                    slot: info.slot,
                    reason: format!(
                        "belongs to journal {} (expected {})",
                        header.journal_id, config.journal_id
                    ),
                });
            }
            Err(HeaderDefect::UnsupportedVersion(v)) => {
                return Err(RecoveryError::Foreign {
                    slot: info.slot,
                    reason: format!("unsupported format version {v}"),
                });
            }
            Err(HeaderDefect::NoMagic | HeaderDefect::BadChecksum) => headerless.push(info),
        }
    }
    Ok((files, free, headerless))
}

/// Index of the file holding the newest retain LSN named by any header.
fn chain_start(files: &[HeaderedFile], retain: Lsn) -> Result<usize, RecoveryError> {
    if retain == 0 {
        return Ok(0);
    }
    files
        .iter()
        .rposition(|f| f.header.start_lsn <= retain)
        .ok_or_else(|| {
            RecoveryError::Inconsistent(format!(
                "file headers name retain LSN {retain}, but no file holds it"
            ))
        })
}

fn walk_chain<S: Storage>(
    storage: &mut S,
    config: &JournalConfig,
    files: &[HeaderedFile],
    image: &mut AlignedBuf,
    keep_all: bool,
) -> Result<(Recovered, Vec<ChainFile>, u64), RecoveryError> {
    let mut recovered = Recovered {
        next_lsn: files.first().map_or(1, |f| f.header.start_lsn),
        ..Recovered::default()
    };
    let mut chain = Vec::with_capacity(files.len());
    let mut tail_offset = 0;
    for file in files {
        let header = file.header;
        if header.start_lsn != recovered.next_lsn {
            return Err(RecoveryError::Inconsistent(format!(
                "file {:08}.journal (file seq {}) starts at LSN {}, but the files before it end at LSN {}",
                file.info.slot, header.file_seq, header.start_lsn, recovered.next_lsn
            )));
        }
        read_image(storage, file.info.slot, image)?;
        let params = ScanParams {
            file_seq: header.file_seq,
            start_lsn: header.start_lsn,
            max_payload: config.max_record_bytes,
        };
        let scan = scan_file(image.as_slice(), &params);
        for record in scan.records {
            if record.kind == RecordKind::Checkpoint {
                if !keep_all {
                    recovered.records.clear();
                }
                recovered.checkpoint = Some(record.lsn);
            }
            let payload = image.as_slice()[record.payload].to_vec();
            recovered.records.push(RecoveredRecord {
                lsn: record.lsn,
                kind: record.kind,
                payload,
                location: RecordLocation {
                    lsn: record.lsn,
                    file_seq: header.file_seq,
                    offset: record.offset,
                },
            });
        }
        tail_offset = note_end(&mut recovered, file, scan.end)?;
        recovered.next_lsn = scan.end_lsn;
        chain.push(ChainFile {
            slot: file.info.slot,
            file_seq: header.file_seq,
            start_lsn: header.start_lsn,
            end_lsn: scan.end_lsn,
        });
    }
    Ok((recovered, chain, tail_offset))
}

/// Records how a file's records end; returns the offset where they end.
fn note_end(
    recovered: &mut Recovered,
    file: &HeaderedFile,
    end: ScanEnd,
) -> Result<u64, RecoveryError> {
    match end {
        ScanEnd::Clean { offset } => Ok(offset),
        ScanEnd::Torn { offset, lsn } => {
            recovered.torn_tail = Some(TornTail {
                slot: file.info.slot,
                file_seq: file.header.file_seq,
                offset,
                lsn,
            });
            Ok(offset)
        }
        ScanEnd::Corrupt {
            offset,
            lsn,
            evidence_offset,
            evidence_durable_lsn,
        } => Err(RecoveryError::Corrupt(CorruptionReport {
            slot: file.info.slot,
            file_seq: file.header.file_seq,
            offset,
            lsn,
            evidence: format!(
                "the record at offset {evidence_offset} was written after every LSN below {evidence_durable_lsn} was durable"
            ),
        })),
    }
}

fn read_image<S: Storage>(
    storage: &mut S,
    slot: Slot,
    image: &mut AlignedBuf,
) -> Result<(), RecoveryError> {
    storage
        .read_at(slot, 0, image)
        .map_err(|source| RecoveryError::Io { slot, source })
}

/// Checks the files without a valid header. Normally they were never used or
/// their first write was torn (never acknowledged). If a record in one proves
/// LSNs past the recovered end were durable, its header decayed after the
/// fact: acknowledged data is lost. Returns the highest file sequence found in
/// their records.
fn check_headerless<S: Storage>(
    storage: &mut S,
    config: &JournalConfig,
    headerless: &[SlotInfo],
    chain_seq: u64,
    end_lsn: Lsn,
    image: &mut AlignedBuf,
) -> Result<u64, RecoveryError> {
    let mut max_seq = 0;
    for info in headerless {
        read_image(storage, info.slot, image)?;
        let found = scan::headerless_records(
            image.as_slice(),
            chain_seq,
            end_lsn,
            config.max_record_bytes,
        );
        if let Some((offset, durable)) = found.evidence {
            return Err(RecoveryError::Corrupt(CorruptionReport {
                slot: info.slot,
                file_seq: 0,
                offset: 0,
                lsn: end_lsn,
                evidence: format!(
                    "the file header is damaged and the record at offset {offset} says every LSN below {durable} was durable"
                ),
            }));
        }
        max_seq = max_seq.max(found.max_file_seq);
    }
    Ok(max_seq)
}
