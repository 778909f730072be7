//! Appends, batches, conditional appends and deduplication.

use spate_wire::{Appended, ConditionalAppendFailed, RetryAdvice, StatusCode, WriterState};

use super::*;

fn appended(writer_id: u128, event_number: i64, length: u64) -> Reply {
    Reply::from(Appended {
        writer_id,
        event_number,
        length,
    })
}

fn with_segment() -> Container {
    let mut c = container();
    run(&mut c, create("s"));
    c
}

#[test]
fn appends_land_in_order_and_ack_the_new_length() {
    let mut c = with_segment();
    assert_eq!(run(&mut c, append("s", 1, 0, b"ab")), appended(1, 0, 2));
    assert_eq!(run(&mut c, append("s", 2, 7, b"cde")), appended(2, 7, 5));
    assert_eq!(run(&mut c, append("s", 1, 3, b"")), appended(1, 3, 5));
    assert_eq!(read_all(&mut c, "s").as_deref(), Some(&b"abcde"[..]));
    let state = |n| {
        Reply::from(WriterState {
            writer_id: 1,
            last_event_number: n,
        })
    };
    assert_eq!(run(&mut c, writer_state("s", 1)), state(Some(3)));
    let unknown = WriterState {
        writer_id: 9,
        last_event_number: None,
    };
    assert_eq!(run(&mut c, writer_state("s", 9)), Reply::from(unknown));
}

#[test]
fn a_batch_is_one_mutation_acking_its_last_event() {
    let mut c = with_segment();
    let (seq, reply) = journal(&mut c, batch("s", 1, &[(1, b"a"), (2, b"bc"), (5, b"d")]));
    assert_eq!(reply, appended(1, 5, 4));
    c.mark_durable(seq);
    assert_eq!(c.stats().last_seq, seq);
    assert_eq!(read_all(&mut c, "s").as_deref(), Some(&b"abcd"[..]));
}

#[test]
fn a_durable_duplicate_is_acked_at_once_and_not_written() {
    let mut c = with_segment();
    run(&mut c, append("s", 1, 4, b"ab"));
    run(&mut c, append("s", 2, 0, b"c"));
    let before = c.stats();
    for number in [0, 3, 4] {
        assert_eq!(
            immediate(&mut c, append("s", 1, number, b"zz")),
            appended(1, number, 3)
        );
    }
    assert_eq!(c.stats(), before);
    assert_eq!(read_all(&mut c, "s").as_deref(), Some(&b"abc"[..]));
}

#[test]
fn a_pending_duplicate_waits_for_its_original() {
    let mut c = with_segment();
    let (original, reply) = journal(&mut c, append("s", 1, 4, b"ab"));
    assert_eq!(reply, appended(1, 4, 2));
    let (seq, dup) = deferred(&mut c, append("s", 1, 4, b"ab"));
    assert_eq!((seq, dup), (original, appended(1, 4, 2)));
    // A later mutation of the segment: the duplicate's answer (its length)
    // reflects it, so it waits for that one too.
    let (later, _) = journal(&mut c, append("s", 2, 0, b"c"));
    let (seq, dup) = deferred(&mut c, batch("s", 1, &[(3, b"x"), (4, b"y")]));
    assert_eq!((seq, dup), (later, appended(1, 4, 3)));
    c.mark_durable(later);
    assert_eq!(
        immediate(&mut c, append("s", 1, 4, b"ab")),
        appended(1, 4, 3)
    );
    assert_eq!(c.stats().pending_mutations, 0);
}

#[test]
fn a_duplicate_to_a_sealed_segment_is_still_acked() {
    let mut c = with_segment();
    run(&mut c, append("s", 1, 1, b"ab"));
    run(&mut c, seal("s"));
    assert_eq!(
        immediate(&mut c, append("s", 1, 1, b"ab")),
        appended(1, 1, 2)
    );
    let fresh = immediate(&mut c, append("s", 1, 2, b"c"));
    assert!(matches!(fresh, Reply::SegmentIsSealed(_)), "{fresh:?}");
}

#[test]
fn a_batch_overlapping_the_writers_last_appends_only_the_new_events() {
    let mut c = with_segment();
    run(&mut c, batch("s", 1, &[(1, b"a"), (2, b"b")]));
    let reply = run(
        &mut c,
        batch("s", 1, &[(1, b"a"), (2, b"b"), (3, b"c"), (4, b"d")]),
    );
    assert_eq!(reply, appended(1, 4, 4));
    assert_eq!(read_all(&mut c, "s").as_deref(), Some(&b"abcd"[..]));
    // Wholly duplicate: acked, nothing written.
    assert_eq!(
        immediate(&mut c, batch("s", 1, &[(2, b"b"), (4, b"d")])),
        appended(1, 4, 4)
    );
}

#[test]
fn malformed_appends_are_refused_as_invalid_arguments() {
    let mut c = with_segment();
    let cases = [
        batch("s", 1, &[]),
        batch("s", 1, &[(2, b"a"), (2, b"b")]),
        batch("s", 1, &[(3, b"a"), (1, b"b")]),
        batch("s", 1, &[(-1, b"a")]),
    ];
    for request in cases {
        let reply = immediate(&mut c, request);
        assert_eq!(status(&reply), StatusCode::InvalidArgument, "{reply:?}");
    }
    let too_big = vec![0; spate_wire::MAX_EVENT_BYTES + 1];
    let reply = immediate(&mut c, append("s", 1, 0, &too_big));
    assert_eq!(status(&reply), StatusCode::InvalidArgument);
    assert_eq!(c.stats().last_seq, 1);
}

#[test]
fn conditional_appends_apply_only_at_the_expected_offset() {
    let mut c = with_segment();
    assert_eq!(
        run(&mut c, conditional("s", 1, 0, 0, b"ab")),
        appended(1, 0, 2)
    );
    let failed = Reply::from(ConditionalAppendFailed { current_length: 2 });
    assert_eq!(immediate(&mut c, conditional("s", 2, 0, 0, b"x")), failed);
    assert_eq!(immediate(&mut c, conditional("s", 2, 0, 3, b"x")), failed);
    assert_eq!(
        run(&mut c, conditional("s", 2, 0, 2, b"x")),
        appended(2, 0, 3)
    );
    // Resending an applied conditional append is a duplicate: acked, even
    // though its expected offset no longer matches.
    assert_eq!(
        immediate(&mut c, conditional("s", 1, 0, 0, b"ab")),
        appended(1, 0, 3)
    );
    assert_eq!(read_all(&mut c, "s").as_deref(), Some(&b"abx"[..]));
}

#[test]
fn conditional_appends_see_pending_appends() {
    let mut c = with_segment();
    let (first, _) = journal(&mut c, append("s", 1, 0, b"abc"));
    // The durable length is 0, but the pending append makes it 3.
    let (seq, failed) = deferred(&mut c, conditional("s", 2, 0, 0, b"x"));
    assert_eq!(
        failed,
        Reply::from(ConditionalAppendFailed { current_length: 3 })
    );
    assert_eq!(seq, first);
    let (second, ok) = journal(&mut c, conditional("s", 2, 0, 3, b"x"));
    assert_eq!(ok, appended(2, 0, 4));
    assert_eq!(second, first + 1);
    c.mark_durable(second);
    assert_eq!(read_all(&mut c, "s").as_deref(), Some(&b"abcx"[..]));
}

#[test]
fn the_writers_per_segment_are_bounded() {
    let mut c = with_segment();
    let max = limits().max_writers_per_segment as u128;
    for writer in 0..max {
        run(&mut c, append("s", writer, 0, b"a"));
    }
    let refused = immediate(&mut c, append("s", max, 0, b"a"));
    assert_eq!(status(&refused), StatusCode::InvalidArgument);
    let Reply::Error(e) = &refused else {
        unreachable!()
    };
    assert_eq!(e.retry, RetryAdvice::GiveUp);
    // Known writers go on.
    assert_eq!(
        run(&mut c, append("s", 0, 1, b"b")).clone(),
        appended(0, 1, max as u64 + 1)
    );
}

#[test]
fn an_append_whose_record_exceeds_the_journal_limit_is_refused() {
    let mut limits = limits();
    limits.data_budget_bytes = u64::MAX;
    let mut c = Container::new(1, limits);
    run(&mut c, create("s"));
    let big = vec![7; spate_wire::MAX_EVENT_BYTES];
    // One maximal event always fits (that is what MIN_MAX_RECORD_BYTES means).
    assert!(matches!(
        run(&mut c, append("s", 1, 0, &big)),
        Reply::Appended(_)
    ));
    let two = batch("s", 1, &[(1, &big), (2, &big)]);
    let reply = immediate(&mut c, two);
    assert_eq!(status(&reply), StatusCode::InvalidArgument);
}
