//! Entry points for fuzzing recovery with arbitrary bytes.
//!
//! Used by the cargo-fuzz targets under `fuzz/` and by the bounded run in
//! `cargo test`. Each must return normally for every input: recovery may
//! reject bytes, never panic on them, and never return a record that does not
//! check out.

use crate::config::JournalConfig;
use crate::format::file_header::FileHeader;
use crate::format::record::RecordHeader;
use crate::journal::Journal;
use crate::recovery::scan::{ScanParams, headerless_records, scan_file};
use crate::sim::{Faults, SimDisk};

/// Scans `data` as one journal file. The first 16 bytes choose the file
/// sequence and start LSN the scan expects.
pub fn scan_image(data: &[u8]) {
    let Some((params, image)) = data.split_first_chunk::<16>() else {
        return;
    };
    let file_seq = u64::from_le_bytes(params[..8].try_into().unwrap_or_default()) % 4;
    let start_lsn = u64::from_le_bytes(params[8..].try_into().unwrap_or_default()) % 64;
    let params = ScanParams {
        file_seq,
        start_lsn,
        max_payload: 1 << 16,
    };
    let scan = scan_file(image, &params);
    for (i, record) in scan.records.iter().enumerate() {
        assert_eq!(
            record.lsn,
            start_lsn + i as u64,
            "scanned LSNs are contiguous"
        );
        let offset = record.offset as usize;
        let header = RecordHeader::decode(&image[offset..], params.max_payload);
        let header = header.expect("a returned record has a well-formed header");
        let payload = &image[record.payload.clone()];
        assert!(
            header.verify(&image[offset..offset + 40], payload),
            "a returned record checks out"
        );
    }
    let _ = headerless_records(image, file_seq, start_lsn, params.max_payload);
    let _ = FileHeader::decode(image);
}

/// Recovers a whole journal from `data` cut into small files: exercises the
/// file chain as well as the scanner.
pub fn recover_files(data: &[u8]) {
    const FILE: usize = 16 << 10;
    let config = JournalConfig {
        journal_id: 0,
        file_bytes: FILE as u64,
        max_record_bytes: 2048,
        max_write_bytes: 4096,
        max_writes_in_flight: 2,
        max_queued_bytes: 16 << 10,
        max_files: 8,
    };
    let mut disk = SimDisk::new(0, Faults::default());
    for (slot, chunk) in data.chunks(FILE).take(4).enumerate() {
        let mut file = vec![0u8; FILE];
        file[..chunk.len()].copy_from_slice(chunk);
        disk.insert_file(slot as u32, file);
    }
    if let Ok((journal, recovered)) = Journal::open(disk, config) {
        assert_eq!(journal.next_lsn(), recovered.next_lsn);
        let first = recovered
            .records
            .first()
            .map_or(recovered.next_lsn, |r| r.lsn);
        assert_eq!(first + recovered.records.len() as u64, recovered.next_lsn);
    }
}
