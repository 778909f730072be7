//! The read cache: durable data over the budget is evicted oldest first and
//! read back from (a stand-in for) the journal; pending data is never
//! evicted; replay with locations stays within the budget too.

use std::collections::HashMap;

use spate_journal::RecordLocation;

use super::super::{Piece, ReadPlan};
use super::*;

const QUARTER: usize = 256 << 10;

/// Records by LSN, as the journal would hold them.
#[derive(Default)]
struct FakeJournal {
    records: HashMap<u64, Vec<u8>>,
    next_lsn: u64,
}

impl FakeJournal {
    /// Executes `request`, "journals" its record and makes it durable.
    fn run(&mut self, c: &mut Container, request: impl Into<Request>) -> Reply {
        match c.execute(request.into(), NOW) {
            Execution::Journal { record, seq, reply } => {
                let location = self.store(record.clone());
                c.journaled(seq, location, record.len() as u32);
                c.mark_durable(seq);
                reply
            }
            Execution::Reply(reply) => reply,
            _ => panic!("a request that waits for another"),
        }
    }

    fn store(&mut self, record: Vec<u8>) -> RecordLocation {
        self.next_lsn += 1;
        let lsn = self.next_lsn;
        self.records.insert(lsn, record);
        RecordLocation {
            lsn,
            file_seq: 1,
            offset: lsn * 4096,
        }
    }

    /// Completes a plan as the runtime does.
    fn load(&self, plan: &ReadPlan) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in &plan.pieces {
            match piece {
                Piece::Memory(bytes) => out.extend_from_slice(bytes),
                Piece::Hot { .. } => unreachable!("nothing is flushed here"),
                Piece::Journal { at, start, len } => {
                    let record = &self.records[&at.location.lsn];
                    assert_eq!(record.len() as u32, at.payload_len);
                    out.extend_from_slice(&record[*start as usize..(*start + *len) as usize]);
                }
            }
        }
        out
    }

    /// Reads the whole segment, from memory and the journal.
    fn read_all(&self, c: &Container, segment: &str) -> Vec<u8> {
        match c.read(segment, 0, u32::MAX) {
            ReadOutcome::Reply(Reply::ReadData(data)) => data.data,
            ReadOutcome::Load(plan) => self.load(&plan),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn quarter(n: u8) -> Vec<u8> {
    (0..QUARTER).map(|i| (i as u8).wrapping_add(n)).collect()
}

#[test]
fn durable_data_over_the_budget_is_evicted_oldest_first_and_read_back() {
    let (mut c, mut journal) = (container(), FakeJournal::default());
    journal.run(&mut c, create("s"));
    let mut expected = Vec::new();
    for n in 0..10u8 {
        let reply = journal.run(&mut c, append("s", 1, i64::from(n), &quarter(n)));
        assert!(matches!(reply, Reply::Appended(_)), "{reply:?}");
        expected.extend_from_slice(&quarter(n));
        assert!(c.stats().data_bytes <= limits().data_budget_bytes);
    }
    assert_eq!(journal.read_all(&c, "s"), expected);
    // The newest quarters are resident; the oldest come from the journal.
    match c.read("s", 0, 10) {
        ReadOutcome::Load(plan) => assert!(matches!(plan.pieces[..], [Piece::Journal { .. }])),
        other => panic!("expected a journal read, got {other:?}"),
    }
    assert!(matches!(
        c.read("s", 9 * QUARTER as u64, 10),
        ReadOutcome::Reply(Reply::ReadData(_))
    ));
    // A read across the boundary mixes both, in order.
    let across = match c.read("s", 6 * QUARTER as u64 - 5, 10) {
        ReadOutcome::Load(plan) => journal.load(&plan),
        other => panic!("expected a mixed read, got {other:?}"),
    };
    assert_eq!(across, expected[6 * QUARTER - 5..6 * QUARTER + 5]);
}

#[test]
fn batches_are_read_back_as_their_records_payload_tail() {
    let (mut c, mut journal) = (container(), FakeJournal::default());
    journal.run(&mut c, create("s"));
    let big = quarter(1);
    let events: [(i64, &[u8]); 3] = [(0, b"abc"), (1, &big[..QUARTER - 10]), (2, b"xyz")];
    journal.run(&mut c, batch("s", 1, &events));
    for n in 3..8u8 {
        journal.run(&mut c, append("s", 1, i64::from(n), &quarter(n)));
    }
    let data = journal.read_all(&c, "s");
    assert_eq!(&data[..3], b"abc");
    assert_eq!(&data[QUARTER - 7..QUARTER - 4], b"xyz");
}

#[test]
fn evictable_data_does_not_block_appends_but_pending_data_does() {
    let (mut c, mut journal) = (container(), FakeJournal::default());
    journal.run(&mut c, create("s"));
    for n in 0..4u8 {
        journal.run(&mut c, append("s", 1, i64::from(n), &quarter(n)));
    }
    // The budget is full of durable, evictable data: a new append fits.
    let (seq, reply) = super::journal(&mut c, append("s", 1, 4, &vec![1; 3 * QUARTER]));
    assert!(matches!(reply, Reply::Appended(_)));
    // Three quarters wait for the journal: one more does not fit.
    match c.execute(append("s", 2, 0, &vec![9; QUARTER + 1]).into(), NOW) {
        Execution::Reply(refused) => {
            assert_eq!(status(&refused), spate_wire::StatusCode::Busy)
        }
        _ => panic!("an append over the budget of pending data was accepted"),
    }
    c.mark_durable(seq);
}

#[test]
fn replay_with_locations_keeps_within_the_budget_and_reads_back() {
    let (mut c, mut journal) = (container(), FakeJournal::default());
    journal.run(&mut c, create("s"));
    let mut expected = Vec::new();
    for n in 0..8u8 {
        journal.run(&mut c, append("s", 1, i64::from(n), &quarter(n)));
        expected.extend_from_slice(&quarter(n));
    }
    let mut replayed = container();
    for lsn in 1..=journal.next_lsn {
        let location = RecordLocation {
            lsn,
            file_seq: 1,
            offset: lsn * 4096,
        };
        replayed
            .replay(&journal.records[&lsn], Some(location))
            .expect("replays");
        assert!(replayed.stats().data_bytes <= limits().data_budget_bytes);
    }
    assert_eq!(journal.read_all(&replayed, "s"), expected);
}

#[test]
fn merged_chunks_are_still_evicted() {
    let (mut c, mut journal) = (container(), FakeJournal::default());
    journal.run(&mut c, create("src"));
    journal.run(&mut c, create("dst"));
    for n in 0..3u8 {
        journal.run(&mut c, append("src", 1, i64::from(n), &quarter(n)));
    }
    journal.run(&mut c, seal("src"));
    journal.run(&mut c, merge("dst", "src"));
    for n in 3..8u8 {
        journal.run(&mut c, append("dst", 1, i64::from(n), &quarter(n)));
        assert!(c.stats().data_bytes <= limits().data_budget_bytes);
    }
    let expected: Vec<u8> = (0..8u8).flat_map(quarter).collect();
    assert_eq!(journal.read_all(&c, "dst"), expected);
}

#[test]
fn the_eviction_queue_forgets_deleted_data_when_the_budget_is_never_reached() {
    let (mut c, mut journal) = (container(), FakeJournal::default());
    for round in 0..3000u32 {
        let name = format!("s{}", round % 4);
        if round % 4 == 0 && round > 0 {
            for i in 0..4 {
                journal.run(&mut c, delete(&format!("s{i}")));
            }
        }
        if round % 4 == 0 {
            for i in 0..4 {
                journal.run(&mut c, create(&format!("s{i}")));
            }
        }
        for event in 0..4 {
            journal.run(&mut c, append(&name, 1, i64::from(event), b"tiny"));
        }
    }
    assert!(
        c.eviction_queue.len() < 2 * super::super::EVICTION_QUEUE_COMPACT_MIN,
        "{} entries queued for 16 live chunks",
        c.eviction_queue.len()
    );
}
