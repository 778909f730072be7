//! Routing keys against a real node: each key's events are read in the
//! order written across splits and merges made while writing, and a named
//! writer killed mid-stream and re-run writes every event exactly once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use spate_client::{
    Client, ClientOptions, EventWriter, EventWriterOptions, StreamName, read_stream,
};
use spate_wire::stream::{KeyRange, StreamConfig, split_evenly};

use crate::streams::{connect, describe, stream};
use crate::support::Node;

const KEYS: usize = 64;

fn payload(key: usize, seq: usize) -> Vec<u8> {
    format!("{key}:{seq}").into_bytes()
}

/// How many of `events` (written round-robin over the keys) `key` got.
fn events_of(key: usize, events: usize) -> usize {
    events / KEYS + usize::from(key < events % KEYS)
}

/// Each key's sequence numbers, in the order the stream returns them.
fn sequences(client: &Client, name: &StreamName) -> BTreeMap<usize, Vec<usize>> {
    let mut by_key: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for event in read_stream(client, name).expect("reads") {
        let text = String::from_utf8(event.payload).expect("utf-8");
        let (key, seq) = text.split_once(':').expect("key:seq");
        by_key
            .entry(key.parse().expect("key"))
            .or_default()
            .push(seq.parse().expect("seq"));
    }
    by_key
}

#[test]
fn each_key_keeps_its_order_across_splits_and_merges() {
    let node = Node::start("streams-order", 2);
    let client = connect(&node);
    let name = stream(&client, "order", "keyed", StreamConfig::fixed(2));
    let writer = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    let scaler = {
        let (client, name) = (client.clone(), name.clone());
        std::thread::spawn(move || scale_while_writing(&client, &name))
    };
    // Write until the scaler is done, and as much again after.
    let mut acks = Vec::new();
    let mut i = 0;
    let mut after = None;
    while after.is_none_or(|end| i < end) {
        let key = i % KEYS;
        acks.push(writer.write_event(Some(&key.to_le_bytes()), &payload(key, i / KEYS)));
        i += 1;
        if i % 100 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        if after.is_none() && scaler.is_finished() {
            after = Some(2 * i);
        }
    }
    let events = i;
    for ack in acks {
        ack.wait().expect("durable");
    }
    let epochs = scaler.join().expect("scaler");
    writer.close().expect("closed");

    let by_key = sequences(&client, &name);
    assert_eq!(by_key.len(), KEYS);
    for (key, seqs) in &by_key {
        let expected: Vec<usize> = (0..events_of(*key, events)).collect();
        assert_eq!(
            seqs, &expected,
            "key {key} out of order, duplicated or missing"
        );
    }
    // The scales happened while events were flowing: sealed segments and
    // their successors both hold events.
    let info = describe(&client, &name);
    assert_eq!(info.description.epoch, epochs);
    for segment in &info.description.segments {
        assert!(
            segment.length > 0,
            "segment {} got no events",
            segment.number
        );
    }
}

/// Picks what one scale seals and the ranges it creates.
type ScaleStep = fn(&spate_client::StreamInfo) -> (Vec<u64>, Vec<KeyRange>);

/// Splits both first segments, then merges the two halves of the first:
/// three epochs, while the writer writes.
pub fn scale_while_writing(client: &Client, name: &StreamName) -> u32 {
    let mut epoch = 0;
    let plan: [ScaleStep; 3] = [
        |info| split(info, 0),
        |info| split(info, 1),
        |info| {
            let halves: Vec<u64> = info.successors(0).iter().map(|s| s.number).collect();
            let range = KeyRange {
                start: info.segment(halves[0]).expect("half").range.start,
                end: info.segment(halves[1]).expect("half").range.end,
            };
            (halves, vec![range])
        },
    ];
    for step in plan {
        std::thread::sleep(Duration::from_millis(250));
        let info = client
            .describe_stream(name)
            .wait()
            .expect("call")
            .found("s")
            .expect("exists");
        let (seal, ranges) = step(&info);
        let scaled = client
            .scale_stream(name, seal, ranges)
            .wait()
            .expect("scaled");
        epoch = scaled.found("s").expect("exists").epoch;
    }
    epoch
}

fn split(info: &spate_client::StreamInfo, number: u64) -> (Vec<u64>, Vec<KeyRange>) {
    let range = info.segment(number).expect("segment").range;
    (vec![number], split_evenly(range, 2).expect("splits"))
}

const CHILD_ENV: &str = "SPATE_TEST_EVENT_WRITER_CHILD";
const ONCE_EVENTS: usize = 20_000;

/// Not a test of its own: the writer process `a_named_writer_resends_after_a_kill_exactly_once`
/// starts and kills. Without the environment variable it does nothing.
#[test]
fn event_writer_child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (addr, stream) = spec.split_once('|').expect("ADDR|SCOPE/STREAM");
    let client = Client::connect(addr, ClientOptions::default()).expect("connects");
    let name: StreamName = stream.parse().expect("stream name");
    write_all(&client, &name, |i| println!("acked {i}"));
}

/// Writes events 0..ONCE_EVENTS as the named writer "ingest", keyed.
fn write_all(client: &Client, name: &StreamName, mut acked: impl FnMut(usize)) {
    let options = EventWriterOptions {
        name: Some("ingest".into()),
    };
    let writer = EventWriter::open(client, name, options).expect("writer");
    let mut acks = std::collections::VecDeque::new();
    for i in 0..ONCE_EVENTS {
        let key = i % KEYS;
        acks.push_back((
            i,
            writer.write_event(Some(&key.to_le_bytes()), &payload(key, i / KEYS)),
        ));
        while acks.len() > 256 {
            let (i, ack) = acks.pop_front().expect("queued");
            ack.wait().expect("durable");
            acked(i);
        }
    }
    for (i, ack) in acks {
        ack.wait().expect("durable");
        acked(i);
    }
    writer.close().expect("closed");
}

#[test]
fn a_named_writer_resends_after_a_kill_exactly_once() {
    let node = Node::start("streams-once", 2);
    let client = connect(&node);
    let name = stream(&client, "once", "ingest", StreamConfig::fixed(4));
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "streams_keys::event_writer_child_process",
            "--nocapture",
        ])
        .env(CHILD_ENV, format!("{}|{name}", node.cores[0]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("piped");
    let mut acked = 0;
    for line in BufReader::new(stdout).lines() {
        if line.expect("a line").starts_with("acked ") {
            acked += 1;
            if acked == ONCE_EVENTS / 4 {
                break;
            }
        }
    }
    child.kill().expect("killed mid-stream");
    child.wait().expect("reaped");
    assert_eq!(
        acked,
        ONCE_EVENTS / 4,
        "the child wrote before it was killed"
    );

    // The application starts again and re-sends everything from the start.
    write_all(&client, &name, |_| {});
    let by_key = sequences(&client, &name);
    assert_eq!(by_key.len(), KEYS);
    for (key, seqs) in &by_key {
        let expected: Vec<usize> =
            (0..ONCE_EVENTS / KEYS + usize::from(*key < ONCE_EVENTS % KEYS)).collect();
        assert_eq!(seqs, &expected, "key {key}: duplicates, gaps or disorder");
    }
}
