//! The client library against a real node: pipelined appends through a
//! kill -9 and restart, read back exactly once and in order; many threads
//! appending through one connection, and a burst into a frozen node that
//! fills the socket.

use std::thread;
use std::time::Duration;

use spate_client::{AppendOutcome, Client, ClientOptions, CreateOutcome, ReadOutcome};

use crate::support::{Node, free_ports};

const EVENTS: usize = 3000;

#[test]
fn pipelined_appends_survive_a_kill_exactly_once() {
    let listen = format!("127.0.0.1:{}", free_ports(2));
    let node = Node::start_listening("client", 2, &listen);
    let addr = node.cores[0];
    let segments = ["s/c/0", "s/c/1", "s/c/2", "s/c/3"];
    let client = connect_creating(addr, &segments);
    let writers: Vec<_> = segments
        .iter()
        .map(|s| client.segment_writer(s, 11).expect("writer"))
        .collect();
    let event = |i: usize| format!("event-{i:05};").into_bytes();
    let mut acks = Vec::new();
    for i in 0..EVENTS / 2 {
        acks.push(writers[i % 4].append(event(i)));
    }
    for ack in acks.drain(..) {
        assert!(matches!(
            ack.wait().expect("acknowledged"),
            AppendOutcome::Appended(_)
        ));
    }
    // Kill the node while the second half is in flight and restart it on
    // the same ports: the writers resend what was not acknowledged.
    for i in EVENTS / 2..EVENTS {
        acks.push(writers[i % 4].append(event(i)));
    }
    let node = node.kill_and_restart();
    assert_eq!(
        node.cores[0], addr,
        "the node came back on the same address"
    );
    for ack in acks {
        assert!(matches!(
            ack.wait().expect("acknowledged after the restart"),
            AppendOutcome::Appended(_)
        ));
    }
    for (s, segment) in segments.iter().enumerate() {
        let expected: Vec<u8> = (0..EVENTS).filter(|i| i % 4 == s).flat_map(event).collect();
        let data = read_back(&client, segment, expected.len());
        assert_eq!(data, expected, "{segment}: every event once, in order");
    }
}

/// The first `len` bytes of `segment`, read through the client.
/// A client of the node at `addr`, with `segments` created.
fn connect_creating(addr: std::net::SocketAddr, segments: &[impl AsRef<str>]) -> Client {
    let client = Client::connect(addr, ClientOptions::default()).expect("connects");
    for segment in segments {
        assert!(matches!(
            client
                .create_segment(segment.as_ref())
                .wait()
                .expect("create"),
            CreateOutcome::Created
        ));
    }
    client
}

fn read_back(client: &Client, segment: &str, len: usize) -> Vec<u8> {
    let mut reader = client.segment_reader(segment, 0).expect("reader");
    let mut data = Vec::new();
    while data.len() < len {
        match reader.read().wait().expect("read") {
            ReadOutcome::Data(chunk) => data.extend_from_slice(&chunk.data),
            other => panic!("unexpected {other:?}"),
        }
    }
    data
}

/// Appends made from many threads share the one connection to the node's
/// core: while its writer is idle an append leaves from the appending
/// thread, otherwise it queues behind the writer thread, among them a
/// burst of MiB-sized events. Every ack comes, in order, and every byte is
/// read back where it belongs.
#[test]
fn many_threads_appending_through_one_connection_land_byte_exact() {
    const WRITERS: usize = 8;
    const EVENTS: usize = 400;
    const BURST_EVENTS: usize = 24;
    const BURST_LEN: usize = 1024 * 1024;
    let node = Node::start("client-threads", 1);
    let segments: Vec<String> = (0..=WRITERS).map(|w| format!("s/threads/{w}")).collect();
    let client = connect_creating(node.cores[0], &segments);
    let appenders: Vec<_> = segments
        .iter()
        .enumerate()
        .map(|(w, segment)| {
            let writer = client
                .segment_writer(segment, 100 + w as u128)
                .expect("writer");
            thread::spawn(move || {
                // The last writer bursts; the others append small events,
                // resting now and then so that the connection goes idle.
                let (count, burst) = match w {
                    WRITERS => (BURST_EVENTS, true),
                    _ => (EVENTS, false),
                };
                let mut expected = Vec::new();
                let mut acks = Vec::new();
                for i in 0..count {
                    let len = if burst { BURST_LEN } else { 1 + (i * 53) % 400 };
                    let payload = event(w, i, len);
                    expected.extend_from_slice(&payload);
                    acks.push(writer.append(payload));
                    if !burst && i % 40 == 0 {
                        thread::sleep(Duration::from_millis(2));
                    }
                }
                for (i, ack) in acks.into_iter().enumerate() {
                    match ack.wait().expect("acknowledged") {
                        AppendOutcome::Appended(ack) => {
                            assert_eq!(ack.event_number, i as i64, "writer {w}: acks in order");
                        }
                        other => panic!("writer {w}: event {i} got {other:?}"),
                    }
                }
                expected
            })
        })
        .collect();
    for (appender, segment) in appenders.into_iter().zip(&segments) {
        let expected = appender.join().expect("every append acknowledged");
        let data = read_back(&client, segment, expected.len());
        assert!(data == expected, "{segment}: every event once, in order");
    }
}

/// Event `i` of writer `w`: its bytes say whose and which it is.
fn event(w: usize, i: usize, len: usize) -> Vec<u8> {
    let tag = format!("[{w}:{i}]");
    tag.bytes().cycle().take(len.max(tag.len())).collect()
}

/// A frozen node reads nothing: a 24 MiB burst fills the connection's
/// socket, the append that finds it full leaves the rest of its frame to
/// the writer thread, and appends from other threads queue behind it. None
/// of them blocks on the socket; once the node goes on, everything lands.
#[test]
fn a_burst_into_a_frozen_node_is_finished_by_the_writer_thread() {
    const BURST_EVENTS: usize = 24;
    const BURST_LEN: usize = 1024 * 1024;
    let node = Node::start("client-burst", 1);
    let segments = ["s/burst/0", "s/burst/1", "s/burst/2"];
    let client = connect_creating(node.cores[0], &segments);
    let writers: Vec<_> = segments
        .iter()
        .enumerate()
        .map(|(w, s)| client.segment_writer(s, 200 + w as u128).expect("writer"))
        .collect();
    node.freeze();
    let (tx, rx) = std::sync::mpsc::channel();
    let appenders: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(w, writer)| {
            let tx = tx.clone();
            thread::spawn(move || {
                let (count, len) = match w {
                    0 => (BURST_EVENTS, BURST_LEN),
                    _ => (100, 200),
                };
                let acks: Vec<_> = (0..count)
                    .map(|i| writer.append(event(w, i, len)))
                    .collect();
                let _ = tx.send(w);
                let expected: Vec<u8> = (0..count).flat_map(|i| event(w, i, len)).collect();
                (writer, acks, expected)
            })
        })
        .collect();
    for _ in &segments {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("appending to a frozen node does not block");
    }
    node.thaw();
    for (w, appender) in appenders.into_iter().enumerate() {
        let (writer, acks, expected) = appender.join().expect("appended");
        for (i, ack) in acks.into_iter().enumerate() {
            match ack.wait().expect("acknowledged") {
                AppendOutcome::Appended(ack) => assert_eq!(ack.event_number, i as i64),
                other => panic!("writer {w}: event {i} got {other:?}"),
            }
        }
        writer.close().expect("flushed");
        let data = read_back(&client, segments[w], expected.len());
        assert!(data == expected, "{}: every byte, in order", segments[w]);
    }
}
