//! Transactions at the wire, against a real node: the controller's side
//! (begin, merge, roll, crash in the middle of a commit, lease expiry) and
//! the compaction of a stream log that many transactions made long. The
//! client library's `Transaction` is tested in `transactions.rs`.

use spate_client::{InfoOutcome, StreamName};
use spate_wire::stream::{StreamConfig, segment_name, split_evenly};
use spate_wire::*;

use crate::streams::{connect, describe, eventually, stream};
use crate::support::{Conn, Extra, Node};

/// A node that exits (code 86, debug builds) right after a commit's intent
/// is durable.
fn crash_after_commit_intent() -> Extra {
    Extra {
        args: vec![],
        env: vec![(
            "SPATE_CONTROLLER_CRASH_AFTER".into(),
            "TxnCommitStarted".into(),
        )],
    }
}

fn begin(conn: &mut Conn, name: &StreamName, lease_ms: u64) -> TxnBegun {
    let reply = conn.call(Request::BeginTxn(BeginTxn {
        scope: name.scope.clone(),
        stream: name.stream.clone(),
        lease_ms,
    }));
    match reply {
        Reply::TxnBegun(begun) => begun,
        other => panic!("begin answered {other:?}"),
    }
}

fn end(conn: &mut Conn, name: &StreamName, id: u64, commit: bool) -> TxnStatus {
    let (scope, stream) = (name.scope.clone(), name.stream.clone());
    let request = match commit {
        true => Request::CommitTxn(CommitTxn { scope, stream, id }),
        false => Request::AbortTxn(AbortTxn { scope, stream, id }),
    };
    status_of(conn.call(request))
}

fn state(conn: &mut Conn, name: &StreamName, id: u64) -> TxnStatus {
    status_of(conn.call(Request::GetTxnState(GetTxnState {
        scope: name.scope.clone(),
        stream: name.stream.clone(),
        id,
    })))
}

fn status_of(reply: Reply) -> TxnStatus {
    match reply {
        Reply::TxnState(state) => state.status,
        other => panic!("answered {other:?}"),
    }
}

/// Appends `events` (already framed) to each of the transaction's segments.
fn fill(conn: &mut Conn, name: &StreamName, begun: &TxnBegun, events: &[Vec<u8>]) {
    for segment in &begun.segments {
        let txn_segment = txn_segment_name(&name.scope, &name.stream, segment.parent, begun.id);
        for (i, event) in events.iter().enumerate() {
            let reply = conn.call(Request::Append(Append {
                segment: txn_segment.clone(),
                writer_id: 1,
                event_number: i as i64,
                payload: event.clone(),
            }));
            assert!(matches!(reply, Reply::Appended(_)), "{reply:?}");
        }
    }
}

fn framed(text: &str) -> Vec<u8> {
    let mut event = (text.len() as u32).to_le_bytes().to_vec();
    event.extend_from_slice(text.as_bytes());
    event
}

fn bytes_of(conn: &mut Conn, segment: &str) -> Vec<u8> {
    let reply = conn.call(Request::Read(Read {
        segment: segment.into(),
        offset: 0,
        max_bytes: 1 << 20,
        wait_ms: 0,
    }));
    match reply {
        Reply::ReadData(data) => data.data,
        other => panic!("read of {segment} answered {other:?}"),
    }
}

#[test]
fn a_commit_interrupted_by_a_crash_finishes_after_the_restart() {
    let crash = crash_after_commit_intent();
    let node = Node::start_extra("txn-crash", 2, crash);
    let client = connect(&node);
    let name = stream(&client, "txn", "crash", StreamConfig::fixed(2));
    let mut conn = Conn::open(node.cores[0]);
    let begun = begin(&mut conn, &name, 60_000);
    assert_eq!(begun.segments.len(), 2);
    let events = [framed("one"), framed("two")];
    fill(&mut conn, &name, &begun, &events);
    // The node stops right after the commit's intent is durable.
    conn.send(&Request::CommitTxn(CommitTxn {
        scope: name.scope.clone(),
        stream: name.stream.clone(),
        id: begun.id,
    }));
    assert!(conn.try_receive().is_none(), "the node crashed mid-commit");
    let (status, node) = node.wait_and_restart(Extra::default());
    assert_eq!(status.code(), Some(86), "exited at the crash point");
    let mut conn = Conn::open(node.cores[1]);
    assert_eq!(state(&mut conn, &name, begun.id), TxnStatus::Committed);
    let whole = events.concat();
    for segment in &begun.segments {
        let parent = segment_name(&name.scope, &name.stream, segment.parent);
        assert_eq!(
            bytes_of(&mut conn, &parent),
            whole,
            "{parent} holds it whole"
        );
        let txn_segment = txn_segment_name(&name.scope, &name.stream, segment.parent, begun.id);
        let gone = conn.call(Request::GetInfo(GetInfo {
            segment: txn_segment,
        }));
        assert!(
            matches!(gone, Reply::NoSuchSegment(_)),
            "merged away: {gone:?}"
        );
    }
    assert_eq!(
        end(&mut conn, &name, begun.id, true),
        TxnStatus::Committed,
        "idempotent"
    );
    assert_eq!(end(&mut conn, &name, begun.id, false), TxnStatus::Committed);
}

#[test]
fn a_commit_after_a_scale_rolls_the_data_into_a_sealed_epoch_even_across_a_crash() {
    let crash = crash_after_commit_intent();
    let node = Node::start_extra("txn-roll", 2, crash);
    let client = connect(&node);
    let name = stream(&client, "txn", "roll", StreamConfig::fixed(2));
    let mut conn = Conn::open(node.cores[0]);
    let begun = begin(&mut conn, &name, 60_000);
    let events = [framed("a"), framed("bb"), framed("ccc")];
    fill(&mut conn, &name, &begun, &events);
    // Split segment 1 while the transaction is open.
    let info = describe(&client, &name);
    let high = info.current_segments()[1].clone();
    client
        .scale_stream(
            &name,
            vec![high.number],
            split_evenly(high.range, 2).expect("splits"),
        )
        .wait()
        .expect("a scale is not blocked by an open transaction");
    conn.send(&Request::CommitTxn(CommitTxn {
        scope: name.scope.clone(),
        stream: name.stream.clone(),
        id: begun.id,
    }));
    assert!(conn.try_receive().is_none(), "the node crashed mid-commit");
    let (status, node) = node.wait_and_restart(Extra::default());
    assert_eq!(status.code(), Some(86));
    let client = connect(&node);
    let mut conn = Conn::open(node.cores[0]);
    assert_eq!(state(&mut conn, &name, begun.id), TxnStatus::Committed);
    let info = describe(&client, &name);
    assert_eq!(
        info.description.epoch, 3,
        "the split, the copies, their successors"
    );
    let copies = &info.description.epochs[2].segments;
    assert_eq!(copies.len(), 2, "one copy per parent");
    let whole = events.concat();
    for &copy in copies {
        let segment = info.segment_name(copy);
        assert_eq!(
            bytes_of(&mut conn, &segment),
            whole,
            "{segment} holds the transaction"
        );
        assert!(matches!(
            client.info(&segment).wait().expect("info"),
            InfoOutcome::Found(i) if i.sealed
        ));
    }
    for segment in info.current_segments() {
        assert_eq!(
            bytes_of(&mut conn, &info.segment_name(segment.number)),
            Vec::<u8>::new(),
            "the new current segments start empty"
        );
    }
    // Writers and readers see an ordinary stream: successors lead through.
    for parent in [0, 2, 3] {
        assert!(
            !info.successors(parent).is_empty(),
            "segment {parent} has successors"
        );
    }
}

#[test]
fn an_unpinged_transaction_expires_and_a_pinged_one_lives() {
    let node = Node::start("wire-txn-lease", 1);
    let client = connect(&node);
    let name = stream(&client, "txn", "lease", StreamConfig::fixed(1));
    let mut conn = Conn::open(node.cores[0]);
    let short = begin(&mut conn, &name, 300);
    let kept = begin(&mut conn, &name, 300);
    fill(&mut conn, &name, &short, &[framed("never")]);
    for _ in 0..10 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let reply = conn.call(Request::PingTxn(PingTxn {
            scope: name.scope.clone(),
            stream: name.stream.clone(),
            id: kept.id,
            lease_ms: 300,
        }));
        assert_eq!(status_of(reply), TxnStatus::Open);
    }
    eventually("the unpinged transaction is aborted", || {
        state(&mut conn, &name, short.id) == TxnStatus::Aborted
    });
    assert_eq!(end(&mut conn, &name, short.id, true), TxnStatus::Aborted);
    assert_eq!(end(&mut conn, &name, kept.id, true), TxnStatus::Committed);
    let parent = segment_name(&name.scope, &name.stream, 0);
    assert_eq!(
        bytes_of(&mut conn, &parent),
        Vec::<u8>::new(),
        "nothing of the expired one"
    );
    assert_eq!(state(&mut conn, &name, 99), TxnStatus::Unknown);
}

#[test]
fn a_stream_log_made_long_by_transactions_is_compacted_and_replays_after_a_restart() {
    let node = Node::start("txn-compact", 2);
    let client = connect(&node);
    let name = stream(&client, "txn", "many", StreamConfig::fixed(1));
    let mut conn = Conn::open(node.cores[0]);
    let count = 800;
    for i in 0..count {
        let begun = begin(&mut conn, &name, 60_000);
        assert_eq!(begun.id, i, "ids count up");
        assert_eq!(
            end(&mut conn, &name, begun.id, i % 2 == 0),
            if i % 2 == 0 {
                TxnStatus::Committed
            } else {
                TxnStatus::Aborted
            }
        );
    }
    let log = stream_log_segment(&name.scope, &name.stream);
    let InfoOutcome::Found(info) = client.info(&log).wait().expect("info") else {
        panic!("the log exists");
    };
    assert!(info.start_offset > 0, "compacted: {info:?}");
    assert!(
        info.length - info.start_offset < 80 << 10,
        "the log stays short: {info:?}"
    );
    let open = begin(&mut conn, &name, 60_000);
    let node = node.kill_and_restart();
    let mut conn = Conn::open(node.cores[1]);
    assert_eq!(state(&mut conn, &name, count - 2), TxnStatus::Committed);
    assert_eq!(state(&mut conn, &name, count - 1), TxnStatus::Aborted);
    assert_eq!(
        state(&mut conn, &name, open.id),
        TxnStatus::Open,
        "still open after the restart"
    );
    assert_eq!(end(&mut conn, &name, open.id, true), TxnStatus::Committed);
    assert_eq!(begin(&mut conn, &name, 60_000).id, count + 1, "ids go on");
    let client = connect(&node);
    assert_eq!(describe(&client, &name).current_segments().len(), 1);
}
