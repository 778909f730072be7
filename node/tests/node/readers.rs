//! The read side against a real node: the state synchronizer (a shared
//! counter updated concurrently by two clients, then compacted) and reader
//! groups (fair shares and rebalancing, exactly-once across rebalances,
//! scaling and restarts, checkpoints and their cuts).

use std::thread;

use spate_client::{ClientError, InfoOutcome, StateSynchronizer, SyncState, sync_segment_name};

use crate::streams::connect;
use crate::support::Node;

/// A counter: updates are increments.
#[derive(Debug)]
struct Counter(u64);

fn eight_bytes(bytes: &[u8]) -> Result<u64, ClientError> {
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| ClientError::Fatal {
        reason: format!("a counter record of {} bytes", bytes.len()),
        status: None,
    })?;
    Ok(u64::from_le_bytes(bytes))
}

impl SyncState for Counter {
    type Update = u64;

    fn initial() -> Self {
        Counter(0)
    }

    fn apply(&mut self, update: &u64) {
        self.0 += update;
    }

    fn encode_update(update: &u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&update.to_le_bytes());
    }

    fn decode_update(bytes: &[u8]) -> Result<u64, ClientError> {
        eight_bytes(bytes)
    }

    fn encode_snapshot(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }

    fn decode_snapshot(bytes: &[u8]) -> Result<Self, ClientError> {
        eight_bytes(bytes).map(Counter)
    }
}

#[test]
fn two_clients_increment_a_synchronized_counter_without_losing_an_update() {
    let node = Node::start("readers-counter", 2);
    let segment = sync_segment_name("app", "counter");
    let incrementers: Vec<_> = (0..2)
        .map(|_| {
            // Separate clients: separate connections, as two processes.
            let client = connect(&node);
            let segment = segment.clone();
            thread::spawn(move || {
                let mut counter =
                    StateSynchronizer::<Counter>::open(&client, &segment).expect("opens");
                for _ in 0..500 {
                    counter.update(|_| vec![1]).expect("updated");
                }
            })
        })
        .collect();
    for incrementer in incrementers {
        incrementer.join().expect("incremented");
    }

    let client = connect(&node);
    let mut counter = StateSynchronizer::<Counter>::open(&client, &segment).expect("opens");
    assert_eq!(counter.state().0, 1000, "an update was lost");

    // Compaction keeps the value and drops the history before it.
    let revision = counter.revision();
    counter.compact().expect("compacted");
    assert_eq!(counter.state().0, 1000);
    let InfoOutcome::Found(info) = client.info(&segment).wait().expect("info") else {
        panic!("the counter's segment is gone");
    };
    assert_eq!(info.start_offset, revision, "truncated at the snapshot");
    let mut late = StateSynchronizer::<Counter>::open(&client, &segment).expect("opens");
    assert_eq!(late.state().0, 1000, "a late reader starts at the snapshot");
    late.update(|_| vec![5]).expect("updated");
    counter.fetch_updates().expect("fetched");
    assert_eq!(counter.state().0, 1005);
}
