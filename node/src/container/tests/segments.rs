//! Create, info, seal, truncate, delete.

use spate_wire::{
    NoSuchSegment, Reply, Sealed, SegmentCreated, SegmentExists, SegmentInfo, SegmentIsSealed,
    SegmentIsTruncated, StatusCode, Truncated,
};

use super::*;

#[test]
fn create_then_info_reports_an_empty_segment_with_its_creation_time() {
    let mut c = container();
    assert_eq!(run(&mut c, create("s/a")), Reply::from(SegmentCreated {}));
    let info = SegmentInfo {
        length: 0,
        start_offset: 0,
        sealed: false,
        created_unix_ms: NOW,
    };
    assert_eq!(run(&mut c, get_info("s/a")), Reply::from(info));
}

#[test]
fn create_twice_is_segment_exists() {
    let mut c = container();
    run(&mut c, create("s/a"));
    let exists = Reply::from(SegmentExists {
        segment: "s/a".into(),
    });
    assert_eq!(immediate(&mut c, create("s/a")), exists);
}

#[test]
fn unknown_segment_is_no_such_segment_for_every_operation() {
    let mut c = container();
    let missing = Reply::from(NoSuchSegment {
        segment: "nope".into(),
    });
    assert_eq!(immediate(&mut c, append("nope", 1, 0, b"x")), missing);
    assert_eq!(immediate(&mut c, batch("nope", 1, &[(0, b"x")])), missing);
    assert_eq!(
        immediate(&mut c, conditional("nope", 1, 0, 0, b"x")),
        missing
    );
    assert_eq!(immediate(&mut c, seal("nope")), missing);
    assert_eq!(immediate(&mut c, truncate("nope", 0)), missing);
    assert_eq!(immediate(&mut c, delete("nope")), missing);
    assert_eq!(immediate(&mut c, get_info("nope")), missing);
    assert_eq!(immediate(&mut c, get_attribute("nope", 1)), missing);
    assert_eq!(immediate(&mut c, writer_state("nope", 1)), missing);
    let update = set_attribute("nope", 1, 1, AttributeCondition::Always);
    assert_eq!(immediate(&mut c, update), missing);
    assert_eq!(c.read("nope", 0, 10), ReadOutcome::Reply(missing.clone()));
}

#[test]
fn seal_is_final_and_idempotent() {
    let mut c = container();
    run(&mut c, create("s"));
    run(&mut c, append("s", 1, 0, b"abc"));
    assert_eq!(run(&mut c, seal("s")), Reply::from(Sealed { length: 3 }));
    assert_eq!(
        immediate(&mut c, seal("s")),
        Reply::from(Sealed { length: 3 })
    );
    let sealed = Reply::from(SegmentIsSealed {
        segment: "s".into(),
        length: 3,
    });
    assert_eq!(immediate(&mut c, append("s", 1, 1, b"d")), sealed);
    assert_eq!(immediate(&mut c, batch("s", 2, &[(0, b"d")])), sealed);
    assert_eq!(immediate(&mut c, conditional("s", 2, 0, 3, b"d")), sealed);
    let data = read_data(&c, "s", 0, 100);
    assert_eq!(
        (data.data.as_slice(), data.end_of_segment),
        (&b"abc"[..], true)
    );
    let tail = read_data(&c, "s", 3, 100);
    assert!(tail.data.is_empty() && tail.end_of_segment);
    assert_eq!(tail.length, 3);
}

#[test]
fn truncate_moves_the_start_forward_only() {
    let mut c = container();
    run(&mut c, create("s"));
    run(&mut c, append("s", 1, 0, b"0123456789"));
    assert_eq!(
        run(&mut c, truncate("s", 4)),
        Reply::from(Truncated { start_offset: 4 })
    );
    // At or below the start: a no-op that reports the current start.
    assert_eq!(
        immediate(&mut c, truncate("s", 2)),
        Reply::from(Truncated { start_offset: 4 })
    );
    assert_eq!(
        immediate(&mut c, truncate("s", 4)),
        Reply::from(Truncated { start_offset: 4 })
    );
    let beyond = immediate(&mut c, truncate("s", 11));
    assert_eq!(status(&beyond), StatusCode::OffsetOutOfRange);
    // Offsets do not shift.
    assert_eq!(read_data(&c, "s", 4, 3).data, b"456");
    let truncated = SegmentIsTruncated {
        segment: "s".into(),
        start_offset: 4,
    };
    assert_eq!(c.read("s", 3, 10), ReadOutcome::Reply(truncated.into()));
    // Up to the length is allowed, and sealed segments can be truncated.
    run(&mut c, seal("s"));
    assert_eq!(
        run(&mut c, truncate("s", 10)),
        Reply::from(Truncated { start_offset: 10 })
    );
    let info = SegmentInfo {
        length: 10,
        start_offset: 10,
        sealed: true,
        created_unix_ms: NOW,
    };
    assert_eq!(run(&mut c, get_info("s")), Reply::from(info));
    assert!(read_data(&c, "s", 10, 5).end_of_segment);
}

#[test]
fn delete_removes_the_segment_and_its_name_can_be_reused() {
    let mut c = container();
    run(&mut c, create("s"));
    run(&mut c, append("s", 1, 5, b"abc"));
    assert_eq!(
        run(&mut c, delete("s")),
        Reply::from(spate_wire::Deleted {})
    );
    assert!(read_all(&mut c, "s").is_none());
    assert_eq!(c.stats().segments, 0);
    assert_eq!(c.stats().data_bytes, 0);
    run(&mut c, create("s"));
    // A new segment: the old writer state is gone with the old one.
    let state = spate_wire::WriterState {
        writer_id: 1,
        last_event_number: None,
    };
    assert_eq!(run(&mut c, writer_state("s", 1)), Reply::from(state));
    assert_eq!(read_all(&mut c, "s"), Some(Vec::new()));
}

#[test]
fn the_segment_count_is_bounded_with_a_retryable_error() {
    let mut c = container();
    for i in 0..limits().max_segments {
        run(&mut c, create(&format!("s/{i}")));
    }
    let refused = immediate(&mut c, create("one/more"));
    assert_eq!(status(&refused), StatusCode::Busy);
    let Reply::Error(e) = &refused else {
        unreachable!()
    };
    assert_eq!(e.retry, spate_wire::RetryAdvice::Retry);
    run(&mut c, delete("s/0"));
    assert_eq!(
        run(&mut c, create("one/more")),
        Reply::from(SegmentCreated {})
    );
}

#[test]
fn requests_that_are_not_for_a_container_get_an_internal_error() {
    let mut c = container();
    let ping = Request::Ping(spate_wire::Ping { nonce: 1 });
    assert_eq!(status(&immediate(&mut c, ping)), StatusCode::Internal);
    let read = Request::Read(spate_wire::Read {
        segment: "s".into(),
        offset: 0,
        max_bytes: 1,
        wait_ms: 0,
    });
    assert_eq!(status(&immediate(&mut c, read)), StatusCode::Internal);
}

#[test]
fn names_that_break_the_wire_rule_are_never_created() {
    let mut c = container();
    let long = "a".repeat(spate_wire::MAX_SEGMENT_NAME_BYTES + 1);
    for name in ["", "a//b", "../x", "a b", long.as_str()] {
        let reply = immediate(&mut c, create(name));
        assert_eq!(status(&reply), StatusCode::InvalidSegmentName, "{name:?}");
    }
    assert_eq!(c.stats().last_seq, 0);
}
