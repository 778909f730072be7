//! The record format: golden bytes, round trips, every decode error, and
//! random or damaged records (never a panic; a failed replay changes
//! nothing).

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::super::mutation::{Event, Mutation};
use super::super::record::{Record, decode, encode};
use super::super::{ApplyError, ReplayError, record_container};
use super::*;

/// One record of every kind, as a live container journals them.
fn workload_records() -> Vec<Vec<u8>> {
    let mut c = container();
    let requests: Vec<Request> = vec![
        create("t").into(),
        create("t#txn").into(),
        append("t", 1, 0, b"abc").into(),
        batch("t#txn", 2, &[(0, b"de"), (1, b""), (2, b"f")]).into(),
        set_attribute("t", 9, -3, AttributeCondition::Always).into(),
        seal("t#txn").into(),
        merge("t", "t#txn").into(),
        truncate("t", 2).into(),
        conditional("t", 1, 1, 6, b"g").into(),
        delete("t").into(),
    ];
    let mut records = Vec::new();
    for request in requests {
        match c.execute(request, NOW) {
            Execution::Journal { record, seq, .. } => {
                records.push(record);
                c.mark_durable(seq);
            }
            other => panic!("the workload must journal, got {other:?}"),
        }
    }
    records
}

#[test]
fn golden_records_pin_the_format() {
    let create = Mutation::Create {
        segment: "s".into(),
        created_ms: 0x0102,
    };
    let bytes = encode(7, 1, &create);
    #[rustfmt::skip]
    let want = [
        2, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, // version, container, seq, kind
        1, b's', 0x02, 0x01, 0, 0, 0, 0, 0, 0,      // name, created_ms
    ];
    assert_eq!(bytes, want);
    let append = Mutation::Append {
        segment: "s".into(),
        writer_id: 5,
        offset: 3,
        events: vec![
            Event {
                event_number: 9,
                len: 2,
            },
            Event {
                event_number: 10,
                len: 3,
            },
        ],
        data: Bytes::from_static(b"hiyou"),
        source: None,
    };
    let mut want = vec![2, 7, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 1, b's'];
    want.extend_from_slice(&5u128.to_le_bytes());
    want.extend_from_slice(&3u64.to_le_bytes());
    want.extend_from_slice(&2u32.to_le_bytes());
    want.extend_from_slice(&9i64.to_le_bytes());
    want.extend_from_slice(&2u32.to_le_bytes());
    want.extend_from_slice(&10i64.to_le_bytes());
    want.extend_from_slice(&3u32.to_le_bytes());
    // The payloads follow the event headers, together.
    want.extend_from_slice(b"hiyou");
    assert_eq!(encode(7, 2, &append), want);
}

#[test]
fn every_kind_round_trips() {
    for (i, record) in workload_records().iter().enumerate() {
        let decoded = decode(record).unwrap_or_else(|e| panic!("record {i}: {e}"));
        assert_eq!(decoded.container, 7);
        assert_eq!(decoded.seq, i as u64 + 1);
        assert_eq!(&encode(7, decoded.seq, &decoded.mutation), record);
        assert_eq!(record_container(record), Ok(7));
    }
}

#[test]
fn each_malformed_record_has_its_own_error() {
    let good = encode(
        7,
        1,
        &Mutation::Seal {
            segment: "ab".into(),
            length: 4,
        },
    );
    let with = |at: usize, byte: u8| {
        let mut bad = good.clone();
        bad[at] = byte;
        decode(&bad)
    };
    assert!(matches!(
        decode(&[]),
        Err(ReplayError::Truncated { at: 0, .. })
    ));
    assert!(matches!(
        decode(&good[..good.len() - 1]),
        Err(ReplayError::Truncated { .. })
    ));
    assert_eq!(with(0, 3), Err(ReplayError::UnknownVersion(3)));
    // Version 1 (payloads interleaved with event headers) is not read.
    assert_eq!(with(0, 1), Err(ReplayError::UnknownVersion(1)));
    assert_eq!(
        record_container(&[9, 0, 0, 0, 0]),
        Err(ReplayError::UnknownVersion(9))
    );
    assert_eq!(with(13, 0), Err(ReplayError::UnknownKind(0)));
    assert_eq!(with(13, 8), Err(ReplayError::UnknownKind(8)));
    assert!(matches!(
        with(14, 0),
        Err(ReplayError::BadName { at: 15, .. })
    ));
    assert!(matches!(with(15, b'/'), Err(ReplayError::BadName { .. })));
    assert_eq!(with(15, 0xff), Err(ReplayError::NameNotUtf8 { at: 15 }));
    let mut long = good.clone();
    long.push(0);
    assert_eq!(decode(&long), Err(ReplayError::TrailingBytes(1)));

    let append = |count: u32, len: u32| {
        let mut r = vec![2, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, b's'];
        r.extend_from_slice(&[0; 24]);
        r.extend_from_slice(&count.to_le_bytes());
        r.extend_from_slice(&0i64.to_le_bytes());
        r.extend_from_slice(&len.to_le_bytes());
        decode(&r)
    };
    assert_eq!(append(0, 0), Err(ReplayError::BadEventCount(0)));
    assert_eq!(append(16_385, 0), Err(ReplayError::BadEventCount(16_385)));
    let huge = spate_wire::MAX_EVENT_BYTES as u32 + 1;
    assert_eq!(append(1, huge), Err(ReplayError::EventTooLarge(huge)));
    // A count the bytes cannot back is a short record, not an allocation.
    assert!(matches!(
        append(16_384, 0),
        Err(ReplayError::Truncated { .. })
    ));
}

#[test]
fn replay_refuses_foreign_misordered_and_inconsistent_records() {
    let records = workload_records();
    let mut other = Container::new(8, limits());
    let wrong = ReplayError::WrongContainer {
        expected: 8,
        found: 7,
    };
    assert_eq!(other.replay(&records[0], None), Err(wrong));

    let mut c = container();
    let gap = ReplayError::SeqGap {
        expected: 1,
        found: 2,
    };
    assert_eq!(c.replay(&records[1], None), Err(gap));

    // Seq 1 appending to a segment that does not exist.
    let append = Mutation::Append {
        segment: "t".into(),
        writer_id: 1,
        offset: 0,
        events: vec![Event {
            event_number: 0,
            len: 1,
        }],
        data: Bytes::from_static(b"x"),
        source: None,
    };
    let inconsistent = ReplayError::Inconsistent {
        seq: 1,
        source: ApplyError::NoSuchSegment("t".into()),
    };
    assert_eq!(c.replay(&encode(7, 1, &append), None), Err(inconsistent));
    assert_eq!(c.stats().last_seq, 0);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let mut c = container();
    for _ in 0..20_000 {
        let len = rng.random_range(0..64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Mostly a valid header, so the body decoders are reached.
        if len >= 14 && rng.random_bool(0.8) {
            bytes[0] = 1;
            bytes[1..5].copy_from_slice(&7u32.to_le_bytes());
            bytes[5..13].copy_from_slice(&1u64.to_le_bytes());
            bytes[13] = rng.random_range(0..9);
        }
        let _ = record_container(&bytes);
        let _ = decode(&bytes);
        let _ = c.replay(&bytes, None);
    }
}

/// Damaged records (bit flips, cuts, swaps) replayed after a valid prefix:
/// each either applies or fails without changing anything.
#[test]
fn damaged_records_never_panic_and_failures_change_nothing() {
    let records = workload_records();
    let mut rng = SmallRng::seed_from_u64(0xdead);
    for _ in 0..3_000 {
        let at = rng.random_range(0..records.len());
        let mut c = container();
        for record in &records[..at] {
            c.replay(record, None)
                .unwrap_or_else(|e| panic!("valid prefix: {e}"));
        }
        let damaged = damage(&mut rng, &records[at]);
        let (live, durable) = (c.live.clone(), c.durable.clone());
        if c.replay(&damaged, None).is_err() {
            assert!(
                c.live == live && c.durable == durable,
                "a failed replay changed state"
            );
        }
    }
}

fn damage(rng: &mut SmallRng, record: &[u8]) -> Vec<u8> {
    let mut out = record.to_vec();
    match rng.random_range(0..4) {
        0 => {
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..out.len());
                out[i] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => out.truncate(rng.random_range(0..out.len())),
        2 => out.push(rng.random()),
        _ => {
            let i = rng.random_range(14..out.len());
            out[i] = rng.random();
        }
    }
    out
}

#[test]
fn decoding_a_record_yields_what_was_encoded() {
    let records = workload_records();
    let Record { mutation, .. } = decode(&records[3]).unwrap_or_else(|e| panic!("{e}"));
    let Mutation::Append { events, data, .. } = mutation else {
        panic!("record 3 is the batch")
    };
    let numbers: Vec<i64> = events.iter().map(|e| e.event_number).collect();
    assert_eq!(numbers, [0, 1, 2]);
    assert_eq!(events[2].len, 1);
    assert!(data.ends_with(b"f"), "the payloads, in order");
}
