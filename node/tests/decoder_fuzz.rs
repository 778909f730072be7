//! A bounded fuzz run in `cargo test` of what the node decodes from disk and
//! the network: container journal records (replay), metadata checkpoints
//! (restore), stream metadata logs (decode, replay), and every wire message
//! body (framed, validated, round-tripped).
//!
//! The entry points are the coverage-guided targets' own (`fuzz/src`, run by
//! `ci/fuzz`), included here so both check the same properties. Inputs are
//! real records, checkpoints and messages with random damage, then the saved
//! corpus of each target. `SPATE_FUZZ_CASES=N` runs more cases;
//! `SPATE_FUZZ_SEED_CORPUS=1` writes fresh seeds into `fuzz/corpus/`.

#[path = "../../fuzz/src/node_checkpoint.rs"]
mod node_checkpoint;
#[path = "../../fuzz/src/node_common.rs"]
mod node_common;
#[path = "../../fuzz/src/node_records.rs"]
mod node_records;
#[path = "../../fuzz/src/node_stream_log.rs"]
mod node_stream_log;
#[path = "../../fuzz/src/wire_messages.rs"]
mod wire_messages;

use std::path::{Path, PathBuf};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_journal::RecordLocation;
use spate_node::container::{Container, Execution, encode_checkpoint};
use spate_wire::fuzz::{sample_replies, sample_requests};
use spate_wire::{
    Append, AppendBatch, AttributeCondition, BatchEvent, ConditionalAppend, CreateSegment, Delete,
    Encode, FrameEncoder, HEADER_LEN, Merge, Request, Seal, Truncate, UpdateAttribute,
};

const DEFAULT_CASES: u64 = 1500;

fn cases() -> u64 {
    std::env::var("SPATE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

#[test]
fn container_records_survive_damage() {
    let mut rng = SmallRng::seed_from_u64(0x5EC0);
    let cases = cases();
    for case in 0..cases {
        let (records, _) = workload(case);
        let mut input = node_records::input(&records);
        mutate(&mut rng, &mut input);
        node_records::replay_records(&input);
    }
    let corpus = replay_corpus("node_records", node_records::replay_records);
    println!("node records fuzz: {cases} generated cases and {corpus} corpus files, no panic");
}

#[test]
fn checkpoints_survive_damage() {
    let mut rng = SmallRng::seed_from_u64(0xC4EC);
    let cases = cases();
    for case in 0..cases {
        let (_, mut checkpoint) = workload(case);
        mutate(&mut rng, &mut checkpoint);
        node_checkpoint::restore_checkpoint(&checkpoint);
    }
    let corpus = replay_corpus("node_checkpoint", node_checkpoint::restore_checkpoint);
    println!("node checkpoint fuzz: {cases} generated cases and {corpus} corpus files, no panic");
}

#[test]
fn stream_logs_survive_damage() {
    // The hand-built seeds (`seed-*`; the fuzzer adds inputs of its own,
    // valid or not) are whole, valid logs: they decode, and so replay.
    let seeds: Vec<Vec<u8>> = std::fs::read_dir(corpus_dir("node_stream_log"))
        .expect("the saved corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .map(|p| std::fs::read(p).expect("seed"))
        .collect();
    assert!(seeds.len() >= 5, "the stream log corpus has its seeds");
    for seed in &seeds {
        assert!(spate_node::controller::decode_log(seed).is_ok());
    }
    let mut rng = SmallRng::seed_from_u64(11);
    let cases = cases();
    for i in 0..cases {
        let mut bytes = seeds[i as usize % seeds.len()].clone();
        mutate(&mut rng, &mut bytes);
        node_stream_log::replay_log(&bytes);
    }
    let corpus = replay_corpus("node_stream_log", node_stream_log::replay_log);
    println!("stream log fuzz: {cases} generated cases and {corpus} corpus files, no panic");
}

#[test]
fn message_bodies_survive_damage() {
    let mut rng = SmallRng::seed_from_u64(0xB0D1);
    let seeds = message_seeds();
    let cases = cases() * 4;
    for case in 0..cases {
        let mut input = seeds[case as usize % seeds.len()].clone();
        // Keep the type byte: damage the body of a known type.
        let mut body = input.split_off(1);
        mutate(&mut rng, &mut body);
        input.extend_from_slice(&body);
        wire_messages::decode_message(&input);
    }
    let corpus = replay_corpus("wire_messages", wire_messages::decode_message);
    println!("wire message fuzz: {cases} generated cases and {corpus} corpus files, no panic");
}

/// `SPATE_FUZZ_SEED_CORPUS=1` writes real records, checkpoints and message
/// bodies into the corpus directories, as starting points for `ci/fuzz`.
#[test]
fn seed_the_fuzz_corpus_on_request() {
    if std::env::var_os("SPATE_FUZZ_SEED_CORPUS").is_none() {
        return;
    }
    for seed in 0..8 {
        let (records, checkpoint) = workload(seed);
        write_seed("node_records", seed, &node_records::input(&records));
        write_seed("node_checkpoint", seed, &checkpoint);
    }
    for (i, input) in message_seeds().iter().enumerate() {
        write_seed("wire_messages", i as u64, input);
    }
}

/// A random workload on two containers: the journal records it wrote, in
/// order, and the checkpoint of both containers at its end.
fn workload(seed: u64) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut containers = [
        Container::new(0, node_common::limits()),
        Container::new(1, node_common::limits()),
    ];
    // A segment and its transaction live in one container, as
    // `container_for` places them; the third segment in the other.
    let names = [("s/a/0", 0), ("s/a/0#t", 0), ("s/b/1", 1)];
    let mut records = Vec::new();
    for step in 0..rng.random_range(1..60) {
        let (name, owner) = names[rng.random_range(0..names.len())];
        let request = random_request(&mut rng, name.to_string(), step);
        let container = &mut containers[owner];
        if let Execution::Journal { record, seq, .. } = container.execute(request, 1_000 + step) {
            let lsn = records.len() as u64 + 1;
            let location = RecordLocation {
                lsn,
                file_seq: 1,
                offset: lsn * 4096,
            };
            let len = u32::try_from(record.len()).expect("small records");
            container.journaled(seq, location, len);
            container.mark_durable(seq);
            records.push(record);
        }
    }
    let snapshots: Vec<_> = containers
        .iter()
        .map(|c| c.snapshot().expect("every record has a location"))
        .collect();
    (records, encode_checkpoint(&snapshots))
}

fn random_request(rng: &mut SmallRng, segment: String, step: u64) -> Request {
    let payload = |rng: &mut SmallRng| vec![step as u8; rng.random_range(0..300)];
    let event = step as i64;
    match rng.random_range(0..10) {
        0 | 1 => CreateSegment { segment }.into(),
        2 | 3 => Append {
            segment,
            writer_id: rng.random_range(1..4),
            event_number: event,
            payload: payload(rng),
        }
        .into(),
        4 => AppendBatch {
            segment,
            writer_id: 9,
            events: (0..rng.random_range(1..4))
                .map(|i| BatchEvent {
                    event_number: event * 4 + i,
                    payload: payload(rng),
                })
                .collect(),
        }
        .into(),
        5 => ConditionalAppend {
            segment,
            writer_id: 5,
            event_number: event,
            expected_offset: rng.random_range(0..600),
            payload: payload(rng),
        }
        .into(),
        6 => Seal { segment }.into(),
        7 => Truncate {
            segment,
            start_offset: rng.random_range(0..400),
        }
        .into(),
        8 => Merge {
            target: "s/a/0".into(),
            source: segment,
        }
        .into(),
        _ if rng.random_bool(0.5) => Delete { segment }.into(),
        _ => UpdateAttribute {
            segment,
            key: rng.random_range(0..3),
            value: rng.random(),
            condition: AttributeCondition::Always,
        }
        .into(),
    }
}

/// Every sample message as a `wire_messages` input: its type and its body.
fn message_seeds() -> Vec<Vec<u8>> {
    let requests = sample_requests().into_iter().map(|m| body_input(&m));
    let replies = sample_replies().into_iter().map(|m| body_input(&m));
    requests.chain(replies).collect()
}

fn body_input<M: Encode>(message: &M) -> Vec<u8> {
    let mut frame = Vec::new();
    FrameEncoder::new(spate_wire::DEFAULT_MAX_FRAME_BYTES)
        .encode(message, 0, &mut frame)
        .expect("a sample encodes");
    wire_messages::input(message.message_type(), &frame[HEADER_LEN..])
}

/// Random damage: flipped bits, random bytes, a cut, zeroed runs.
fn mutate(rng: &mut SmallRng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..6) {
        if bytes.is_empty() {
            return;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes[at] = rng.random(),
            2 => bytes.truncate(at),
            _ => {
                let end = (at + rng.random_range(1..40)).min(bytes.len());
                bytes[at..end].fill(0);
            }
        }
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn replay_corpus(target: &str, run: impl Fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries.flatten() {
        if let Ok(bytes) = std::fs::read(entry.path()) {
            run(&bytes);
            count += 1;
        }
    }
    count
}

fn write_seed(target: &str, seed: u64, bytes: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(format!("seed-{seed}")), bytes).expect("write seed");
}
