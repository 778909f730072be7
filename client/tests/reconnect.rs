//! Broken connections: appends are resent in order without duplicates,
//! idempotent calls are retried, other calls fail retryably, and a node
//! that stays away makes the client give up with a clear error.

mod support;

use spate_client::{AppendOutcome, ClientError, InfoOutcome, ReadOutcome, WriterOptions};
use spate_wire::MessageType;
use support::{ServerOptions, create, quick_options, start, start_with, wait_until};

fn event_number(outcome: Result<AppendOutcome, ClientError>) -> i64 {
    match outcome {
        Ok(AppendOutcome::Appended(ack)) => ack.event_number,
        other => panic!("expected an ack, got {other:?}"),
    }
}

#[test]
fn unacked_appends_are_resent_after_a_drop_without_duplicates() {
    let mut options = quick_options();
    options.writer = WriterOptions {
        max_batch_events: 4,
        ..WriterOptions::default()
    };
    let (server, client) = start_with(ServerOptions::default(), options);
    create(&client, "r/resend");
    let core = client.topology().core_for("r/resend");
    let writer = client.segment_writer("r/resend", 11).expect("writer");
    server.hold_acks();
    let acks: Vec<_> = (0..20u8).map(|i| writer.append(vec![i])).collect();
    // One alone, then four full batches: 17 events applied, none acked.
    wait_until("four batches arrive", || {
        server.frames_total(MessageType::AppendBatch) == 4
    });
    assert_eq!(server.data("r/resend"), Some((0..17).collect()));
    server.drop_connections();
    server.release_acks();
    for (i, ack) in acks.into_iter().enumerate() {
        assert_eq!(event_number(ack.wait()), i as i64);
    }
    assert_eq!(
        server.data("r/resend"),
        Some((0..20).collect()),
        "no duplicates, no gaps"
    );
    assert_eq!(server.accepted(core), 2, "one reconnect");
}

#[test]
fn a_batch_lost_before_it_was_applied_is_resent() {
    let (server, client) = start();
    create(&client, "r/lost");
    let writer = client.segment_writer("r/lost", 1).expect("writer");
    server.hold_acks();
    let first = writer.append(b"a".to_vec());
    wait_until("the first append arrives", || {
        server.frames_total(MessageType::Append) == 1
    });
    let rest: Vec<_> = [b"b", b"c", b"d"]
        .iter()
        .map(|p| writer.append(p.to_vec()))
        .collect();
    server.drop_next(MessageType::AppendBatch);
    server.release_acks();
    assert_eq!(event_number(first.wait()), 0);
    for (i, ack) in rest.into_iter().enumerate() {
        assert_eq!(event_number(ack.wait()), i as i64 + 1);
    }
    assert_eq!(server.data("r/lost"), Some(b"abcd".to_vec()));
}

#[test]
fn idempotent_calls_are_retried_and_others_fail_retryably() {
    let (server, client) = start();
    create(&client, "r/calls");
    server.drop_next(MessageType::GetInfo);
    let info = client.info("r/calls").wait().expect("retried");
    assert!(matches!(info, InfoOutcome::Found(_)));
    server.drop_next(MessageType::CreateSegment);
    let error = client
        .create_segment("r/other")
        .wait()
        .expect_err("not resent");
    assert!(error.is_retryable(), "{error}");
    assert_eq!(
        server.frames_total(MessageType::CreateSegment),
        2,
        "sent once each"
    );
}

#[test]
fn a_tail_read_survives_a_dropped_connection() {
    let (server, client) = start();
    create(&client, "r/tail");
    let mut reader = client.segment_reader("r/tail", 0).expect("reader");
    let read = reader.read();
    wait_until("the read waits at the tail", || {
        server.frames_total(MessageType::Read) == 1
    });
    server.drop_connections();
    let writer = client.segment_writer("r/tail", 1).expect("writer");
    event_number(writer.append(b"late".to_vec()).wait());
    match read.wait() {
        Ok(ReadOutcome::Data(chunk)) => assert_eq!(chunk.data, b"late"),
        other => panic!("expected data, got {other:?}"),
    }
}

#[test]
fn a_node_that_stays_away_makes_the_writer_give_up() {
    let (server, client) = start();
    create(&client, "r/gone");
    let writer = client.segment_writer("r/gone", 1).expect("writer");
    event_number(writer.append(b"a".to_vec()).wait());
    server.stop();
    let error = writer.append(b"b".to_vec()).wait().expect_err("node gone");
    assert!(error.is_retryable(), "{error}");
    assert!(error.reason().contains("gave up"), "{error}");
    // The writer stays failed: later calls answer at once with the error.
    assert!(writer.append(b"c".to_vec()).wait().is_err());
    assert!(writer.flush().wait().is_err());
    let error = client.info("r/gone").wait().expect_err("node gone");
    assert!(error.is_retryable(), "{error}");
}
