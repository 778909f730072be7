//! Many threads on one connection: appends and calls from application
//! threads leave inline while the connection's writer is idle, queue
//! behind it otherwise, and a socket that fills up mid-burst is finished by
//! the writer thread. Every ack arrives and every byte lands in order.

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use spate_client::{AppendOutcome, Limits, SegmentWriter};
use support::{ServerOptions, create, quick_options, start_with};

/// A hang guard, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);

/// One node core, so every segment and call shares one connection.
fn one_core(limits: Limits) -> ServerOptions {
    ServerOptions {
        cores: 1,
        containers: 8,
        limits,
    }
}

/// Event `i` of writer `w`: its bytes say whose and which it is.
fn event(w: usize, i: usize, len: usize) -> Vec<u8> {
    let tag = format!("[{w}:{i}]");
    tag.bytes().cycle().take(len.max(tag.len())).collect()
}

/// Waits for `acks` and checks that they are numbered 0, 1, ... in order.
fn check_acks(segment: &str, acks: Vec<spate_client::AppendFuture>) {
    for (i, ack) in acks.into_iter().enumerate() {
        match ack.wait() {
            Ok(AppendOutcome::Appended(ack)) => {
                assert_eq!(ack.event_number, i as i64, "{segment}: acks in order");
            }
            other => panic!("{segment}: event {i} got {other:?}"),
        }
    }
}

#[test]
fn many_threads_appending_through_one_connection_get_every_ack_and_their_bytes_in_order() {
    const WRITERS: usize = 8;
    const EVENTS: usize = 1500;
    // Few requests in flight: segment writers park on the connection too.
    let limits = Limits {
        max_in_flight_requests: 16,
        ..Limits::default()
    };
    let (server, client) = start_with(one_core(limits), quick_options());
    let segments: Vec<String> = (0..WRITERS).map(|w| format!("c/many/{w}")).collect();
    for segment in &segments {
        create(&client, segment);
    }
    let appenders: Vec<_> = segments
        .iter()
        .enumerate()
        .map(|(w, segment)| {
            let writer = client
                .segment_writer(segment, w as u128 + 1)
                .expect("writer");
            thread::spawn(move || {
                let mut expected = Vec::new();
                let mut acks = Vec::new();
                for i in 0..EVENTS {
                    let len = if i % 97 == 5 {
                        64 * 1024
                    } else {
                        1 + (i * 37) % 300
                    };
                    let payload = event(w, i, len);
                    expected.extend_from_slice(&payload);
                    acks.push(writer.append(payload));
                    // Now and then the connection goes idle: inline again.
                    if i % 50 == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                check_acks(writer.segment(), acks);
                writer.close().expect("flushed");
                expected
            })
        })
        .collect();
    // Calls from yet another thread, on the same connection.
    let pinger = {
        let client = client.clone();
        thread::spawn(move || {
            for _ in 0..200 {
                client.ping().wait().expect("pong");
            }
        })
    };
    for (appender, segment) in appenders.into_iter().zip(&segments) {
        let expected = appender.join().expect("the appender finished");
        assert!(
            server.data(segment) == Some(expected),
            "{segment}: every event once, in order"
        );
    }
    pinger.join().expect("the pinger finished");
    assert_eq!(server.accepted(0), 1, "one connection carried it all");
}

#[test]
fn a_burst_that_fills_the_socket_is_finished_by_the_writer_thread() {
    const EVENTS: usize = 40;
    const LEN: usize = 512 * 1024;
    let (server, client) = start_with(one_core(Limits::default()), quick_options());
    create(&client, "c/burst");
    let writer = client.segment_writer("c/burst", 9).expect("writer");
    // 20 MiB to a node that reads nothing: the sockets' buffers fill up
    // mid-burst, and the writer thread must take over the rest. No append
    // (nor call) may block on the socket meanwhile.
    server.pause_reading();
    let (tx, rx) = mpsc::channel();
    let appender = {
        let client = client.clone();
        thread::spawn(move || {
            let acks: Vec<_> = (0..EVENTS)
                .map(|i| writer.append(event(0, i, LEN)))
                .collect();
            let pong = client.ping();
            let _ = tx.send(());
            (writer, acks, pong)
        })
    };
    rx.recv_timeout(PATIENCE)
        .expect("appending into a full socket does not block");
    let (writer, acks, pong): (SegmentWriter, _, _) = appender.join().expect("appended");
    server.resume_reading();
    check_acks("c/burst", acks);
    pong.wait()
        .expect("the ping queued behind the burst got its pong");
    writer.close().expect("flushed");
    let expected: Vec<u8> = (0..EVENTS).flat_map(|i| event(0, i, LEN)).collect();
    assert!(
        server.data("c/burst") == Some(expected),
        "every byte of the burst, in order"
    );
}
