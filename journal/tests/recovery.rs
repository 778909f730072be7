//! Recovery in named situations: corruption in the middle, a torn tail, bit
//! rot at the tail, foreign files, checkpoints, release and recycling,
//! backpressure, failures. Each builds its situation on the simulated disk.

use spate_journal::sim::{Faults, SimDisk};
use spate_journal::{
    AppendError, Journal, JournalConfig, OpenError, RecordKind, RecoveryError, Storage,
};

fn config() -> JournalConfig {
    JournalConfig {
        journal_id: 1,
        file_bytes: 64 << 10,
        max_record_bytes: 8000,
        max_write_bytes: 8192,
        max_writes_in_flight: 2,
        max_queued_bytes: 64 << 10,
        max_files: 4,
    }
}

fn open(disk: SimDisk) -> (Journal<SimDisk>, spate_journal::Recovered) {
    Journal::open(disk, config()).expect("journal opens")
}

/// Appends `n` records of `len` bytes, each in its own durable write.
fn append_each_durably(journal: &mut Journal<SimDisk>, n: usize, len: usize) {
    for i in 0..n {
        let lsn = journal
            .append(RecordKind::Data, &vec![i as u8; len])
            .expect("append");
        journal.flush().expect("flush");
        assert!(journal.durable_lsn() > lsn);
    }
}

/// Offset in slot 0 of the record with `lsn`, found by recovering.
fn payload_offset_of_first_record() -> u64 {
    // The first file's records start at block 1; the first record's payload
    // follows its 40-byte header.
    4096 + 40
}

#[test]
fn corruption_followed_by_durable_records_is_an_error_with_a_precise_report() {
    let (mut journal, _) = open(SimDisk::new(1, Faults::default()));
    append_each_durably(&mut journal, 3, 100);
    let mut disk = journal.into_storage();
    disk.flip_bit(0, payload_offset_of_first_record() + 5, 3);
    match Journal::open(disk, config()) {
        Err(OpenError::Recovery(RecoveryError::Corrupt(report))) => {
            assert_eq!((report.slot, report.offset, report.lsn), (0, 4096, 1));
            let text = report.to_string();
            assert!(
                text.contains("00000000.journal") && text.contains("LSN 1"),
                "{text}"
            );
        }
        Err(other) => panic!("expected a corruption report, got {other}"),
        Ok(_) => panic!("expected a corruption report, recovery went through"),
    }
}

#[test]
fn damage_in_the_last_write_is_cut_as_a_torn_tail() {
    // Without a later write there is no evidence the last write completed:
    // damage there looks exactly like a torn write (docs/journal.md).
    let (mut journal, _) = open(SimDisk::new(2, Faults::default()));
    append_each_durably(&mut journal, 1, 100);
    let mut disk = journal.into_storage();
    disk.flip_bit(0, payload_offset_of_first_record(), 0);
    let (_, recovered) = open(disk);
    assert!(recovered.records.is_empty());
    let torn = recovered.torn_tail.expect("a torn tail is reported");
    assert_eq!((torn.slot, torn.offset, torn.lsn), (0, 4096, 1));
}

#[test]
fn a_crash_before_the_sync_loses_only_unacknowledged_records() {
    let (mut journal, _) = open(SimDisk::new(3, Faults::default()));
    append_each_durably(&mut journal, 5, 300);
    for _ in 0..20 {
        let _ = journal.append(RecordKind::Data, &[9; 500]);
    }
    let _ = journal.poll(false);
    let durable = journal.durable_lsn();
    let mut disk = journal.into_storage();
    disk.crash();
    let (journal, recovered) = open(disk);
    assert!(recovered.next_lsn >= durable);
    assert_eq!(recovered.records.len() as u64, recovered.next_lsn - 1);
    for record in &recovered.records[..5] {
        assert_eq!(record.payload, vec![(record.lsn - 1) as u8; 300]);
    }
    assert_eq!(journal.next_lsn(), recovered.next_lsn);
}

#[test]
fn records_of_a_file_are_never_written_before_its_header_is_durable() {
    // Regression: a recycled file whose new header was torn still shows its
    // old header; records of the new file in it must not exist, or a later
    // file with the same sequence number could pick them up.
    let mut config = config();
    config.max_writes_in_flight = 4;
    let (mut journal, _) =
        Journal::open(SimDisk::new(4, Faults::default()), config).expect("opens");
    let mut header_writes_seen = 0;
    for i in 0..400u32 {
        let _ = journal.append(RecordKind::Data, &[i as u8; 3000]);
        let _ = journal.poll(false);
        let disk = journal.storage_mut();
        if let Some(pending) = disk.pending_writes().iter().find(|w| w.offset == 0) {
            header_writes_seen += 1;
            let others = disk
                .pending_writes()
                .iter()
                .filter(|w| w.slot == pending.slot && w.offset != 0)
                .count();
            assert_eq!(
                others, 0,
                "records in flight together with their file's header"
            );
        }
    }
    assert!(
        header_writes_seen > 0,
        "the test must see file headers in flight"
    );
}

#[test]
fn recovery_starts_at_the_last_checkpoint() {
    let (mut journal, _) = open(SimDisk::new(5, Faults::default()));
    append_each_durably(&mut journal, 3, 10);
    let checkpoint = journal.checkpoint(b"state").expect("checkpoint");
    append_each_durably(&mut journal, 2, 10);
    assert_eq!(journal.last_checkpoint(), Some(checkpoint));
    let (_, recovered) = open(journal.into_storage());
    assert_eq!(recovered.checkpoint, Some(checkpoint));
    let lsns: Vec<_> = recovered.records.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, vec![4, 5, 6]);
    assert_eq!(recovered.records[0].kind, RecordKind::Checkpoint);
    assert_eq!(recovered.records[0].payload, b"state");
}

#[test]
fn released_files_are_recycled_so_the_journal_stays_bounded() {
    let (mut journal, _) = open(SimDisk::new(6, Faults::default()));
    // 64 KiB files, 4 at most: 2 MiB of records must recycle many times.
    for round in 0..64 {
        for _ in 0..8 {
            append_or_poll(&mut journal, &[round as u8; 3000]);
        }
        let checkpoint = loop {
            match journal.checkpoint(b"c") {
                Ok(lsn) => break lsn,
                Err(AppendError::Busy) => drop(journal.poll(true)),
                Err(e) => panic!("{e}"),
            }
        };
        journal.flush().expect("flush");
        assert_eq!(journal.last_checkpoint(), Some(checkpoint));
        journal.release(checkpoint);
    }
    let slots = journal.storage_mut().slots().expect("slots");
    assert!(
        slots.len() <= 4,
        "{} files for a journal of at most 4",
        slots.len()
    );
    let (_, recovered) = open(journal.into_storage());
    assert_eq!(
        recovered.records.len(),
        1,
        "only the last checkpoint remains after it"
    );
}

fn append_or_poll(journal: &mut Journal<SimDisk>, payload: &[u8]) {
    loop {
        match journal.append(RecordKind::Data, payload) {
            Ok(_) => return,
            Err(AppendError::Busy) => drop(journal.poll(true)),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_full_queue_answers_busy_instead_of_growing() {
    let (mut journal, _) = open(SimDisk::new(7, Faults::default()));
    let mut accepted = 0usize;
    while journal.append(RecordKind::Data, &[1; 1000]).is_ok() {
        accepted += 1;
        assert!(accepted < 10_000, "the queue never pushed back");
    }
    assert_eq!(
        journal.append(RecordKind::Data, &[1; 1000]),
        Err(AppendError::Busy)
    );
    // Bounded by max_queued_bytes (64 KiB) plus the write in flight.
    assert!(
        accepted * 1040 <= (2 * 64) << 10,
        "{accepted} records queued"
    );
    journal.flush().expect("flush");
    assert!(journal.append(RecordKind::Data, &[1; 1000]).is_ok());
}

#[test]
fn oversized_records_are_refused() {
    let (mut journal, _) = open(SimDisk::new(8, Faults::default()));
    let err = journal
        .append(RecordKind::Data, &vec![0; 8001])
        .expect_err("too large");
    assert_eq!(
        err,
        AppendError::TooLarge {
            len: 8001,
            max: 8000
        }
    );
    // The largest record spans blocks and comes back whole.
    let big: Vec<u8> = (0..8000u32).map(|i| (i % 251) as u8).collect();
    journal.append(RecordKind::Data, &big).expect("append");
    journal.flush().expect("flush");
    let (_, recovered) = open(journal.into_storage());
    assert_eq!(recovered.records[0].payload, big);
}

#[test]
fn a_failed_write_stops_the_journal_for_good() {
    let (mut journal, _) = open(SimDisk::new(9, Faults::default()));
    append_each_durably(&mut journal, 2, 10);
    journal.storage_mut().set_faults(Faults {
        write_error_per_mille: 1000,
        ..Faults::default()
    });
    let lsn = journal.append(RecordKind::Data, b"lost").expect("queued");
    let failure = journal.flush().expect_err("the write fails");
    assert_eq!(failure.durable_lsn, 3);
    assert!(
        journal.durable_lsn() <= lsn,
        "the failed record is never acknowledged"
    );
    journal.storage_mut().set_faults(Faults::default());
    assert!(journal.poll(true).is_err(), "no retry after a failure");
    assert!(matches!(
        journal.append(RecordKind::Data, b"x"),
        Err(AppendError::Stopped(_))
    ));
    let (_, recovered) = open(journal.into_storage());
    assert!(recovered.next_lsn >= 3);
}

#[test]
fn appends_during_a_write_share_the_next_write() {
    let (mut journal, _) = open(SimDisk::new(10, Faults::default()));
    journal.append(RecordKind::Data, b"first").expect("append");
    journal.poll(false).expect("poll");
    for i in 0..10u8 {
        journal.append(RecordKind::Data, &[i; 50]).expect("append");
    }
    let writes_before = journal.storage_mut().stats().writes;
    journal.flush().expect("flush");
    let writes = journal.storage_mut().stats().writes - writes_before;
    assert!(
        writes <= 2,
        "{writes} writes for one in flight and one group"
    );
}

#[test]
fn files_of_another_journal_are_refused() {
    let (mut journal, _) = open(SimDisk::new(11, Faults::default()));
    append_each_durably(&mut journal, 1, 10);
    let other = JournalConfig {
        journal_id: 2,
        ..config()
    };
    match Journal::open(journal.into_storage(), other) {
        Err(OpenError::Recovery(RecoveryError::Foreign { slot: 0, reason })) => {
            assert!(reason.contains("journal 1"), "{reason}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened another journal's files"),
    }
}

#[test]
fn bad_settings_are_refused() {
    let bad = JournalConfig {
        file_bytes: 10_000,
        ..config()
    };
    assert!(matches!(
        Journal::open(SimDisk::new(12, Faults::default()), bad),
        Err(OpenError::Config(_))
    ));
}

#[test]
fn files_holding_unreleased_records_stay_used_until_a_release() {
    let (mut journal, _) = open(SimDisk::new(9, Faults::default()));
    assert_eq!(
        journal.unused_files(),
        4,
        "no file is started before the first append"
    );
    while journal.unused_files() > 1 {
        match journal.append(RecordKind::Data, &[7; 3000]) {
            Ok(_) | Err(AppendError::Busy) => {}
            Err(other) => panic!("unexpected {other}"),
        }
        journal.poll(false).expect("poll");
    }
    let checkpoint = journal.checkpoint(b"c").expect("checkpoint");
    journal.flush().expect("flush");
    journal.release(checkpoint);
    // The files before the checkpoint are recycled once a new file's header
    // names the raised floor.
    while journal.unused_files() < 2 {
        journal
            .append(RecordKind::Data, &[8; 3000])
            .expect("room after the release");
        journal.flush().expect("flush");
    }
}

#[test]
fn a_roll_starts_a_new_file_whose_header_lets_released_files_be_recycled() {
    let (mut journal, _) = open(SimDisk::new(11, Faults::default()));
    journal
        .append(RecordKind::Data, &[1; 3000])
        .expect("append");
    journal.flush().expect("flush");
    // The checkpoint goes into a second file, so the first holds only
    // records below it.
    journal.roll();
    let checkpoint = journal.checkpoint(b"c").expect("checkpoint");
    journal.flush().expect("flush");
    journal.release(checkpoint);
    assert_eq!(journal.unused_files(), 2, "files 1 and 2 are live");
    assert_eq!(
        journal.files_awaiting_recycle(),
        1,
        "file 1 waits for a header"
    );
    // Only a header naming the new floor lets file 1 go: roll to write one.
    journal.roll();
    journal.roll(); // a second roll before any append changes nothing
    let lsn = journal.append(RecordKind::Data, &[2; 100]).expect("append");
    journal.flush().expect("flush");
    assert!(journal.durable_lsn() > lsn);
    assert_eq!(
        journal.unused_files(),
        2,
        "file 1 was recycled as file 3 started"
    );
    assert_eq!(journal.files_awaiting_recycle(), 0);
    let disk = journal.into_storage();
    let (_, recovered) = Journal::open(disk, config()).expect("recovers");
    assert_eq!(recovered.checkpoint, Some(checkpoint));
    let lsns: Vec<_> = recovered.records.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, vec![checkpoint, lsn]);
}

#[test]
fn inspection_reads_every_record_of_the_chain_and_writes_nothing() {
    let (mut journal, _) = open(SimDisk::new(12, Faults::default()));
    append_each_durably(&mut journal, 3, 100);
    let checkpoint = journal.checkpoint(b"c").expect("checkpoint");
    journal.flush().expect("flush");
    append_each_durably(&mut journal, 2, 100);
    let mut disk = journal.into_storage();
    let before: Vec<Vec<u8>> = (0..4)
        .filter_map(|slot| disk.contents(slot).map(<[u8]>::to_vec))
        .collect();
    let inspection = spate_journal::inspect(&mut disk, &config()).expect("clean journal");
    let lsns: Vec<_> = inspection.recovered.records.iter().map(|r| r.lsn).collect();
    assert_eq!(
        lsns,
        (1..=6).collect::<Vec<_>>(),
        "records before the checkpoint too"
    );
    assert_eq!(inspection.recovered.checkpoint, Some(checkpoint));
    assert_eq!(inspection.chain.len(), 1);
    let after: Vec<Vec<u8>> = (0..4)
        .filter_map(|slot| disk.contents(slot).map(<[u8]>::to_vec))
        .collect();
    assert!(before == after, "inspection wrote nothing");
}

#[test]
fn a_full_disk_holds_preparation_back_until_the_caller_retries() {
    let full = Faults {
        prepare_error_per_mille: 1000,
        ..Faults::default()
    };
    // A fresh journal on a full disk cannot hold anything: refused.
    assert!(matches!(
        Journal::open(SimDisk::new(13, full), config()),
        Err(OpenError::Prepare(_))
    ));
    let (mut journal, _) = open(SimDisk::new(13, Faults::default()));
    journal.append(RecordKind::Data, &[0; 100]).expect("append");
    journal.flush().expect("flush");
    // The disk fills: the spare is used up and no other can be made.
    journal.storage_mut().set_faults(full);
    journal.roll();
    journal
        .append(RecordKind::Data, &[1; 100])
        .expect("into the spare");
    journal.flush().expect("flush");
    assert!(journal.prepare_error().is_some());
    while !journal.append_would_wait_for_a_file(100) {
        journal
            .append(RecordKind::Data, &[2; 100])
            .expect("room left");
        journal.flush().expect("flush");
    }
    let errors = journal.storage_mut().stats().prepare_errors;
    let lsn = journal.append(RecordKind::Data, &[3; 100]).expect("queued");
    for _ in 0..1000 {
        journal.poll(false).expect("poll");
    }
    assert_eq!(
        journal.storage_mut().stats().prepare_errors,
        errors,
        "no retry without the caller's word: a full disk is not spun on"
    );
    assert!(journal.durable_lsn() <= lsn, "the record waits for a file");
    // Space returns; the caller retries.
    journal.storage_mut().set_faults(Faults::default());
    journal.retry_preparation();
    journal.flush().expect("flush");
    assert!(journal.durable_lsn() > lsn);
    assert!(journal.prepare_error().is_none());
    assert!(!journal.append_would_wait_for_a_file(100));
}
