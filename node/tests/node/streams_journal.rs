//! Streams do not pin the journal: the controller's metadata logs live in
//! memory and in checkpoints, so a node whose streams come and go keeps
//! releasing its journal, and writes many times its size.

use spate_client::{EventWriter, EventWriterOptions, StreamConfig};

use crate::streams::{connect, stream};
use crate::support::{Node, Sizes};

#[test]
fn streams_that_come_and_go_write_many_journals_worth() {
    // One core, 6 journal files of 32 MiB: 192 MiB of journal.
    let sizes = Sizes {
        cache_mib: 64,
        journal_files: 6,
        ..Sizes::default()
    };
    let node = Node::start_sized("streams-journal", 1, sizes);
    let client = connect(&node);
    const ROUNDS: usize = 12;
    const EVENTS: usize = 500;
    let payload = vec![0x5a; 64 << 10];
    for round in 0..ROUNDS {
        // Each round writes 32 MiB into a new stream, then deletes it: the
        // metadata of every stream (and the scope) is written in between.
        let name = stream(
            &client,
            "churn",
            &format!("s{round}"),
            StreamConfig::fixed(2),
        );
        let writer =
            EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
        let acks: Vec<_> = (0..EVENTS)
            .map(|_| writer.write_event(None, &payload))
            .collect();
        for ack in acks {
            ack.wait().unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        writer.close().expect("closed");
        client
            .seal_stream(&name)
            .wait()
            .expect("seal")
            .found("s")
            .expect("exists");
        client
            .delete_stream(&name)
            .wait()
            .expect("delete")
            .found("s")
            .expect("exists");
    }
    // 12 × 32 MiB went through a 192 MiB journal, and a stream still works.
    let name = stream(&client, "churn", "last", StreamConfig::fixed(1));
    let writer = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    writer
        .write_event(None, b"still writing")
        .wait()
        .expect("durable");
}
