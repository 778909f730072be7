//! The client library against a real node: pipelined appends through a
//! kill -9 and restart, read back exactly once and in order.

use spate_client::{AppendOutcome, Client, ClientOptions, CreateOutcome, ReadOutcome};

use crate::support::{Node, free_ports};

const EVENTS: usize = 3000;

#[test]
fn pipelined_appends_survive_a_kill_exactly_once() {
    let listen = format!("127.0.0.1:{}", free_ports(2));
    let node = Node::start_listening("client", 2, &listen);
    let addr = node.cores[0];
    let client = Client::connect(addr, ClientOptions::default()).expect("connects");
    let segments = ["s/c/0", "s/c/1", "s/c/2", "s/c/3"];
    for segment in segments {
        assert!(matches!(
            client.create_segment(segment).wait().expect("create"),
            CreateOutcome::Created
        ));
    }
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
        let mut reader = client.segment_reader(segment, 0).expect("reader");
        let mut data = Vec::new();
        while data.len() < expected.len() {
            match reader.read().wait().expect("read") {
                ReadOutcome::Data(chunk) => data.extend_from_slice(&chunk.data),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(data, expected, "{segment}: every event once, in order");
    }
}
