//! Integration tests against a real `spate-node` process: every segment
//! operation, exactly-once appends, conditional appends, long-poll reads,
//! restart after SIGKILL, routing across cores, and malformed input.

mod byte_streams;
mod client;
mod flusher;
mod metrics;
mod overload;
mod overload_tools;
mod readers;
mod settings;
mod streams;
mod streams_journal;
mod streams_keys;
mod streams_policies;
mod streams_txn;
mod support;
mod transactions;

use std::io::Write;
use std::time::Duration;

use spate_wire::*;
use support::{Conn, Node, Sizes};

fn create(conn: &mut Conn, segment: &str) {
    let reply = conn.call(Request::CreateSegment(CreateSegment {
        segment: segment.into(),
    }));
    assert!(matches!(&reply, Reply::SegmentCreated(_)), "{reply:?}");
}

fn append(conn: &mut Conn, segment: &str, writer: u128, event: i64, payload: &[u8]) -> Reply {
    conn.call(Request::Append(Append {
        segment: segment.into(),
        writer_id: writer,
        event_number: event,
        payload: payload.to_vec(),
    }))
}

fn read(conn: &mut Conn, segment: &str, offset: u64, wait_ms: u32) -> Reply {
    conn.call(Request::Read(Read {
        segment: segment.into(),
        offset,
        max_bytes: 1 << 20,
        wait_ms,
    }))
}

fn read_data(conn: &mut Conn, segment: &str, offset: u64) -> ReadData {
    match read(conn, segment, offset, 0) {
        Reply::ReadData(data) => data,
        other => panic!("read answered {other:?}"),
    }
}

fn info(conn: &mut Conn, segment: &str) -> Reply {
    conn.call(Request::GetInfo(GetInfo {
        segment: segment.into(),
    }))
}

#[test]
fn appends_reads_and_segment_lifecycle() {
    let node = Node::start("lifecycle", 1);
    let mut conn = Conn::open(node.cores[0]);
    create(&mut conn, "s/t/0");
    let again = conn.call(Request::CreateSegment(CreateSegment {
        segment: "s/t/0".into(),
    }));
    assert!(matches!(&again, Reply::SegmentExists(_)), "{again:?}");
    assert!(
        matches!(&append(&mut conn, "s/t/0", 7, 1, b"hello "), Reply::Appended(a) if a.length == 6)
    );
    assert!(
        matches!(&append(&mut conn, "s/t/0", 7, 2, b"world"), Reply::Appended(a) if a.length == 11)
    );
    let data = read_data(&mut conn, "s/t/0", 0);
    assert_eq!(data.data, b"hello world");
    assert!(!data.end_of_segment);
    let Reply::SegmentInfo(i) = info(&mut conn, "s/t/0") else {
        panic!("info")
    };
    assert_eq!((i.length, i.start_offset, i.sealed), (11, 0, false));
    assert!(i.created_unix_ms > 0);

    let sealed = conn.call(Request::Seal(Seal {
        segment: "s/t/0".into(),
    }));
    assert!(
        matches!(&sealed, Reply::Sealed(s) if s.length == 11),
        "{sealed:?}"
    );
    assert!(matches!(
        &append(&mut conn, "s/t/0", 7, 3, b"!"),
        Reply::SegmentIsSealed(_)
    ));
    assert!(
        read_data(&mut conn, "s/t/0", 11).end_of_segment,
        "a read at the end of a sealed segment says so"
    );

    let truncated = conn.call(Request::Truncate(Truncate {
        segment: "s/t/0".into(),
        start_offset: 6,
    }));
    assert!(
        matches!(&truncated, Reply::Truncated(t) if t.start_offset == 6),
        "{truncated:?}"
    );
    assert!(matches!(
        &read(&mut conn, "s/t/0", 0, 0),
        Reply::SegmentIsTruncated(_)
    ));
    assert_eq!(read_data(&mut conn, "s/t/0", 6).data, b"world");

    let deleted = conn.call(Request::Delete(Delete {
        segment: "s/t/0".into(),
    }));
    assert!(matches!(&deleted, Reply::Deleted(_)), "{deleted:?}");
    assert!(matches!(&info(&mut conn, "s/t/0"), Reply::NoSuchSegment(_)));
}

#[test]
fn duplicates_conditional_appends_attributes_and_merge() {
    let node = Node::start("exactly-once", 1);
    let mut conn = Conn::open(node.cores[0]);
    create(&mut conn, "s/t/1");
    append(&mut conn, "s/t/1", 9, 1, b"one");
    let duplicate = append(&mut conn, "s/t/1", 9, 1, b"one");
    assert!(
        matches!(&duplicate, Reply::Appended(_)),
        "a duplicate is acknowledged: {duplicate:?}"
    );
    assert_eq!(
        read_data(&mut conn, "s/t/1", 0).data,
        b"one",
        "and not written twice"
    );
    let state = conn.call(Request::GetWriterState(GetWriterState {
        segment: "s/t/1".into(),
        writer_id: 9,
    }));
    assert!(
        matches!(&state, Reply::WriterState(w) if w.last_event_number == Some(1)),
        "{state:?}"
    );

    let conditional = |expected_offset| {
        Request::ConditionalAppend(ConditionalAppend {
            segment: "s/t/1".into(),
            writer_id: 9,
            event_number: 2,
            expected_offset,
            payload: b"two".to_vec(),
        })
    };
    let conflict = conn.call(conditional(0));
    assert!(
        matches!(&conflict, Reply::ConditionalAppendFailed(c) if c.current_length == 3),
        "{conflict:?}"
    );
    assert!(matches!(&conn.call(conditional(3)), Reply::Appended(a) if a.length == 6));

    let set = |value, condition| {
        Request::UpdateAttribute(UpdateAttribute {
            segment: "s/t/1".into(),
            key: 5,
            value,
            condition,
        })
    };
    assert!(matches!(
        &conn.call(set(10, AttributeCondition::IfAbsent)),
        Reply::AttributeUpdated(_)
    ));
    let cas = conn.call(set(11, AttributeCondition::IfEquals(9)));
    assert!(
        matches!(&cas, Reply::AttributeConflict(c) if c.current == Some(10)),
        "{cas:?}"
    );
    assert!(matches!(
        &conn.call(set(11, AttributeCondition::IfEquals(10))),
        Reply::AttributeUpdated(_)
    ));
    let value = conn.call(Request::GetAttribute(GetAttribute {
        segment: "s/t/1".into(),
        key: 5,
    }));
    assert!(
        matches!(&value, Reply::AttributeValue(v) if v.value == Some(11)),
        "{value:?}"
    );

    create(&mut conn, "s/t/1#tx");
    append(&mut conn, "s/t/1#tx", 3, 1, b"+tx");
    let merge = Request::Merge(Merge {
        target: "s/t/1".into(),
        source: "s/t/1#tx".into(),
    });
    assert!(
        matches!(&conn.call(merge.clone()), Reply::Error(_)),
        "an unsealed source cannot be merged"
    );
    conn.call(Request::Seal(Seal {
        segment: "s/t/1#tx".into(),
    }));
    let merged = conn.call(merge);
    assert!(
        matches!(&merged, Reply::Merged(m) if m.target_length == 9),
        "{merged:?}"
    );
    assert_eq!(read_data(&mut conn, "s/t/1", 0).data, b"onetwo+tx");
    assert!(
        matches!(&info(&mut conn, "s/t/1#tx"), Reply::NoSuchSegment(_)),
        "the source is gone"
    );
}

#[test]
fn a_read_at_the_tail_waits_for_the_next_append() {
    let node = Node::start("long-poll", 1);
    let mut reader = Conn::open(node.cores[0]);
    let mut writer = Conn::open(node.cores[0]);
    create(&mut writer, "s/t/2");
    let id = reader.send(&Request::Read(Read {
        segment: "s/t/2".into(),
        offset: 0,
        max_bytes: 1024,
        wait_ms: 20_000,
    }));
    std::thread::sleep(Duration::from_millis(100));
    append(&mut writer, "s/t/2", 1, 1, b"late");
    let (reply_id, reply) = reader.receive();
    assert_eq!(reply_id, id);
    assert!(
        matches!(&reply, Reply::ReadData(d) if d.data == b"late"),
        "{reply:?}"
    );
    // A wait that runs out answers with no data.
    let empty = read(&mut reader, "s/t/2", 4, 50);
    assert!(
        matches!(&empty, Reply::ReadData(d) if d.data.is_empty() && !d.end_of_segment),
        "{empty:?}"
    );
}

#[test]
fn everything_acknowledged_survives_a_kill() {
    let node = Node::start("restart", 2);
    let mut conn = Conn::open(node.cores[0]);
    let segments: Vec<String> = (0..8).map(|i| format!("s/t/{i}")).collect();
    let mut expected = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        create(&mut conn, segment);
        let mut bytes = Vec::new();
        for event in 1..=20i64 {
            let payload = format!("{segment}:{event};").into_bytes();
            assert!(matches!(
                &append(&mut conn, segment, i as u128, event, &payload),
                Reply::Appended(_)
            ));
            bytes.extend_from_slice(&payload);
        }
        expected.push(bytes);
    }
    conn.call(Request::Seal(Seal {
        segment: segments[0].clone(),
    }));
    let node = node.kill_and_restart();
    let mut conn = Conn::open(node.cores[1]);
    for (segment, bytes) in segments.iter().zip(&expected) {
        assert_eq!(
            &read_data(&mut conn, segment, 0).data,
            bytes,
            "{segment} after restart"
        );
    }
    assert!(
        read_data(&mut conn, &segments[0], expected[0].len() as u64).end_of_segment,
        "the seal survived"
    );
    let state = conn.call(Request::GetWriterState(GetWriterState {
        segment: segments[3].clone(),
        writer_id: 3,
    }));
    assert!(
        matches!(&state, Reply::WriterState(w) if w.last_event_number == Some(20)),
        "{state:?}"
    );
    let duplicate = append(&mut conn, &segments[3], 3, 20, b"again");
    assert!(matches!(&duplicate, Reply::Appended(_)));
    assert_eq!(
        read_data(&mut conn, &segments[3], 0).data,
        expected[3],
        "exactly once across the restart"
    );
    assert!(node.terminate().success(), "SIGTERM stops the node cleanly");
}

#[test]
fn the_handshake_maps_containers_and_any_core_serves_any_segment() {
    let node = Node::start("routing", 2);
    let hello = Conn::open(node.cores[0]).hello.expect("handshake");
    assert_eq!(hello.core_count, 2);
    assert_eq!(hello.core_ports.len(), 2);
    assert_eq!(hello.core_ports[1], node.cores[1].port());
    let containers =
        std::num::NonZeroU32::new(hello.container_cores.len() as u32).expect("containers");
    // Find a segment owned by core 1, and send it to core 0.
    let segment = (0..100)
        .map(|i| format!("s/route/{i}"))
        .find(|s| hello.container_cores[container_for(s, containers) as usize] == 1)
        .expect("some segment lives on core 1");
    let mut wrong_core = Conn::open(node.cores[0]);
    create(&mut wrong_core, &segment);
    append(&mut wrong_core, &segment, 1, 1, b"routed");
    let mut right_core = Conn::open(node.cores[1]);
    assert_eq!(read_data(&mut right_core, &segment, 0).data, b"routed");
}

#[test]
fn malformed_input_gets_an_error_and_a_closed_connection() {
    let node = Node::start("malformed", 1);
    // Garbage bytes.
    let mut garbage = Conn::raw(node.cores[0]);
    garbage.stream.write_all(&[0xAB; 64]).expect("send");
    let (_, reply) = garbage.try_receive().expect("an error reply");
    assert!(
        matches!(&reply, Reply::Error(e) if e.status == StatusCode::MalformedFrame.code()),
        "{reply:?}"
    );
    assert!(
        garbage.try_receive().is_none(),
        "then the connection closes"
    );

    // A 2 GiB frame length: refused from the header alone.
    let mut huge = Conn::raw(node.cores[0]);
    let mut header = Vec::new();
    FrameEncoder::new(16 << 20)
        .encode(&Request::Ping(Ping { nonce: 1 }), 1, &mut header)
        .expect("encodes");
    header[12..16].copy_from_slice(&(2u32 << 30).to_le_bytes());
    huge.stream.write_all(&header[..HEADER_LEN]).expect("send");
    let (_, reply) = huge.try_receive().expect("an error reply");
    assert!(
        matches!(&reply, Reply::Error(e) if e.status == StatusCode::FrameTooLarge.code()),
        "{reply:?}"
    );
    assert!(huge.try_receive().is_none());

    // A request before the handshake.
    let mut early = Conn::raw(node.cores[0]);
    let reply = early.call(Request::Ping(Ping { nonce: 2 }));
    assert!(
        matches!(&reply, Reply::Error(e) if e.status == StatusCode::HandshakeRequired.code()),
        "{reply:?}"
    );

    // Half a frame, then silence: the node keeps serving others.
    let mut half_open = Conn::raw(node.cores[0]);
    half_open.stream.write_all(&header[..10]).expect("send");
    let mut fine = Conn::open(node.cores[0]);
    create(&mut fine, "s/t/ok");
    assert!(matches!(&fine.call(Request::Ping(Ping { nonce: 3 })), Reply::Pong(p) if p.nonce == 3));
}

#[test]
fn readers_that_stop_waiting_do_not_use_up_the_tail_waiter_limit() {
    // More reads time out at the tail than a core lets wait at once; each
    // abandoned waiter must be forgotten, or later readers would be refused.
    let node = Node::start("tail-waiters", 1);
    let mut conn = Conn::open(node.cores[0]);
    create(&mut conn, "s/t/quiet");
    for _ in 0..17_000 {
        let reply = read(&mut conn, "s/t/quiet", 0, 1);
        assert!(
            matches!(&reply, Reply::ReadData(d) if d.data.is_empty()),
            "{reply:?}"
        );
    }
}

/// Reads `segment` from 0 to `len`, in as many reads as it takes.
fn read_everything(conn: &mut Conn, segment: &str, len: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        let chunk = read_data(conn, segment, data.len() as u64);
        assert!(
            !chunk.data.is_empty(),
            "{segment}: no data at {}",
            data.len()
        );
        data.extend_from_slice(&chunk.data);
    }
    data
}

#[test]
fn data_beyond_the_read_cache_is_read_back_from_the_journal() {
    // 16 MiB of cache over the containers of one core; 40 MiB written,
    // kept in the journal (the flusher's reads are `flusher.rs`'s).
    let sizes = Sizes {
        cache_mib: 16,
        no_flush: true,
        ..Sizes::default()
    };
    let node = Node::start_sized("cache", 1, sizes);
    let mut conn = Conn::open(node.cores[0]);
    let segments = ["s/cache/a", "s/cache/b"];
    let mut expected = vec![Vec::new(), Vec::new()];
    for segment in segments {
        create(&mut conn, segment);
    }
    for event in 0..80i64 {
        for (i, segment) in segments.iter().enumerate() {
            let payload: Vec<u8> = (0..256 << 10)
                .map(|b: usize| (b as u8) ^ (event as u8) ^ (i as u8 * 17))
                .collect();
            let reply = append(&mut conn, segment, 1, event, &payload);
            assert!(matches!(reply, Reply::Appended(_)), "{reply:?}");
            expected[i].extend_from_slice(&payload);
        }
    }
    for (segment, bytes) in segments.iter().zip(&expected) {
        let data = read_everything(&mut conn, segment, bytes.len());
        assert!(
            data == *bytes,
            "{segment}: read back from cache and journal"
        );
    }
    // Reads smaller than a record: each record is read and checked once,
    // then served from the recently read payloads.
    let mut data = Vec::new();
    while data.len() < expected[0].len() {
        let reply = conn.call(Request::Read(Read {
            segment: segments[0].into(),
            offset: data.len() as u64,
            max_bytes: 100_000,
            wait_ms: 0,
        }));
        let Reply::ReadData(chunk) = reply else {
            panic!("small read answered {reply:?}")
        };
        data.extend_from_slice(&chunk.data);
    }
    assert!(data == expected[0], "small reads of evicted data");
    let node = node.kill_and_restart();
    // 40 MiB over 32 MiB journal files: recovery started at a checkpoint.
    let log = std::fs::read_to_string(node.dir.join("node.log")).expect("node log");
    let recovered = log
        .lines()
        .rev()
        .find(|l| l.contains("recovered"))
        .expect("logged");
    assert!(!recovered.contains("checkpoint=0"), "{recovered}");
    let mut conn = Conn::open(node.cores[0]);
    for (segment, bytes) in segments.iter().zip(&expected) {
        let data = read_everything(&mut conn, segment, bytes.len());
        assert!(data == *bytes, "{segment}: read back after a restart");
    }
}

#[test]
fn a_full_journal_refuses_appends_with_a_retryable_error_and_keeps_serving() {
    // Four 32 MiB journal files, nothing flushed out of them: appends stop
    // once two hold data.
    let sizes = Sizes {
        cache_mib: 16,
        journal_files: 4,
        no_flush: true,
    };
    let node = Node::start_sized("full", 1, sizes);
    let mut conn = Conn::open(node.cores[0]);
    create(&mut conn, "s/full/a");
    let payload = vec![7u8; 1 << 20];
    let mut acknowledged = 0usize;
    let refusal = loop {
        assert!(acknowledged < 200, "four 32 MiB files never filled");
        match append(&mut conn, "s/full/a", 1, acknowledged as i64, &payload) {
            Reply::Appended(_) => acknowledged += 1,
            Reply::Error(e) => break e,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(refusal.status, spate_wire::StatusCode::StorageFull.code());
    assert_eq!(refusal.retry, spate_wire::RetryAdvice::Retry);
    assert!(refusal.message.contains("journal"), "{}", refusal.message);
    assert!(
        acknowledged >= 32,
        "at least a file's worth went in: {acknowledged}"
    );
    // Reads and small mutations still work; what was acknowledged is there.
    let data = read_everything(&mut conn, "s/full/a", acknowledged << 20);
    assert!(data.iter().all(|&b| b == 7));
    create(&mut conn, "s/full/b");
    // Deleting the data lets a checkpoint release its journal files: appends
    // go through again (polled: the release follows the checkpoint).
    assert!(matches!(
        conn.call(Request::Delete(Delete {
            segment: "s/full/a".into()
        })),
        Reply::Deleted(_)
    ));
    let mut attempts = 0;
    loop {
        let reply = append(&mut conn, "s/full/b", 1, 0, &payload);
        if matches!(reply, Reply::Appended(_)) {
            break;
        }
        attempts += 1;
        if attempts == 500 {
            let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap_or_default();
            panic!("space never came back: {reply:?}; the node's log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for event in 1..40 {
        let reply = append(&mut conn, "s/full/b", 1, event, &payload);
        assert!(matches!(reply, Reply::Appended(_)), "{reply:?}");
    }
    let node = node.kill_and_restart();
    let mut conn = Conn::open(node.cores[0]);
    assert!(matches!(
        info(&mut conn, "s/full/a"),
        Reply::NoSuchSegment(_)
    ));
    let data = read_everything(&mut conn, "s/full/b", 40 << 20);
    assert!(data.iter().all(|&b| b == 7));
    assert!(node.terminate().success());
}
