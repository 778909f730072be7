//! Admin calls: expected answers are outcome values; only real failures are
//! errors, and they say what to do.

mod support;

use spate_client::{
    AttributeCondition, AttributeOutcome, ClientError, CreateOutcome, DeleteOutcome, InfoOutcome,
    MergeOutcome, SealOutcome, SegmentInfo, StatusCode, TruncateOutcome, UpdateOutcome,
    WriterStateOutcome,
};
use support::{create, start};

#[test]
fn create_info_seal_delete() {
    let (_server, client) = start();
    create(&client, "a/seg");
    assert_eq!(
        client.create_segment("a/seg").wait(),
        Ok(CreateOutcome::AlreadyExists)
    );
    let info = client.info("a/seg").wait();
    let expected = SegmentInfo {
        length: 0,
        start_offset: 0,
        sealed: false,
        created_unix_ms: 1,
    };
    assert_eq!(info, Ok(InfoOutcome::Found(expected)));
    assert_eq!(
        client.seal("a/seg").wait(),
        Ok(SealOutcome::Sealed { length: 0 })
    );
    assert_eq!(
        client.seal("a/seg").wait(),
        Ok(SealOutcome::Sealed { length: 0 }),
        "idempotent"
    );
    assert_eq!(client.delete("a/seg").wait(), Ok(DeleteOutcome::Deleted));
    assert_eq!(
        client.delete("a/seg").wait(),
        Ok(DeleteOutcome::NoSuchSegment)
    );
    assert_eq!(client.info("a/seg").wait(), Ok(InfoOutcome::NoSuchSegment));
    assert_eq!(client.seal("a/seg").wait(), Ok(SealOutcome::NoSuchSegment));
}

#[test]
fn attributes_support_compare_and_set() {
    let (_server, client) = start();
    create(&client, "a/attr");
    let key = 0xfeed_u128;
    assert_eq!(
        client.get_attribute("a/attr", key).wait(),
        Ok(AttributeOutcome::Value(None))
    );
    let set = client
        .update_attribute("a/attr", key, 1, AttributeCondition::IfAbsent)
        .wait();
    assert_eq!(set, Ok(UpdateOutcome::Updated { value: 1 }));
    let cas = client
        .update_attribute("a/attr", key, 2, AttributeCondition::IfEquals(1))
        .wait();
    assert_eq!(cas, Ok(UpdateOutcome::Updated { value: 2 }));
    let stale = client
        .update_attribute("a/attr", key, 3, AttributeCondition::IfEquals(1))
        .wait();
    assert_eq!(stale, Ok(UpdateOutcome::Conflict { current: Some(2) }));
    assert_eq!(
        client.get_attribute("a/attr", key).wait(),
        Ok(AttributeOutcome::Value(Some(2)))
    );
    let missing = client.get_attribute("a/none", key).wait();
    assert_eq!(missing, Ok(AttributeOutcome::NoSuchSegment));
}

#[test]
fn truncate_and_its_bounds() {
    let (_server, client) = start();
    create(&client, "a/trunc");
    let writer = client.segment_writer("a/trunc", 1).expect("writer");
    writer
        .append(b"0123456789".to_vec())
        .wait()
        .expect("appended");
    assert_eq!(
        client.truncate("a/trunc", 6).wait(),
        Ok(TruncateOutcome::Truncated { start_offset: 6 })
    );
    assert_eq!(
        client.truncate("a/trunc", 2).wait(),
        Ok(TruncateOutcome::Truncated { start_offset: 6 })
    );
    let error = client
        .truncate("a/trunc", 99)
        .wait()
        .expect_err("beyond the length");
    assert!(
        matches!(error, ClientError::InvalidRequest { .. }),
        "{error}"
    );
    assert_eq!(error.status(), Some(StatusCode::OffsetOutOfRange));
}

#[test]
fn merge_needs_a_sealed_source() {
    let (server, client) = start();
    // A transaction segment shares its parent's container, so its core.
    let target = "a/stream/0";
    let source = "a/stream/0#transaction.01";
    assert_eq!(
        client.topology().core_for(target),
        client.topology().core_for(source)
    );
    for (segment, bytes) in [(target, b"head-"), (source, b"tail!")] {
        create(&client, segment);
        let writer = client.segment_writer(segment, 1).expect("writer");
        writer.append(bytes.to_vec()).wait().expect("appended");
    }
    let error = client
        .merge(target, source)
        .wait()
        .expect_err("source open");
    assert_eq!(error.status(), Some(StatusCode::SourceNotSealed));
    client.seal(source).wait().expect("sealed");
    assert_eq!(
        client.merge(target, source).wait(),
        Ok(MergeOutcome::Merged { target_length: 10 })
    );
    assert_eq!(server.data(target), Some(b"head-tail!".to_vec()));
    let gone = client.merge(target, source).wait();
    assert_eq!(
        gone,
        Ok(MergeOutcome::NoSuchSegment {
            segment: source.into()
        })
    );
}

#[test]
fn writer_state_reports_the_last_event_number() {
    let (_server, client) = start();
    create(&client, "a/ws");
    let found = client.writer_state("a/ws", 5).wait();
    assert_eq!(
        found,
        Ok(WriterStateOutcome::Found {
            last_event_number: None
        })
    );
    let writer = client.segment_writer("a/ws", 5).expect("writer");
    for _ in 0..4 {
        writer.append(b"e".to_vec()).wait().expect("appended");
    }
    let found = client.writer_state("a/ws", 5).wait();
    assert_eq!(
        found,
        Ok(WriterStateOutcome::Found {
            last_event_number: Some(3)
        })
    );
    assert_eq!(
        client.writer_state("a/none", 5).wait(),
        Ok(WriterStateOutcome::NoSuchSegment)
    );
}

#[test]
fn many_calls_at_once_complete() {
    let (_server, client) = start();
    create(&client, "a/many");
    let calls: Vec<_> = (0..500).map(|_| client.info("a/many")).collect();
    for call in calls {
        assert!(matches!(call.wait(), Ok(InfoOutcome::Found(_))));
    }
}
