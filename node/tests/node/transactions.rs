//! Transactions through the client against a real node: a commit brings
//! every event into the stream whole and an abort none; leases run out
//! unless kept alive; a commit survives a node restart and a scale made
//! while the transaction was open; commit and abort are idempotent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use spate_client::{
    Client, EventWriter, EventWriterOptions, StatusCode, StreamName, StreamOutcome, Transaction,
    TxnOutcome, TxnStatus, read_stream,
};
use spate_wire::stream::{StreamConfig, split_evenly};
use spate_wire::{AbortTxn, CommitTxn, Reply, Request, TxnState};

use crate::streams::{connect, describe, stream};
use crate::support::{Conn, Node, free_ports};

const KEYS: usize = 24;
/// Long enough that no test depends on how fast it runs.
const LONG_LEASE: Duration = Duration::from_secs(120);

/// An event that says what it is and lets a reader check it came whole:
/// `tag/key/seq/` then `seq % 37` filler bytes.
fn payload(tag: &str, key: usize, seq: usize) -> Vec<u8> {
    let mut bytes = format!("{tag}/{key}/{seq}/").into_bytes();
    bytes.resize(bytes.len() + seq % 37, b'x');
    bytes
}

/// An event read back: its tag, key, number and segment.
#[derive(Debug)]
struct Seen {
    tag: String,
    key: usize,
    seq: usize,
    segment: u64,
}

/// Every event of the stream, in read order (each key's events in order),
/// each checked whole.
fn read_all(client: &Client, name: &StreamName) -> Vec<Seen> {
    read_stream(client, name)
        .expect("reads")
        .into_iter()
        .map(|event| {
            let text = String::from_utf8(event.payload).expect("utf-8");
            let mut parts = text.splitn(4, '/');
            let mut next = || parts.next().expect("tag/key/seq/filler");
            let (tag, key, seq, filler) = (next(), next(), next(), next());
            let (key, seq): (usize, usize) = (key.parse().expect("key"), seq.parse().expect("seq"));
            assert_eq!(filler.len(), seq % 37, "{tag}/{key}/{seq} came whole");
            Seen {
                tag: tag.to_string(),
                key,
                seq,
                segment: event.segment,
            }
        })
        .collect()
}

/// Each key's numbers among the events tagged `tag`, in read order.
fn by_key(seen: &[Seen], tag: &str) -> BTreeMap<usize, Vec<usize>> {
    let mut keys: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for event in seen.iter().filter(|e| e.tag == tag) {
        keys.entry(event.key).or_default().push(event.seq);
    }
    keys
}

/// The events tagged `tag` are exactly `per_key` per key over `keys` keys,
/// each once, each key's in the order written.
fn assert_exactly(seen: &[Seen], tag: &str, keys: usize, per_key: usize) {
    let got = by_key(seen, tag);
    let want: BTreeMap<usize, Vec<usize>> =
        (0..keys).map(|k| (k, (0..per_key).collect())).collect();
    assert!(
        got == want,
        "{tag}: every event once, each key in order; got {got:?}"
    );
}

/// Each key's keyed events, read in order, are these runs of tags and
/// lengths (unkeyed events aside).
fn assert_layers(seen: &[Seen], layers: &[(&str, usize)]) {
    let want: Vec<&str> = layers
        .iter()
        .flat_map(|&(tag, n)| std::iter::repeat_n(tag, n))
        .collect();
    for key in 0..KEYS {
        let got: Vec<&str> = seen
            .iter()
            .filter(|e| e.key == key && e.tag != "loose")
            .map(|e| e.tag.as_str())
            .collect();
        assert_eq!(got, want, "key {key}");
    }
}

fn count(seen: &[Seen], tag: &str) -> usize {
    seen.iter().filter(|e| e.tag == tag).count()
}

/// Writes `per_key` events per key (round-robin over the keys) into the
/// transaction, numbered from `from`.
fn write_txn(txn: &Transaction, tag: &str, from: usize, per_key: usize) {
    for seq in from..from + per_key {
        for key in 0..KEYS {
            txn.write_event(Some(&key.to_le_bytes()), &payload(tag, key, seq))
                .expect("queued");
        }
    }
}

/// Writes `per_key` events per key through an event writer, and waits for
/// them.
fn write_outside(writer: &EventWriter, tag: &str, from: usize, per_key: usize) {
    let acks: Vec<_> = (from..from + per_key)
        .flat_map(|seq| (0..KEYS).map(move |key| (key, seq)))
        .map(|(key, seq)| writer.write_event(Some(&key.to_le_bytes()), &payload(tag, key, seq)))
        .collect();
    for ack in acks {
        ack.wait().expect("durable");
    }
}

fn state(client: &Client, name: &StreamName, id: u64) -> TxnStatus {
    client
        .transaction_state(name, id)
        .wait()
        .expect("call")
        .found("stream")
        .expect("the stream exists")
}

/// A raw transaction request's answer, for repeating what the client API
/// does only once.
fn raw_status(conn: &mut Conn, request: Request) -> TxnStatus {
    match conn.call(request) {
        Reply::TxnState(TxnState { status, .. }) => status,
        other => panic!("answered {other:?}"),
    }
}

fn raw_commit(name: &StreamName, id: u64) -> Request {
    Request::CommitTxn(CommitTxn {
        scope: name.scope.clone(),
        stream: name.stream.clone(),
        id,
    })
}

fn raw_abort(name: &StreamName, id: u64) -> Request {
    Request::AbortTxn(AbortTxn {
        scope: name.scope.clone(),
        stream: name.stream.clone(),
        id,
    })
}

#[test]
fn a_committed_transaction_joins_the_stream_whole() {
    let node = Node::start("txn-commit", 2);
    let client = connect(&node);
    let name = stream(&client, "txn", "commit", StreamConfig::fixed(3));
    let outside = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    write_outside(&outside, "before", 0, 5);

    let txn = client.begin_transaction(&name, LONG_LEASE).expect("begins");
    assert_eq!(txn.stream(), &name);
    write_txn(&txn, "txn", 0, 20);
    for seq in 0..60 {
        txn.write_event(None, &payload("loose", 0, seq))
            .expect("queued");
    }
    let too_big = vec![0u8; txn.max_event_bytes() + 1];
    let refused = txn.write_event(Some(b"k"), &too_big).expect_err("too big");
    assert_eq!(refused.status(), Some(StatusCode::EventTooLarge));
    txn.flush().expect("durable in the transaction");
    write_outside(&outside, "during", 0, 5);

    let before = read_all(&client, &name);
    assert_eq!(
        count(&before, "txn") + count(&before, "loose"),
        0,
        "invisible until committed"
    );
    assert_exactly(&before, "during", KEYS, 5);
    assert_eq!(txn.state().expect("state"), TxnStatus::Open);

    let id = txn.id();
    assert_eq!(txn.commit().expect("commits"), TxnOutcome::Committed);
    assert_eq!(state(&client, &name, id), TxnStatus::Committed);
    write_outside(&outside, "after", 0, 5);

    let seen = read_all(&client, &name);
    assert_exactly(&seen, "txn", KEYS, 20);
    // Unkeyed events have no order to keep: each is there once.
    let mut loose: Vec<usize> = by_key(&seen, "loose").remove(&0).unwrap_or_default();
    loose.sort_unstable();
    assert_eq!(loose, (0..60).collect::<Vec<_>>());
    let loose_segments: BTreeSet<u64> = seen
        .iter()
        .filter(|e| e.tag == "loose")
        .map(|e| e.segment)
        .collect();
    assert!(
        loose_segments.len() >= 2,
        "unkeyed events spread: {loose_segments:?}"
    );
    let keyed_segments: BTreeSet<u64> = seen
        .iter()
        .filter(|e| e.tag == "txn")
        .map(|e| e.segment)
        .collect();
    assert!(keyed_segments.len() >= 2, "{keyed_segments:?}");
    for tag in ["before", "during", "after"] {
        assert_exactly(&seen, tag, KEYS, 5);
    }
    // Per key, the commit lands after everything written before it.
    assert_layers(
        &seen,
        &[("before", 5), ("during", 5), ("txn", 20), ("after", 5)],
    );
}

#[test]
fn an_aborted_transaction_never_appears() {
    let node = Node::start("txn-abort", 2);
    let client = connect(&node);
    let name = stream(&client, "txn", "abort", StreamConfig::fixed(2));
    let outside = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");

    let txn = client.begin_transaction(&name, LONG_LEASE).expect("begins");
    write_txn(&txn, "dropped", 0, 10);
    txn.flush().expect("durable in the transaction");
    let id = txn.id();
    assert_eq!(txn.abort().expect("aborts"), TxnOutcome::Aborted);
    assert_eq!(state(&client, &name, id), TxnStatus::Aborted);

    // Aborted by someone else under a writer: its next flush says how it
    // ended, and so does every call after.
    let ended = client.begin_transaction(&name, LONG_LEASE).expect("begins");
    write_txn(&ended, "ended", 0, 2);
    ended.flush().expect("durable in the transaction");
    let mut conn = Conn::open(node.cores[0]);
    assert_eq!(
        raw_status(&mut conn, raw_abort(&name, ended.id())),
        TxnStatus::Aborted
    );
    // The first write may be queued before the refusal comes back.
    let _ = ended.write_event(Some(&0usize.to_le_bytes()), &payload("ended", 0, 2));
    let error = ended.flush().expect_err("the transaction ended");
    assert!(
        error.reason().contains("ended") && error.reason().contains("aborted"),
        "{error}"
    );
    assert!(
        matches!(
            error.status(),
            Some(StatusCode::NoSuchSegment | StatusCode::SegmentSealed)
        ),
        "{error:?}"
    );
    let again = ended
        .write_event(Some(b"k"), &payload("ended", 0, 3))
        .expect_err("ended");
    assert_eq!(again, error, "every later call says the same");
    assert_eq!(ended.ping().expect("answers"), TxnStatus::Aborted);
    assert_eq!(ended.commit().expect("an outcome"), TxnOutcome::Aborted);

    write_outside(&outside, "outside", 0, 3);
    let seen = read_all(&client, &name);
    assert_eq!(count(&seen, "dropped") + count(&seen, "ended"), 0);
    assert_exactly(&seen, "outside", KEYS, 3);
}

#[test]
fn a_lease_runs_out_unless_the_transaction_is_kept_alive() {
    let node = Node::start("txn-lease", 2);
    let client = connect(&node);
    let name = stream(&client, "txn", "lease", StreamConfig::fixed(2));
    let lease = Duration::from_millis(300);

    // Left alone past its lease: the commit answers Aborted.
    let expired = client.begin_transaction(&name, lease).expect("begins");
    assert_eq!(expired.lease(), lease);
    write_txn(&expired, "expired", 0, 2);
    expired.flush().expect("durable in the transaction");
    std::thread::sleep(lease * 4);
    assert_eq!(expired.commit().expect("an outcome"), TxnOutcome::Aborted);

    // A ping finds it over; then writes say so.
    let pinged_late = client.begin_transaction(&name, lease).expect("begins");
    write_txn(&pinged_late, "late", 0, 1);
    std::thread::sleep(lease * 4);
    assert_eq!(pinged_late.ping().expect("answers"), TxnStatus::Aborted);
    let error = pinged_late
        .write_event(Some(b"k"), &payload("late", 0, 1))
        .expect_err("over");
    assert!(error.reason().contains("aborted"), "{error}");
    assert!(pinged_late.flush().is_err());
    assert_eq!(
        pinged_late.commit().expect("an outcome"),
        TxnOutcome::Aborted
    );

    // Kept alive past several leases: by its writes (which ping on their
    // own), then by explicit pings. The lease is long enough that a slow
    // machine does not lose it between two pings.
    let lease = Duration::from_millis(1500);
    let alive = client.begin_transaction(&name, lease).expect("begins");
    let start = Instant::now();
    let mut seq = 0;
    while start.elapsed() < lease * 2 {
        write_txn(&alive, "alive", seq, 1);
        seq += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    alive.flush().expect("durable in the transaction");
    let idle = Instant::now();
    while idle.elapsed() < lease * 2 {
        assert_eq!(alive.ping().expect("answers"), TxnStatus::Open);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(alive.commit().expect("commits"), TxnOutcome::Committed);

    let seen = read_all(&client, &name);
    assert_eq!(count(&seen, "expired") + count(&seen, "late"), 0);
    assert_exactly(&seen, "alive", KEYS, seq);
}

#[test]
fn a_transaction_commits_after_a_node_restart() {
    let listen = format!("127.0.0.1:{}", free_ports(2));
    let node = Node::start_listening("txn-restart", 2, &listen);
    let client = connect(&node);
    let name = stream(&client, "txn", "restart", StreamConfig::fixed(2));
    let txn = client.begin_transaction(&name, LONG_LEASE).expect("begins");
    write_txn(&txn, "restart", 0, 10);
    txn.flush().expect("durable in the transaction");
    // More on the way when the node dies: the segment writers resend them.
    write_txn(&txn, "restart", 10, 10);
    let addr = node.cores[0];
    let node = node.kill_and_restart();
    assert_eq!(
        node.cores[0], addr,
        "the node came back on the same address"
    );
    let id = txn.id();
    assert_eq!(txn.commit().expect("commits"), TxnOutcome::Committed);
    assert_eq!(state(&client, &name, id), TxnStatus::Committed);
    let seen = read_all(&client, &name);
    assert_exactly(&seen, "restart", KEYS, 20);
}

#[test]
fn a_scale_while_the_transaction_is_open_keeps_every_key_in_order() {
    let node = Node::start("txn-scale", 2);
    let client = connect(&node);
    let name = stream(&client, "txn", "scale", StreamConfig::fixed(2));
    let outside = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    write_outside(&outside, "outside", 0, 4);

    let txn = client.begin_transaction(&name, LONG_LEASE).expect("begins");
    write_txn(&txn, "txn", 0, 15);
    let info = describe(&client, &name);
    let first = info.current_segments()[0].clone();
    let halves = split_evenly(first.range, 2).expect("splits");
    client
        .scale_stream(&name, vec![first.number], halves)
        .wait()
        .expect("scaled")
        .found("stream")
        .expect("exists");
    write_outside(&outside, "outside", 4, 4);
    write_txn(&txn, "txn", 15, 15);
    let id = txn.id();
    assert_eq!(txn.commit().expect("commits"), TxnOutcome::Committed);
    assert_eq!(state(&client, &name, id), TxnStatus::Committed);
    // The event writer goes on over whatever the commit left current.
    write_outside(&outside, "outside", 8, 4);

    let seen = read_all(&client, &name);
    assert_exactly(&seen, "txn", KEYS, 30);
    assert_exactly(&seen, "outside", KEYS, 12);
    // Per key: the outside events written before the commit, then the
    // transaction's, then the outside ones written after it.
    assert_layers(&seen, &[("outside", 8), ("txn", 30), ("outside", 4)]);
}

#[test]
fn commit_and_abort_are_idempotent_and_say_where_a_transaction_is() {
    let node = Node::start("txn-states", 1);
    let client = connect(&node);
    let name = stream(&client, "txn", "states", StreamConfig::fixed(2));
    let mut conn = Conn::open(node.cores[0]);

    let committed = client.begin_transaction(&name, LONG_LEASE).expect("begins");
    write_txn(&committed, "once", 0, 2);
    let committed_id = committed.id();
    assert_eq!(committed.state().expect("state"), TxnStatus::Open);
    assert_eq!(committed.commit().expect("commits"), TxnOutcome::Committed);
    assert_eq!(state(&client, &name, committed_id), TxnStatus::Committed);
    assert_eq!(
        raw_status(&mut conn, raw_commit(&name, committed_id)),
        TxnStatus::Committed,
        "a second commit answers the same"
    );
    assert_eq!(
        raw_status(&mut conn, raw_abort(&name, committed_id)),
        TxnStatus::Committed,
        "an abort after the commit changes nothing"
    );

    let aborted = client.begin_transaction(&name, LONG_LEASE).expect("begins");
    write_txn(&aborted, "never", 0, 2);
    let aborted_id = aborted.id();
    assert_ne!(aborted_id, committed_id);
    assert_eq!(aborted.abort().expect("aborts"), TxnOutcome::Aborted);
    assert_eq!(state(&client, &name, aborted_id), TxnStatus::Aborted);
    assert_eq!(
        raw_status(&mut conn, raw_abort(&name, aborted_id)),
        TxnStatus::Aborted
    );
    assert_eq!(
        raw_status(&mut conn, raw_commit(&name, aborted_id)),
        TxnStatus::Aborted,
        "a commit after the abort changes nothing"
    );

    assert_eq!(state(&client, &name, 999_999), TxnStatus::Unknown);
    let missing = StreamName::new("txn", "missing").expect("valid");
    assert_eq!(
        client.transaction_state(&missing, 1).wait().expect("call"),
        StreamOutcome::NoSuchStream
    );
    let refused = client
        .begin_transaction(&missing, LONG_LEASE)
        .expect_err("no stream");
    assert!(refused.reason().contains("no such stream"), "{refused}");
    let refused = client
        .begin_transaction(&name, Duration::from_millis(1))
        .expect_err("lease too short");
    assert!(refused.reason().contains("lease"), "{refused}");

    let seen = read_all(&client, &name);
    assert_exactly(&seen, "once", KEYS, 2);
    assert_eq!(count(&seen, "never"), 0);

    client
        .seal_stream(&name)
        .wait()
        .expect("seal")
        .found("stream")
        .expect("exists");
    let refused = client
        .begin_transaction(&name, LONG_LEASE)
        .expect_err("sealed");
    assert_eq!(refused.status(), Some(StatusCode::StreamStateConflict));
}
