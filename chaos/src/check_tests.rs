//! The oracle checker against hand-made histories: each kind of violation
//! is caught, named with its segment and offset, and nothing is flagged in
//! a clean history.

use std::collections::HashMap;

use super::*;
use crate::event::{self, EventId};
use crate::ledger::WriterRecord;
use crate::parse::Parser;

const SEGMENT: &str = "chaos/test/0";

fn id(writer: u32, number: u64) -> EventId {
    EventId { writer, number }
}

/// Parses the segment made of `ids`, as the verifier would read it.
fn segment_of(ids: &[EventId]) -> (Vec<Observed>, u64) {
    let bytes: Vec<u8> = ids
        .iter()
        .flat_map(|&id| event::encode(SEGMENT, id))
        .collect();
    let mut parser = Parser::new(SEGMENT);
    let mut observed = Vec::new();
    parser.feed(&bytes, &mut observed).expect("well-formed");
    (observed, bytes.len() as u64)
}

/// Logs where each writer sent and had acknowledged `0..=last`.
fn logs(writers: &[(u32, u64, Option<u64>)]) -> HashMap<u32, WriterRecord> {
    writers
        .iter()
        .map(|&(writer, last_sent, last_acked)| {
            let record = WriterRecord {
                sent: (0..=last_sent).collect(),
                acked: last_acked.map_or_else(Default::default, |last| (0..=last).collect()),
            };
            (writer, record)
        })
        .collect()
}

fn check(ids: &[EventId], logs: &HashMap<u32, WriterRecord>) -> SegmentReport {
    let (observed, end) = segment_of(ids);
    let expected = Expected {
        acked: logs,
        sent: logs,
    };
    check_segment(SEGMENT, &observed, end, None, expected)
}

#[test]
fn a_clean_interleaving_passes() {
    let ids = [id(0, 0), id(1, 0), id(0, 1), id(1, 1), id(0, 2)];
    // Writer 1 sent a third event that was never acknowledged nor written:
    // allowed (a kill can lose what was not acknowledged).
    let report = check(&ids, &logs(&[(0, 2, Some(2)), (1, 2, Some(1))]));
    assert_eq!(report.violations, Vec::new());
    assert_eq!((report.events, report.acked, report.lost), (5, 5, 0));
}

#[test]
fn an_unacknowledged_event_that_arrived_is_fine() {
    // Sent, durable, but the writer died before it logged the ack.
    let report = check(&[id(0, 0), id(0, 1)], &logs(&[(0, 1, Some(0))]));
    assert_eq!(report.violations, Vec::new());
}

#[test]
fn a_lost_event_is_reported_with_where_it_belonged() {
    let ids = [id(0, 0), id(0, 2)];
    let report = check(&ids, &logs(&[(0, 2, Some(2))]));
    assert_eq!(report.lost, 1);
    let (observed, _) = segment_of(&ids);
    assert!(report.violations.contains(&Violation::Lost {
        segment: SEGMENT.into(),
        id: id(0, 1),
        before_offset: observed[1].offset,
    }));
    // The hole is also an exactly-once break on its own.
    assert!(report.violations.contains(&Violation::Gap {
        segment: SEGMENT.into(),
        offset: observed[1].offset,
        id: id(0, 2),
        missing_from: 1,
    }));
}

#[test]
fn a_lost_tail_is_reported_at_the_end() {
    let report = check(&[id(0, 0)], &logs(&[(0, 1, Some(1))]));
    let (_, end) = segment_of(&[id(0, 0)]);
    assert_eq!(report.lost, 1);
    assert_eq!(
        report.violations,
        vec![Violation::Lost {
            segment: SEGMENT.into(),
            id: id(0, 1),
            before_offset: end,
        }]
    );
}

#[test]
fn a_duplicate_is_reported_with_both_offsets() {
    let ids = [id(0, 0), id(0, 1), id(0, 1)];
    let (observed, _) = segment_of(&ids);
    let report = check(&ids, &logs(&[(0, 1, Some(1))]));
    assert_eq!(
        report.violations,
        vec![Violation::Duplicate {
            segment: SEGMENT.into(),
            offset: observed[2].offset,
            id: id(0, 1),
            first_offset: observed[1].offset,
        }]
    );
    assert_eq!(report.lost, 0);
}

#[test]
fn a_reordered_event_is_reported() {
    let ids = [id(0, 1), id(0, 0)];
    let (observed, _) = segment_of(&ids);
    let report = check(&ids, &logs(&[(0, 1, Some(1))]));
    assert!(report.violations.contains(&Violation::Reordered {
        segment: SEGMENT.into(),
        offset: observed[1].offset,
        id: id(0, 0),
        after: 1,
    }));
    assert_eq!(report.lost, 0, "both events are there");
}

#[test]
fn an_event_never_sent_is_invented() {
    // Writer 0 sent 0 and 1; event 2 and writer 7 come from nowhere.
    let ids = [id(0, 0), id(0, 1), id(0, 2), id(7, 0)];
    let (observed, _) = segment_of(&ids);
    let report = check(&ids, &logs(&[(0, 1, Some(1))]));
    assert_eq!(
        report.violations,
        vec![
            Violation::Invented {
                segment: SEGMENT.into(),
                offset: observed[2].offset,
                id: id(0, 2),
            },
            Violation::Invented {
                segment: SEGMENT.into(),
                offset: observed[3].offset,
                id: id(7, 0),
            },
        ]
    );
}

#[test]
fn acks_are_judged_before_the_read_and_sends_after() {
    // The writer sent event 1 after the ACKED snapshot: its presence is
    // explained by the later SENT snapshot, and its absence is not a loss.
    let before = logs(&[(0, 0, Some(0))]);
    let after = logs(&[(0, 1, Some(1))]);
    let (observed, end) = segment_of(&[id(0, 0), id(0, 1)]);
    let expected = Expected {
        acked: &before,
        sent: &after,
    };
    let report = check_segment(SEGMENT, &observed, end, None, expected);
    assert_eq!(report.violations, Vec::new());
    let (observed, end) = segment_of(&[id(0, 0)]);
    let report = check_segment(SEGMENT, &observed, end, None, expected);
    assert_eq!(report.violations, Vec::new());
}

#[test]
fn corruption_is_reported_at_its_offset() {
    let corrupt = Corrupt {
        offset: 123,
        reason: "garbled".into(),
    };
    let (observed, end) = segment_of(&[id(0, 0)]);
    let logs = logs(&[(0, 0, Some(0))]);
    let expected = Expected {
        acked: &logs,
        sent: &logs,
    };
    let report = check_segment(SEGMENT, &observed, end, Some(&corrupt), expected);
    assert_eq!(
        report.violations,
        vec![Violation::Corrupt {
            segment: SEGMENT.into(),
            corrupt,
        }]
    );
}

#[test]
fn reader_views_must_still_be_there_unchanged() {
    let (observed, end) = segment_of(&[id(0, 0), id(0, 1)]);
    let boundaries: HashMap<u64, u32> = observed.iter().map(|o| (o.end, o.digest)).collect();
    let good = [
        (0, 0),
        (observed[0].end, observed[0].digest),
        (end, observed[1].digest),
    ];
    assert_eq!(
        check_reader_views(SEGMENT, &good, &boundaries, end),
        Vec::new()
    );
    let changed = [(observed[0].end, observed[0].digest ^ 1)];
    let shrunk = [(end + 10, 0)];
    let misaligned = [(observed[0].end + 1, 0)];
    for bad in [&changed[..], &shrunk, &misaligned] {
        let violations = check_reader_views(SEGMENT, bad, &boundaries, end);
        assert_eq!(violations.len(), 1, "{bad:?}");
        assert!(matches!(
            &violations[0],
            Violation::ReaderView { offset, .. } if *offset == bad[0].0
        ));
    }
}

#[test]
fn order_check_flags_a_writer_that_does_not_start_at_zero() {
    let (observed, _) = segment_of(&[id(3, 2)]);
    let mut order = OrderCheck::default();
    assert!(matches!(
        order.observe(SEGMENT, &observed[0]),
        Some(Violation::Gap {
            missing_from: 0,
            ..
        })
    ));
}
