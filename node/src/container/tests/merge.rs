//! Merge: data moves atomically, the source disappears, and only data moves.

use spate_wire::{AttributeValue, Merged, NoSuchSegment, SegmentIsSealed, StatusCode, WriterState};

use super::*;

/// Target "t" holding "abc", sealed source "t#txn" holding "de" + "f".
fn merge_ready() -> Container {
    let mut c = container();
    run(&mut c, create("t"));
    run(&mut c, create("t#txn"));
    run(&mut c, append("t", 1, 0, b"abc"));
    run(&mut c, append("t#txn", 2, 0, b"de"));
    run(&mut c, append("t#txn", 2, 1, b"f"));
    run(&mut c, seal("t#txn"));
    c
}

#[test]
fn merge_appends_the_source_to_the_target_and_removes_the_source() {
    let mut c = merge_ready();
    let held = c.stats().data_bytes;
    let (seq, reply) = journal(&mut c, merge("t", "t#txn"));
    assert_eq!(reply, Reply::from(Merged { target_length: 6 }));
    // Not visible before it is durable.
    assert_eq!(read_all(&mut c, "t").as_deref(), Some(&b"abc"[..]));
    assert_eq!(read_all(&mut c, "t#txn").as_deref(), Some(&b"def"[..]));
    assert_eq!(
        c.mark_durable(seq),
        vec!["t".to_string(), "t#txn".to_string()]
    );
    assert_eq!(read_all(&mut c, "t").as_deref(), Some(&b"abcdef"[..]));
    assert_eq!(read_data(&c, "t", 2, 3).data, b"cde");
    assert!(read_all(&mut c, "t#txn").is_none());
    // Chunks moved: no data was copied or freed.
    assert_eq!(c.stats().data_bytes, held);
    assert_eq!(c.stats().segments, 1);
}

#[test]
fn merge_carries_data_only_not_attributes_or_writer_states() {
    let mut c = merge_ready();
    run(&mut c, create("u"));
    run(&mut c, append("u", 3, 0, b"x"));
    run(
        &mut c,
        set_attribute("u", 1, 10, AttributeCondition::Always),
    );
    // Attributes can only be set before sealing; build a second source.
    run(&mut c, create("src"));
    run(&mut c, append("src", 3, 99, b"y"));
    run(
        &mut c,
        set_attribute("src", 1, 20, AttributeCondition::Always),
    );
    run(
        &mut c,
        set_attribute("src", 2, 30, AttributeCondition::Always),
    );
    run(&mut c, seal("src"));
    assert_eq!(
        run(&mut c, merge("u", "src")),
        Reply::from(Merged { target_length: 2 })
    );
    let attribute = |key, value| Reply::from(AttributeValue { key, value });
    assert_eq!(run(&mut c, get_attribute("u", 1)), attribute(1, Some(10)));
    assert_eq!(run(&mut c, get_attribute("u", 2)), attribute(2, None));
    let state = WriterState {
        writer_id: 3,
        last_event_number: Some(0),
    };
    assert_eq!(run(&mut c, writer_state("u", 3)), Reply::from(state));
    // So writer 3's next event on the target is not mistaken for a duplicate.
    assert!(matches!(
        run(&mut c, append("u", 3, 1, b"z")),
        Reply::Appended(_)
    ));
    assert_eq!(read_all(&mut c, "u").as_deref(), Some(&b"xyz"[..]));
}

#[test]
fn merge_refusals() {
    let mut c = merge_ready();
    run(&mut c, create("open"));
    run(&mut c, create("closed"));
    run(&mut c, seal("closed"));

    let missing = |name: &str| {
        Reply::from(NoSuchSegment {
            segment: name.into(),
        })
    };
    assert_eq!(immediate(&mut c, merge("none", "t#txn")), missing("none"));
    assert_eq!(immediate(&mut c, merge("t", "none")), missing("none"));
    let sealed = Reply::from(SegmentIsSealed {
        segment: "closed".into(),
        length: 0,
    });
    assert_eq!(immediate(&mut c, merge("closed", "t#txn")), sealed);
    let not_sealed = immediate(&mut c, merge("t", "open"));
    assert_eq!(status(&not_sealed), StatusCode::SourceNotSealed);
    let itself = immediate(&mut c, merge("t", "t"));
    assert_eq!(status(&itself), StatusCode::InvalidArgument);
    // A truncated source cannot merge (its head is gone).
    run(&mut c, truncate("t#txn", 1));
    let truncated = immediate(&mut c, merge("t", "t#txn"));
    assert_eq!(status(&truncated), StatusCode::SegmentTruncated);
    assert_eq!(c.stats().pending_mutations, 0);
}

#[test]
fn merge_sees_a_pending_seal_and_a_second_merge_waits_for_the_first() {
    let mut c = container();
    run(&mut c, create("t"));
    run(&mut c, create("s"));
    run(&mut c, append("s", 1, 0, b"abc"));
    journal(&mut c, seal("s"));
    let (merged, reply) = journal(&mut c, merge("t", "s"));
    assert_eq!(reply, Reply::from(Merged { target_length: 3 }));
    // The retry finds the source gone; that answer waits for the merge.
    let (seq, again) = deferred(&mut c, merge("t", "s"));
    assert_eq!(seq, merged);
    assert_eq!(
        again,
        Reply::from(NoSuchSegment {
            segment: "s".into()
        })
    );
    c.mark_durable(merged);
    assert_eq!(read_all(&mut c, "t").as_deref(), Some(&b"abc"[..]));
}
