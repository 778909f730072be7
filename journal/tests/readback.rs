//! Reading records back by location: right after the append, after a
//! restart, and after a checkpoint whose release floor keeps older files.
//! Damaged or foreign bytes at a location are typed errors.

use spate_journal::readback::{aligned_span, payload_at};
use spate_journal::sim::{Faults, SimDisk};
use spate_journal::{
    AlignedBuf, Journal, JournalConfig, ReadBackError, RecordKind, RecordLocation, Storage,
};

fn config() -> JournalConfig {
    JournalConfig {
        journal_id: 7,
        file_bytes: 64 << 10,
        max_record_bytes: 8000,
        max_write_bytes: 8192,
        max_writes_in_flight: 2,
        max_queued_bytes: 64 << 10,
        max_files: 6,
    }
}

fn payload(i: usize) -> Vec<u8> {
    (0..100 + i * 37 % 3000).map(|b| (b + i) as u8).collect()
}

/// Reads the payload at `at` through the storage, as the node does.
fn read_back(
    journal: &mut Journal<SimDisk>,
    at: RecordLocation,
    len: usize,
) -> Result<Vec<u8>, ReadBackError> {
    let slot = journal.slot_of(at.file_seq).expect("file still live");
    let (offset, span) = aligned_span(at, len as u32);
    let mut buf = AlignedBuf::new(span);
    buf.set_len(span);
    journal
        .storage_mut()
        .read_at(slot, offset, &mut buf)
        .expect("read");
    payload_at(buf.as_slice(), offset, at, config().max_record_bytes).map(<[u8]>::to_vec)
}

fn append_all(journal: &mut Journal<SimDisk>, n: usize) -> Vec<RecordLocation> {
    (0..n)
        .map(|i| {
            let at = journal
                .append_located(RecordKind::Data, &payload(i))
                .expect("append");
            journal.flush().expect("flush");
            at
        })
        .collect()
}

#[test]
fn records_read_back_at_their_location_across_files_and_restarts() {
    let (mut journal, _) =
        Journal::open(SimDisk::new(3, Faults::default()), config()).expect("opens");
    let located = append_all(&mut journal, 40);
    assert!(
        located.iter().map(|l| l.file_seq).max() > located.iter().map(|l| l.file_seq).min(),
        "the records span several files"
    );
    for (i, at) in located.iter().enumerate() {
        assert_eq!(
            read_back(&mut journal, *at, payload(i).len()).expect("intact"),
            payload(i)
        );
    }
    let disk = journal.into_storage();
    let (mut journal, recovered) = Journal::open(disk, config()).expect("reopens");
    let found: Vec<_> = recovered.records.iter().map(|r| r.location).collect();
    assert_eq!(found, located, "recovery reports the same locations");
    for (i, at) in located.iter().enumerate() {
        assert_eq!(
            read_back(&mut journal, *at, payload(i).len()).expect("intact"),
            payload(i)
        );
    }
}

#[test]
fn a_release_floor_below_the_checkpoint_keeps_older_records_readable_after_restart() {
    let (mut journal, _) =
        Journal::open(SimDisk::new(4, Faults::default()), config()).expect("opens");
    let located = append_all(&mut journal, 30);
    let checkpoint = journal.checkpoint(b"state").expect("checkpoint");
    journal.flush().expect("flush");
    // Keep everything from record 10 on, though the checkpoint is later.
    journal.release(located[10].lsn);
    append_all(&mut journal, 30);
    let disk = journal.into_storage();
    let (mut journal, recovered) = Journal::open(disk, config()).expect("reopens");
    assert_eq!(recovered.checkpoint, Some(checkpoint));
    assert_eq!(
        recovered.records[0].lsn, checkpoint,
        "records start at the checkpoint"
    );
    for (i, at) in located.iter().enumerate().skip(10) {
        assert_eq!(
            read_back(&mut journal, *at, payload(i).len()).expect("kept"),
            payload(i)
        );
    }
}

#[test]
fn damaged_or_foreign_bytes_at_a_location_are_typed_errors() {
    let (mut journal, _) =
        Journal::open(SimDisk::new(5, Faults::default()), config()).expect("opens");
    let located = append_all(&mut journal, 3);
    let wrong = RecordLocation {
        lsn: located[1].lsn,
        ..located[0]
    };
    assert!(matches!(
        read_back(&mut journal, wrong, payload(0).len()),
        Err(ReadBackError::WrongRecord { .. })
    ));
    let nowhere = RecordLocation {
        offset: located[0].offset + 8,
        ..located[0]
    };
    assert!(matches!(
        read_back(&mut journal, nowhere, payload(0).len()),
        Err(ReadBackError::NoHeader { .. })
    ));
    let slot = journal.slot_of(located[2].file_seq).expect("live");
    journal
        .storage_mut()
        .flip_bit(slot, located[2].offset + 40 + 7, 1);
    assert!(matches!(
        read_back(&mut journal, located[2], payload(2).len()),
        Err(ReadBackError::Checksum { .. })
    ));
}
