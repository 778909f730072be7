//! Handshake, shard-aware routing, connection reuse, and futures on a
//! trivial executor.

mod support;

use std::collections::HashSet;

use spate_client::{Client, ClientError, CreateOutcome, InfoOutcome};
use spate_wire::MessageType;
use support::{block_on, create, segment_on, start};

#[test]
fn handshake_reports_the_node_topology() {
    let (server, client) = start();
    let topology = client.topology();
    assert_eq!(topology.node_id, 0x5eed);
    assert_eq!(topology.core_count(), 2);
    assert_eq!(topology.core_ports, vec![server.port(0), server.port(1)]);
    assert_eq!(topology.container_cores.len(), 8);
    client.ping().wait().expect("pong");
}

#[test]
fn requests_go_to_the_core_that_owns_the_segment() {
    let (server, client) = start();
    let on_core_0 = segment_on(&client, 0, "routing");
    let on_core_1 = segment_on(&client, 1, "routing");
    for segment in [&on_core_0, &on_core_1] {
        create(&client, segment);
        let writer = client.segment_writer(segment, 1).expect("writer");
        writer.append(b"x".to_vec()).wait().expect("appended");
        let mut reader = client.segment_reader(segment, 0).expect("reader");
        reader.read().wait().expect("read");
    }
    assert_eq!(server.segments_on(0), HashSet::from([on_core_0]));
    assert_eq!(server.segments_on(1), HashSet::from([on_core_1]));
}

#[test]
fn connections_are_opened_lazily_and_reused() {
    let (server, client) = start();
    assert_eq!((server.accepted(0), server.accepted(1)), (1, 0));
    let on_core_1 = segment_on(&client, 1, "reuse");
    create(&client, &on_core_1);
    for _ in 0..20 {
        let info = client.info(&on_core_1).wait().expect("info");
        assert!(matches!(info, InfoOutcome::Found(_)));
    }
    let writer = client.segment_writer(&on_core_1, 5).expect("writer");
    writer.append(b"abc".to_vec()).wait().expect("appended");
    assert_eq!((server.accepted(0), server.accepted(1)), (1, 1));
    assert_eq!(server.frames(1, MessageType::GetInfo), 20);
}

#[test]
fn futures_run_on_a_trivial_executor() {
    let (_server, client) = start();
    block_on(client.ping()).expect("pong");
    let created = block_on(client.create_segment("exec/seg"));
    assert_eq!(created, Ok(CreateOutcome::Created));
    let writer = client.segment_writer("exec/seg", 9).expect("writer");
    let acks: Vec<_> = (0..10).map(|i| writer.append(vec![i])).collect();
    block_on(async {
        for ack in acks {
            ack.await.expect("appended");
        }
        writer.flush().await.expect("flushed");
    });
    let mut reader = client.segment_reader("exec/seg", 0).expect("reader");
    let first = block_on(reader.read()).expect("read");
    assert!(matches!(first, spate_client::ReadOutcome::Data(_)));
}

#[test]
fn bad_names_are_refused_before_sending() {
    let (server, client) = start();
    let error = client.info("a//b").wait().expect_err("invalid");
    assert!(
        matches!(error, ClientError::InvalidRequest { .. }),
        "{error}"
    );
    assert!(client.segment_writer("/abs", 1).is_err());
    assert_eq!(server.frames_total(MessageType::GetInfo), 0);
}

#[test]
fn connecting_to_nothing_is_retryable() {
    let server = support::TestServer::start(Default::default());
    let addr = server.addr();
    server.stop();
    drop(server);
    let error = Client::connect(addr, support::quick_options()).expect_err("nobody listens");
    assert!(error.is_retryable(), "{error}");
}
