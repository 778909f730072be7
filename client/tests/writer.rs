//! The segment writer: pipelining, event numbers, batching only under
//! load, outcomes, backpressure.

mod support;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use spate_client::{
    AppendOutcome, ClientError, ConditionalOutcome, Limits, SealOutcome, StatusCode, WriterOptions,
};
use spate_wire::MessageType;
use support::{ServerOptions, create, quick_options, start, start_with, wait_until};

fn appended(outcome: Result<AppendOutcome, ClientError>) -> spate_client::Ack {
    match outcome {
        Ok(AppendOutcome::Appended(ack)) => ack,
        other => panic!("expected an ack, got {other:?}"),
    }
}

#[test]
fn pipelined_appends_resolve_in_order_with_their_event_numbers() {
    let (server, client) = start();
    create(&client, "w/pipelined");
    let writer = client.segment_writer("w/pipelined", 7).expect("writer");
    let events: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("event-{i};").into_bytes())
        .collect();
    let acks: Vec<_> = events.iter().map(|e| writer.append(e.clone())).collect();
    let mut numbers = Vec::new();
    let mut last_length = None;
    for ack in acks {
        let ack = appended(ack.wait());
        numbers.push(ack.event_number);
        last_length = ack.segment_length.or(last_length);
    }
    assert_eq!(numbers, (0..300).collect::<Vec<i64>>());
    let expected: Vec<u8> = events.concat();
    assert_eq!(last_length, Some(expected.len() as u64));
    assert_eq!(server.data("w/pipelined"), Some(expected));
}

#[test]
fn an_append_while_idle_goes_out_alone() {
    let (server, client) = start();
    create(&client, "w/idle");
    let writer = client.segment_writer("w/idle", 1).expect("writer");
    for i in 0..5 {
        let ack = appended(writer.append(vec![i]).wait());
        assert_eq!(ack.segment_length, Some(u64::from(i) + 1));
    }
    assert_eq!(server.frames_total(MessageType::Append), 5);
    assert_eq!(server.frames_total(MessageType::AppendBatch), 0);
}

#[test]
fn appends_made_while_one_is_in_flight_gather_into_one_batch() {
    let (server, client) = start();
    create(&client, "w/gather");
    let writer = client.segment_writer("w/gather", 1).expect("writer");
    server.hold_acks();
    let first = writer.append(b"first".to_vec());
    wait_until("the first append arrives", || {
        server.frames_total(MessageType::Append) == 1
    });
    let rest: Vec<_> = (0..9).map(|i| writer.append(vec![b'0' + i])).collect();
    server.release_acks();
    assert_eq!(appended(first.wait()).event_number, 0);
    for (i, ack) in rest.into_iter().enumerate() {
        assert_eq!(appended(ack.wait()).event_number, i as i64 + 1);
    }
    assert_eq!(server.frames_total(MessageType::Append), 1);
    assert_eq!(server.frames_total(MessageType::AppendBatch), 1);
    assert_eq!(server.data("w/gather"), Some(b"first012345678".to_vec()));
}

#[test]
fn a_full_batch_leaves_without_waiting_for_an_ack() {
    let mut options = quick_options();
    options.writer = WriterOptions {
        max_batch_events: 4,
        ..WriterOptions::default()
    };
    let (server, client) = start_with(ServerOptions::default(), options);
    create(&client, "w/full");
    let writer = client.segment_writer("w/full", 1).expect("writer");
    server.hold_acks();
    let acks: Vec<_> = (0..9).map(|i| writer.append(vec![i])).collect();
    // One alone (idle), then two full batches, all before any ack.
    wait_until("two full batches arrive", || {
        server.frames_total(MessageType::AppendBatch) == 2
    });
    server.release_acks();
    for ack in acks {
        appended(ack.wait());
    }
    assert_eq!(server.frames_total(MessageType::Append), 1);
    assert_eq!(server.data("w/full"), Some((0..9).collect()));
}

#[test]
fn a_new_writer_resumes_numbering_from_the_node() {
    let (server, client) = start();
    create(&client, "w/resume");
    let first = client.segment_writer("w/resume", 42).expect("writer");
    for _ in 0..3 {
        appended(first.append(b"a".to_vec()).wait());
    }
    first.close().expect("closed");
    let second = client.segment_writer("w/resume", 42).expect("writer");
    assert_eq!(second.next_event_number(), 3);
    assert_eq!(
        appended(second.append(b"b".to_vec()).wait()).event_number,
        3
    );
    let other = client.segment_writer("w/resume", 43).expect("writer");
    assert_eq!(other.next_event_number(), 0);
    assert_eq!(server.data("w/resume"), Some(b"aaab".to_vec()));
}

#[test]
fn conditional_appends_report_a_failed_condition_as_an_outcome() {
    let (server, client) = start();
    create(&client, "w/cond");
    let writer = client.segment_writer("w/cond", 1).expect("writer");
    let ok = writer.append_conditional(b"abc".to_vec(), 0).wait();
    assert!(matches!(ok, Ok(ConditionalOutcome::Appended(_))), "{ok:?}");
    let stale = writer.append_conditional(b"def".to_vec(), 0).wait();
    assert_eq!(
        stale,
        Ok(ConditionalOutcome::ConditionalAppendFailed { current_length: 3 })
    );
    // The writer goes on after a failed condition.
    appended(writer.append(b"g".to_vec()).wait());
    assert_eq!(server.data("w/cond"), Some(b"abcg".to_vec()));
}

#[test]
fn a_sealed_segment_is_an_outcome_and_closes_the_writer() {
    let (_server, client) = start();
    create(&client, "w/sealed");
    let writer = client.segment_writer("w/sealed", 1).expect("writer");
    appended(writer.append(b"12345".to_vec()).wait());
    assert_eq!(
        client.seal("w/sealed").wait(),
        Ok(SealOutcome::Sealed { length: 5 })
    );
    assert_eq!(
        writer.append(b"x".to_vec()).wait(),
        Ok(AppendOutcome::Sealed { length: 5 })
    );
    assert_eq!(
        writer.append(b"y".to_vec()).wait(),
        Ok(AppendOutcome::Sealed { length: 5 })
    );
    writer.flush().wait().expect("nothing outstanding");
}

#[test]
fn a_missing_segment_or_an_oversized_event_is_an_invalid_request() {
    let (_server, client) = start();
    let error = client
        .segment_writer("w/missing", 1)
        .expect_err("no segment");
    assert_eq!(error.status(), Some(StatusCode::NoSuchSegment));
    create(&client, "w/big");
    let writer = client.segment_writer("w/big", 1).expect("writer");
    let error = writer
        .append(vec![0; 17 * 1024 * 1024])
        .wait()
        .expect_err("too big");
    assert_eq!(error.status(), Some(StatusCode::EventTooLarge));
}

#[test]
fn appends_from_many_threads_get_distinct_numbers() {
    let (server, client) = start();
    create(&client, "w/threads");
    let writer = Arc::new(client.segment_writer("w/threads", 3).expect("writer"));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let writer = Arc::clone(&writer);
            thread::spawn(move || {
                let acks: Vec<_> = (0..50).map(|_| writer.append(vec![t])).collect();
                acks.into_iter()
                    .map(|a| appended(a.wait()).event_number)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut numbers: Vec<i64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("joined"))
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..200).collect::<Vec<i64>>());
    assert_eq!(server.data("w/threads").map(|d| d.len()), Some(200));
}

#[test]
fn a_small_outstanding_bound_blocks_appends_without_deadlock() {
    let mut options = quick_options();
    options.writer = WriterOptions {
        max_outstanding_events: 3,
        max_batch_events: 2,
        ..WriterOptions::default()
    };
    let (server, client) = start_with(ServerOptions::default(), options);
    create(&client, "w/bound");
    let writer = client.segment_writer("w/bound", 1).expect("writer");
    let acks: Vec<_> = (0..100).map(|i| writer.append(vec![i])).collect();
    for ack in acks {
        appended(ack.wait());
    }
    assert_eq!(server.data("w/bound"), Some((0..100).collect()));
}

#[test]
fn requests_in_flight_stay_within_the_node_limit() {
    let limits = Limits {
        max_in_flight_requests: 4,
        ..Limits::default()
    };
    let mut options = quick_options();
    options.writer = WriterOptions {
        max_batch_events: 1,
        ..WriterOptions::default()
    };
    let (server, client) = start_with(
        ServerOptions {
            limits,
            ..ServerOptions::default()
        },
        options,
    );
    create(&client, "w/limit");
    let writer = client.segment_writer("w/limit", 1).expect("writer");
    server.hold_acks();
    let acks: Vec<_> = (0..50).map(|i| writer.append(vec![i])).collect();
    wait_until("four appends arrive", || {
        server.frames_total(MessageType::Append) == 4
    });
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        server.frames_total(MessageType::Append),
        4,
        "no fifth request while four wait"
    );
    server.release_acks();
    for ack in acks {
        appended(ack.wait());
    }
    assert!(server.max_unanswered() <= 4, "{}", server.max_unanswered());
    assert_eq!(server.data("w/limit"), Some((0..50).collect()));
}

#[test]
fn flush_waits_for_every_outstanding_append() {
    let (server, client) = start();
    create(&client, "w/flush");
    let writer = client.segment_writer("w/flush", 1).expect("writer");
    server.hold_acks();
    // Vec<u8> and bytes::Bytes both convert into a payload.
    let acks = [
        writer.append(b"a".to_vec()),
        writer.append(bytes::Bytes::from_static(b"b")),
    ];
    let flush = writer.flush();
    // The first goes alone; the second waits for its ack to go out.
    wait_until("the first append arrives", || {
        server.frames_total(MessageType::Append) == 1
    });
    assert!(!flush.is_done(), "acks are held");
    server.release_acks();
    flush.wait().expect("flushed");
    assert!(acks.iter().all(|ack| ack.is_done()));
}
