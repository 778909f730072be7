//! The read side against a real node: the state synchronizer (a shared
//! counter updated concurrently by two clients, then compacted) and reader
//! groups (fair shares and rebalancing, exactly-once across rebalances,
//! scaling and restarts, checkpoints and their cuts).

use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::{Duration, Instant};

use spate_client::{
    Client, ClientError, Event, EventRead, EventReader, EventWriter, EventWriterOptions,
    InfoOutcome, ReaderGroup, ReaderGroupConfig, StateSynchronizer, StreamBounds, StreamName,
    SyncState, reader_group_segment, sync_segment_name,
};
use spate_wire::stream::{StreamConfig, StreamCut};

use crate::streams::{connect, describe, stream};
use crate::streams_keys::scale_while_writing;
use crate::support::{Node, free_ports};

const KEYS: usize = 64;

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

/// Writes events `from..to`, event `i` with key `i % KEYS` and payload
/// `key:seq` (`seq` counts that key's events), and waits for every ack.
fn write(writer: &EventWriter, from: usize, to: usize) {
    let acks: Vec<_> = (from..to)
        .map(|i| {
            let key = i % KEYS;
            let payload = format!("{key}:{}", i / KEYS);
            writer.write_event(Some(&key.to_le_bytes()), payload.as_bytes())
        })
        .collect();
    for ack in acks {
        ack.wait().expect("durable");
    }
}

fn config(name: &StreamName) -> ReaderGroupConfig {
    ReaderGroupConfig {
        refresh: Duration::from_millis(50),
        ..ReaderGroupConfig::stream(name.clone())
    }
}

/// What the readers returned, in the order the test got it.
#[derive(Default)]
struct Seen {
    events: Vec<Event>,
    /// Per reader name: how many events it had returned at each checkpoint.
    markers: BTreeMap<String, Vec<(String, usize)>>,
    /// Per reader name: the indexes in `events` of what it returned.
    by_reader: BTreeMap<String, Vec<usize>>,
    /// Retryable errors are expected (the node is restarting) and counted.
    retryable_errors: usize,
    tolerate_retryable: bool,
}

impl Seen {
    /// One non-blocking round over the readers; true if any gave something.
    fn round(&mut self, readers: &mut [EventReader]) -> bool {
        let mut any = false;
        for reader in readers.iter_mut() {
            let read = match reader.read_next_event(Duration::ZERO) {
                Err(error) if self.tolerate_retryable && error.is_retryable() => {
                    self.retryable_errors += 1;
                    continue;
                }
                read => read.expect("reads"),
            };
            match read {
                Some(EventRead::Event(event)) => {
                    let index = self.events.len();
                    self.events.push(event);
                    let name = reader.name().to_owned();
                    self.by_reader.entry(name).or_default().push(index);
                    any = true;
                }
                Some(EventRead::Checkpoint(name)) => {
                    let count = self.events.len();
                    let reader = reader.name().to_owned();
                    self.markers.entry(reader).or_default().push((name, count));
                    any = true;
                }
                None => {}
            }
        }
        any
    }

    /// The payloads each reader returned before its first checkpoint marker.
    fn before_first_markers(&self) -> BTreeSet<Vec<u8>> {
        let mut before = BTreeSet::new();
        for (reader, marks) in &self.markers {
            let count = marks[0].1;
            for &index in &self.by_reader[reader] {
                if index < count {
                    before.insert(self.events[index].payload.clone());
                }
            }
        }
        before
    }

    /// Reads (bounded by a minute) until `done` holds.
    fn drive_until(
        &mut self,
        what: &str,
        readers: &mut [EventReader],
        mut done: impl FnMut(&Seen) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(self) {
            assert!(Instant::now() < deadline, "gave up waiting until {what}");
            if !self.round(readers) {
                thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Reads until the group's owners hold `counts` segments (in any order)
    /// with nothing unassigned.
    fn drive_until_shares(
        &mut self,
        group: &ReaderGroup,
        readers: &mut [EventReader],
        counts: &[usize],
    ) {
        let mut want = counts.to_vec();
        want.sort_unstable();
        let mut rounds = 0u64;
        self.drive_until(&format!("shares {want:?}"), readers, |_| {
            rounds += 1;
            if !rounds.is_multiple_of(10) {
                return false;
            }
            let distribution = group.distribution().expect("distribution");
            let mut have: Vec<usize> = distribution.readers.values().copied().collect();
            have.sort_unstable();
            have == want && distribution.unassigned == 0
        });
    }
}

/// Each key's events were returned exactly once, in the order written.
fn assert_each_key_once_in_order<'a>(events: impl IntoIterator<Item = &'a Event>, total: usize) {
    let mut by_key: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for event in events {
        let text = std::str::from_utf8(&event.payload).expect("utf-8");
        let (key, seq) = text.split_once(':').expect("key:seq");
        by_key
            .entry(key.parse().expect("key"))
            .or_default()
            .push(seq.parse().expect("seq"));
    }
    assert_eq!(by_key.len(), KEYS.min(total));
    for (key, seqs) in &by_key {
        let count = total / KEYS + usize::from(*key < total % KEYS);
        let expected: Vec<usize> = (0..count).collect();
        assert_eq!(seqs, &expected, "key {key}: out of order, twice or missing");
    }
}

#[test]
fn four_readers_share_eight_segments_and_rebalance_without_reading_twice() {
    let node = Node::start("readers-rebalance", 2);
    let client = connect(&node);
    let name = stream(&client, "rg", "eight", StreamConfig::fixed(8));
    let writer = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    write(&writer, 0, 800);

    let group = ReaderGroup::create(&client, "rg", "eight", config(&name)).expect("group");
    let mut readers: Vec<EventReader> = ["r1", "r2", "r3", "r4"]
        .iter()
        .map(|r| group.reader(r).expect("joins"))
        .collect();
    let mut seen = Seen::default();
    seen.drive_until_shares(&group, &mut readers, &[2, 2, 2, 2]);

    // Compacted: readers behind the snapshot start over from it.
    group.compact().expect("compacted");
    let state = reader_group_segment("rg", "eight");
    let InfoOutcome::Found(info) = client.info(&state).wait().expect("info") else {
        panic!("the group's state segment is gone");
    };
    assert!(
        info.start_offset > 0,
        "the history before the snapshot is truncated"
    );

    // One leaves cleanly: the other three take over its two segments.
    write(&writer, 800, 1600);
    readers.pop().expect("r4").close().expect("left");
    seen.drive_until_shares(&group, &mut readers, &[2, 3, 3]);

    // One dies: declared offline at its last position, nothing is lost.
    write(&writer, 1600, 2400);
    let dead = readers.pop().expect("r3");
    let position = dead.position();
    drop(dead);
    group
        .reader_offline("r3", Some(&position))
        .expect("offline");
    seen.drive_until_shares(&group, &mut readers, &[4, 4]);

    // Two join (their state starts at the snapshot): the owners of four
    // each give two up.
    group.compact().expect("compacted");
    for name in ["r5", "r6"] {
        readers.push(group.reader(name).expect("joins"));
    }
    seen.drive_until_shares(&group, &mut readers, &[2, 2, 2, 2]);
    write(&writer, 2400, 3200);
    seen.drive_until("every event is read", &mut readers, |seen| {
        seen.events.len() >= 3200
    });
    // A little longer: nothing more (no event comes twice).
    for _ in 0..50 {
        seen.round(&mut readers);
    }
    assert_each_key_once_in_order(&seen.events, 3200);
    for reader in readers {
        reader.close().expect("left");
    }
}

#[test]
fn readers_keep_each_key_in_order_across_scaling_while_reading() {
    let node = Node::start("readers-scale", 2);
    let client = connect(&node);
    let name = stream(&client, "rg", "scaled", StreamConfig::fixed(2));
    let group = ReaderGroup::create(&client, "rg", "scaled", config(&name)).expect("group");
    let mut readers: Vec<EventReader> = ["a", "b", "c"]
        .iter()
        .map(|r| group.reader(r).expect("joins"))
        .collect();
    let writing = {
        let client = client.clone();
        let name = name.clone();
        thread::spawn(move || {
            let writer =
                EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
            let scaler = {
                let (client, name) = (client.clone(), name.clone());
                thread::spawn(move || scale_while_writing(&client, &name))
            };
            let mut written = 0;
            while !scaler.is_finished() {
                write(&writer, written, written + 50);
                written += 50;
                thread::sleep(Duration::from_millis(5));
            }
            scaler.join().expect("scaled");
            write(&writer, written, written + 500);
            written + 500
        })
    };
    let mut seen = Seen::default();
    seen.drive_until("some events are read", &mut readers, |seen| {
        seen.events.len() >= 300
    });
    // A checkpoint while the stream scales under the readers.
    group.initiate_checkpoint("mid").expect("initiated");
    seen.drive_until("every reader passes the checkpoint", &mut readers, |seen| {
        seen.markers.len() == 3
    });
    seen.drive_until("the writer is done", &mut readers, |_| {
        writing.is_finished()
    });
    let total = writing.join().expect("written");
    seen.drive_until("every event is read", &mut readers, |seen| {
        seen.events.len() >= total
    });
    for _ in 0..50 {
        seen.round(&mut readers);
    }
    assert_each_key_once_in_order(&seen.events, total);

    // Its cut, taken across epochs, starts a group that reads exactly the
    // events after it, each key still in order.
    let checkpoint = group.checkpoint("mid").wait().expect("completed");
    let before = seen.before_first_markers();
    let rest = read_from_cut_to_tail(&client, &name, "scaled-rest", &checkpoint.cuts[0]);
    let mut last_seq: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for event in &rest.events {
        let text = std::str::from_utf8(&event.payload).expect("utf-8");
        let (key, seq) = text.split_once(':').expect("key:seq");
        let seq: usize = seq.parse().expect("seq");
        if let Some(last) = last_seq.insert(key.as_bytes().to_vec(), seq) {
            assert!(last < seq, "key {key}: {seq} after {last}");
        }
    }
    let rest_payloads: BTreeSet<Vec<u8>> = rest.events.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(
        rest_payloads.len(),
        rest.events.len(),
        "an event came twice"
    );
    let all: BTreeSet<Vec<u8>> = seen.events.iter().map(|e| e.payload.clone()).collect();
    let expected: BTreeSet<Vec<u8>> = all.difference(&before).cloned().collect();
    assert_eq!(rest_payloads, expected);
    // Every segment of every epoch was read by someone.
    let info = describe(&client, &name);
    let read: BTreeSet<u64> = seen.events.iter().map(|e| e.segment).collect();
    let all: BTreeSet<u64> = info.description.segments.iter().map(|s| s.number).collect();
    assert_eq!(read, all);
}

/// Everything a new group `group` reads from `start` to the stream's tail
/// now, with one reader.
fn read_from_cut_to_tail(
    client: &Client,
    name: &StreamName,
    group: &str,
    start: &StreamCut,
) -> Seen {
    let tail = client
        .describe_stream(name)
        .wait()
        .expect("call")
        .found("tail")
        .expect("exists")
        .tail_cut();
    let config = ReaderGroupConfig {
        streams: vec![StreamBounds {
            stream: name.clone(),
            start: Some(start.clone()),
            end: Some(tail),
        }],
        refresh: Duration::from_millis(50),
    };
    let group = ReaderGroup::create(client, "rg", group, config).expect("group");
    let mut readers = vec![group.reader("only").expect("joins")];
    let mut seen = Seen::default();
    seen.drive_until("the bounded group finishes", &mut readers, |_| {
        group.is_finished().expect("state")
    });
    for _ in 0..20 {
        seen.round(&mut readers);
    }
    seen
}

#[test]
fn checkpoints_give_cuts_that_restart_readers_and_groups_exactly() {
    let node = Node::start("readers-checkpoint", 2);
    let client = connect(&node);
    let name = stream(&client, "rg", "cp", StreamConfig::fixed(4));
    let writer = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    write(&writer, 0, 1000);
    let group = ReaderGroup::create(&client, "rg", "cp", config(&name)).expect("group");
    let mut readers = vec![
        group.reader("r1").expect("joins"),
        group.reader("r2").expect("joins"),
    ];
    let mut seen = Seen::default();
    seen.drive_until_shares(&group, &mut readers, &[2, 2]);
    seen.drive_until("some events are read", &mut readers, |seen| {
        seen.events.len() >= 200
    });

    group.initiate_checkpoint("c1").expect("initiated");
    seen.drive_until("both readers pass c1", &mut readers, |seen| {
        seen.markers.len() == 2
    });
    let checkpoint = group.checkpoint("c1").wait().expect("completed");
    assert_eq!(checkpoint.cuts.len(), 1);
    // What each reader returned before its own marker is before the cut.
    let before = seen.before_first_markers();

    // r2 reads on, then dies; declared offline without a position it goes
    // back to its checkpoint, so what it read since is read again (by
    // whoever takes its segments), as an application restored from the
    // checkpoint expects.
    write(&writer, 1000, 1500);
    let r2_marker = seen.markers["r2"][0].1;
    let target = seen.events.len() + 100;
    seen.drive_until("some more events", &mut readers, |seen| {
        seen.events.len() >= target
    });
    drop(readers.pop().expect("r2"));
    group.reader_offline("r2", None).expect("offline");
    let lost: BTreeSet<usize> = seen.by_reader["r2"]
        .iter()
        .copied()
        .filter(|&index| index >= r2_marker)
        .collect();
    assert!(!lost.is_empty(), "r2 read nothing after its checkpoint");
    readers.push(group.reader("r2").expect("rejoins"));
    seen.drive_until("every event is read", &mut readers, |seen| {
        seen.events.len() - lost.len() >= 1500
    });
    for _ in 0..50 {
        seen.round(&mut readers);
    }
    let kept: Vec<&Event> = seen
        .events
        .iter()
        .enumerate()
        .filter(|(index, _)| !lost.contains(index))
        .map(|(_, event)| event)
        .collect();
    assert_each_key_once_in_order(kept.iter().copied(), 1500);

    // The checkpoint's cut as the start of a new, bounded group reads
    // exactly what was not before it.
    let rest = read_from_cut_to_tail(&client, &name, "rest", &checkpoint.cuts[0]);
    let rest_payloads: BTreeSet<Vec<u8>> = rest.events.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(
        rest_payloads.len(),
        rest.events.len(),
        "an event came twice"
    );
    let all: BTreeSet<Vec<u8>> = kept.iter().map(|e| e.payload.clone()).collect();
    let expected: BTreeSet<Vec<u8>> = all.difference(&before).cloned().collect();
    assert_eq!(rest_payloads, expected);

    // The first group reset to the checkpoint reads the same rest again.
    group.reset_to_checkpoint(&checkpoint).expect("reset");
    let mut again = Seen::default();
    again.drive_until("the rest is read again", &mut readers, |seen| {
        seen.events.len() >= expected.len()
    });
    for _ in 0..50 {
        again.round(&mut readers);
    }
    let again_payloads: Vec<Vec<u8>> = again.events.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(again_payloads.len(), expected.len(), "an event came twice");
    assert_eq!(
        again_payloads.into_iter().collect::<BTreeSet<_>>(),
        expected
    );
}

#[test]
fn a_bounded_group_over_two_streams_reads_each_up_to_its_end_cut() {
    let node = Node::start("readers-bounded", 2);
    let client = connect(&node);
    let mut bounds = Vec::new();
    for (name, segments) in [("left", 2), ("right", 3)] {
        let name = stream(&client, "rg", name, StreamConfig::fixed(segments));
        let writer =
            EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
        write(&writer, 0, 640);
        let end = describe(&client, &name).tail_cut();
        // Written after the end cut: never read.
        write(&writer, 640, 700);
        bounds.push(StreamBounds {
            stream: name,
            start: None,
            end: Some(end),
        });
    }
    let config = ReaderGroupConfig {
        streams: bounds,
        refresh: Duration::from_millis(50),
    };
    let group = ReaderGroup::create(&client, "rg", "bounded", config.clone()).expect("group");
    let mut readers = vec![
        group.reader("x").expect("joins"),
        group.reader("y").expect("joins"),
    ];
    let mut seen = Seen::default();
    seen.drive_until(
        "both streams are read to their end cuts",
        &mut readers,
        |_| group.is_finished().expect("state"),
    );
    for _ in 0..20 {
        seen.round(&mut readers);
    }
    for stream in ["left", "right"] {
        let events = seen.events.iter().filter(|e| e.stream.stream == stream);
        assert_each_key_once_in_order(events, 640);
    }

    // Deleted and made again, the group starts over with no readers.
    group.delete().expect("deleted");
    let again = ReaderGroup::create(&client, "rg", "bounded", config).expect("group");
    let distribution = again.distribution().expect("distribution");
    assert!(distribution.readers.is_empty());
    assert!(!again.is_finished().expect("state"));
}

#[test]
fn a_group_survives_a_node_restart_and_reads_on_exactly_once() {
    let listen = format!("127.0.0.1:{}", free_ports(2));
    let node = Node::start_listening("readers-restart", 2, &listen);
    let client = connect(&node);
    let name = stream(&client, "rg", "restart", StreamConfig::fixed(4));
    let writer = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    write(&writer, 0, 400);
    let group = ReaderGroup::create(&client, "rg", "restart", config(&name)).expect("group");
    let mut readers = vec![
        group.reader("r1").expect("joins"),
        group.reader("r2").expect("joins"),
    ];
    let mut seen = Seen::default();
    seen.drive_until_shares(&group, &mut readers, &[2, 2]);
    seen.drive_until("some events are read", &mut readers, |seen| {
        seen.events.len() >= 100
    });

    // The group's state is an ordinary durable segment: after a kill the
    // readers reconnect and go on where they were.
    let _node = node.kill_and_restart();
    seen.tolerate_retryable = true;
    write(&writer, 400, 800);
    seen.drive_until("every event is read", &mut readers, |seen| {
        seen.events.len() >= 800
    });
    for _ in 0..50 {
        seen.round(&mut readers);
    }
    assert_each_key_once_in_order(&seen.events, 800);
    let distribution = group.distribution().expect("distribution");
    assert_eq!(distribution.readers.values().sum::<usize>(), 4);
}
