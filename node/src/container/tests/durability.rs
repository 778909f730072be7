//! What is visible before and after `mark_durable`, which answers wait for
//! it, and which segments it wakes.

use spate_wire::{
    AttributeValue, NoSuchSegment, Sealed, SegmentExists, SegmentInfo, StatusCode, WriterState,
};

use super::*;

#[test]
fn pending_data_is_not_readable_until_durable() {
    let mut c = container();
    run(&mut c, create("s"));
    let (seq, _) = journal(&mut c, append("s", 1, 0, b"abc"));
    assert_eq!(c.read("s", 0, 10), ReadOutcome::AtTail);
    let Reply::SegmentInfo(info) = immediate(&mut c, get_info("s")) else {
        panic!("no info")
    };
    assert_eq!(info.length, 0);
    let unknown = WriterState {
        writer_id: 1,
        last_event_number: None,
    };
    assert_eq!(
        immediate(&mut c, writer_state("s", 1)),
        Reply::from(unknown)
    );
    assert_eq!(c.mark_durable(seq), vec!["s".to_string()]);
    let data = read_data(&c, "s", 0, 10);
    assert_eq!(
        (data.data.as_slice(), data.length, data.end_of_segment),
        (&b"abc"[..], 3, false)
    );
}

#[test]
fn reads_past_the_durable_tail() {
    let mut c = container();
    run(&mut c, create("s"));
    run(&mut c, append("s", 1, 0, b"ab"));
    journal(&mut c, append("s", 1, 1, b"cd"));
    assert_eq!(c.read("s", 2, 10), ReadOutcome::AtTail);
    // Within data still pending: on its way, so wait.
    assert_eq!(c.read("s", 4, 10), ReadOutcome::AtTail);
    // Beyond anything the segment holds.
    let ReadOutcome::Reply(reply) = c.read("s", 5, 10) else {
        panic!("expected an error")
    };
    assert_eq!(status(&reply), StatusCode::OffsetOutOfRange);
}

#[test]
fn reads_cross_chunks_and_stop_at_max_bytes() {
    let mut c = container();
    run(&mut c, create("s"));
    for (n, piece) in [&b"ab"[..], b"cde", b"f"].into_iter().enumerate() {
        run(&mut c, append("s", 1, n as i64, piece));
    }
    assert_eq!(read_data(&c, "s", 1, 3).data, b"bcd");
    assert_eq!(read_data(&c, "s", 1, 100).data, b"bcdef");
    assert_eq!(read_data(&c, "s", 5, 100).data, b"f");
    assert_eq!(c.read("s", 6, 100), ReadOutcome::AtTail);
}

#[test]
fn a_pending_seal_keeps_readers_at_the_tail_until_durable() {
    let mut c = container();
    run(&mut c, create("s"));
    run(&mut c, append("s", 1, 0, b"ab"));
    let (seq, sealed) = journal(&mut c, seal("s"));
    assert_eq!(sealed, Reply::from(Sealed { length: 2 }));
    assert!(!read_data(&c, "s", 0, 10).end_of_segment);
    assert_eq!(c.read("s", 2, 10), ReadOutcome::AtTail);
    // A second seal answers once the first is durable.
    assert_eq!(deferred(&mut c, seal("s")), (seq, sealed));
    assert_eq!(c.mark_durable(seq), vec!["s".to_string()]);
    assert!(read_data(&c, "s", 0, 10).end_of_segment);
    assert!(read_data(&c, "s", 2, 10).end_of_segment);
}

#[test]
fn answers_about_pending_creates_and_deletes_wait_for_them() {
    let mut c = container();
    let (created, _) = journal(&mut c, create("s"));
    let exists = Reply::from(SegmentExists {
        segment: "s".into(),
    });
    assert_eq!(deferred(&mut c, create("s")), (created, exists));
    // Queries see the durable view: not there yet.
    let missing = Reply::from(NoSuchSegment {
        segment: "s".into(),
    });
    assert_eq!(immediate(&mut c, get_info("s")), missing);
    c.mark_durable(created);
    run(&mut c, append("s", 1, 0, b"ab"));

    let (deleted, _) = journal(&mut c, delete("s"));
    // The durable view still has the segment: reads are served from it.
    assert_eq!(read_data(&c, "s", 0, 10).data, b"ab");
    assert_eq!(
        deferred(&mut c, append("s", 1, 1, b"c")),
        (deleted, missing.clone())
    );
    assert_eq!(c.mark_durable(deleted), vec!["s".to_string()]);
    assert_eq!(c.read("s", 0, 10), ReadOutcome::Reply(missing));
}

#[test]
fn a_read_at_the_tail_of_a_segment_being_deleted_waits_for_the_delete() {
    let mut c = container();
    run(&mut c, create("s"));
    let (seq, _) = journal(&mut c, delete("s"));
    assert_eq!(c.read("s", 0, 10), ReadOutcome::AtTail);
    assert_eq!(c.mark_durable(seq), vec!["s".to_string()]);
    assert!(matches!(
        c.read("s", 0, 10),
        ReadOutcome::Reply(Reply::NoSuchSegment(_))
    ));
}

#[test]
fn attribute_queries_see_only_durable_values() {
    let mut c = container();
    run(&mut c, create("s"));
    let (seq, _) = journal(
        &mut c,
        set_attribute("s", 5, 50, AttributeCondition::Always),
    );
    let value = |value| Reply::from(AttributeValue { key: 5, value });
    assert_eq!(immediate(&mut c, get_attribute("s", 5)), value(None));
    c.mark_durable(seq);
    assert_eq!(immediate(&mut c, get_attribute("s", 5)), value(Some(50)));
}

#[test]
fn mark_durable_applies_a_prefix_and_names_each_grown_segment_once() {
    let mut c = container();
    run(&mut c, create("a"));
    run(&mut c, create("b"));
    let (s1, _) = journal(&mut c, append("b", 1, 0, b"x"));
    journal(&mut c, append("a", 1, 0, b"y"));
    journal(&mut c, set_attribute("a", 1, 1, AttributeCondition::Always));
    let (s4, _) = journal(&mut c, append("b", 1, 1, b"z"));
    let (s5, _) = journal(&mut c, truncate("b", 1));
    let (s6, _) = journal(&mut c, create("c"));
    assert_eq!(c.mark_durable(s1), vec!["b".to_string()]);
    assert_eq!(c.stats().pending_mutations, 5);
    assert_eq!(c.mark_durable(s4), vec!["a".to_string(), "b".to_string()]);
    assert_eq!(c.mark_durable(s5), Vec::<String>::new());
    assert_eq!(c.mark_durable(s6), Vec::<String>::new());
    // Marking again is harmless.
    assert_eq!(c.mark_durable(s4), Vec::<String>::new());
    assert_eq!(c.stats().durable_seq, s6);
    let info = SegmentInfo {
        length: 2,
        start_offset: 1,
        sealed: false,
        created_unix_ms: NOW,
    };
    assert_eq!(immediate(&mut c, get_info("b")), Reply::from(info));
}

#[test]
#[should_panic(expected = "beyond the last seq")]
fn marking_an_unissued_seq_durable_is_a_bug() {
    let mut c = container();
    c.mark_durable(1);
}

#[test]
#[should_panic(expected = "live mutations pending")]
fn replaying_into_a_container_with_pending_mutations_is_a_bug() {
    let mut c = container();
    journal(&mut c, create("s"));
    let _ = c.replay(&[], None);
}

#[test]
#[should_panic(expected = "below MIN_MAX_RECORD_BYTES")]
fn a_record_limit_that_cannot_hold_one_maximal_event_is_refused() {
    let mut limits = limits();
    limits.max_record_bytes = MIN_MAX_RECORD_BYTES - 1;
    Container::new(1, limits);
}
