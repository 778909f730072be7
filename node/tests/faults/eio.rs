//! EIO on a journal write or on its flush, injected in the node's storage:
//! writers are acknowledged until the fault, then get a retryable
//! `StorageFailed` and no further acknowledgement; the node logs the failure
//! and exits with code 3; a restart without the fault serves every
//! acknowledged event bit-exact, and the failed events can be resent, once.

use std::time::Duration;

use spate_wire::{GetWriterState, Reply, Request, RetryAdvice, StatusCode};

use crate::harness::{Conn, FaultyNode, Launch, append_request, create, event_bytes, read_all};

const SEGMENT: &str = "s/faults/eio";
const WRITER: u128 = 0xE10;
/// Events acknowledged before the fault.
const BEFORE: i64 = 40;
/// Events sent at once after the fault.
const BURST: i64 = 20;
const EVENT_BYTES: usize = 3000;
/// A reply wait long enough for any healthy node here, short enough that a
/// hung node fails the test rather than the CI job.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// Which half of a durable write fails.
#[derive(Clone, Copy, PartialEq)]
enum Failing {
    /// The write itself: no byte of it reaches the file.
    Write,
    /// Its flush: the bytes reach the file but are never acknowledged.
    Sync,
}

#[test]
fn eio_on_a_journal_write_stops_acks_and_keeps_every_acknowledged_event() {
    let outcome = fail_and_recover("eio-write", Failing::Write);
    // No byte of a failed write reached the file: only what was
    // acknowledged came back.
    assert_eq!(
        outcome.survivors, 0,
        "events whose write failed before it ran came back"
    );
    println!("fault eio-write: {outcome}");
}

#[test]
fn eio_on_a_journal_sync_stops_acks_and_keeps_every_acknowledged_event() {
    let outcome = fail_and_recover("eio-sync", Failing::Sync);
    println!("fault eio-sync: {outcome}");
}

/// What one EIO case saw.
struct Outcome {
    acknowledged: i64,
    refused: usize,
    /// Events refused with `StorageFailed` that were on disk after the
    /// restart anyway (allowed: a failed flush may have written them).
    survivors: i64,
    lost: i64,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "acknowledged: {}, refused with StorageFailed: {}, refused but on disk: {}, lost: {}",
            self.acknowledged, self.refused, self.survivors, self.lost
        )
    }
}

fn fail_and_recover(name: &str, failing: Failing) -> Outcome {
    let dir = FaultyNode::fresh_dir(name);
    let trigger = dir.join("fail-now");
    let op = match failing {
        Failing::Write => "write",
        Failing::Sync => "sync",
    };
    let launch = Launch {
        faults: Some(format!("{op}:file={}", trigger.display())),
        ..Launch::default()
    };
    let mut node = FaultyNode::start(dir, launch).expect("the node starts");
    let mut conn = Conn::open(node.addr, REPLY_TIMEOUT);
    create(&mut conn, SEGMENT);
    let mut acknowledged = Vec::new();
    for n in 0..BEFORE {
        let payload = event_bytes(n, EVENT_BYTES);
        let reply = conn.call(append_request(SEGMENT, WRITER, n, payload.clone()));
        assert!(matches!(reply, Reply::Appended(_)), "event {n}: {reply:?}");
        acknowledged.extend_from_slice(&payload);
    }

    // Every write from now on fails. A burst of appends is in flight when
    // the first one does.
    std::fs::write(&trigger, b"").expect("trigger file");
    for n in BEFORE..BEFORE + BURST {
        conn.send(&append_request(
            SEGMENT,
            WRITER,
            n,
            event_bytes(n, EVENT_BYTES),
        ));
    }
    let mut refused = 0;
    while let Some((id, reply)) = conn.receive() {
        match reply {
            Reply::Error(e) if e.status == StatusCode::StorageFailed.code() => {
                assert_eq!(e.retry, RetryAdvice::Retry, "{e:?}");
                assert!(e.message.contains("journal failed"), "{e:?}");
                refused += 1;
            }
            other => panic!("request {id} after the fault got {other:?}, not StorageFailed"),
        }
    }
    assert!(
        refused > 0,
        "no writer was told that its append failed; the node's log:\n{}",
        node.log()
    );
    let status = node
        .exit_status(200)
        .expect("the node exits after the failure");
    let log = node.log();
    assert_eq!(
        status.code(),
        Some(3),
        "exit code 3 (journal failure):\n{log}"
    );
    assert!(log.contains("injected journal fault"), "{log}");
    assert!(log.contains("journal failed"), "{log}");
    assert!(
        log.contains("os error 5"),
        "the log names the error (EIO):\n{log}"
    );

    // Restart without the fault: everything acknowledged is there.
    std::fs::remove_file(&trigger).expect("remove trigger");
    let node = node.restart(None).expect("the node restarts");
    let mut conn = Conn::open(node.addr, REPLY_TIMEOUT);
    let data = read_all(&mut conn, SEGMENT);
    let sent: Vec<u8> = (0..BEFORE + BURST)
        .flat_map(|n| event_bytes(n, EVENT_BYTES))
        .collect();
    let lost = (0..BEFORE)
        .filter(|&n| {
            let at = n as usize * EVENT_BYTES;
            data.get(at..at + EVENT_BYTES) != Some(&event_bytes(n, EVENT_BYTES)[..])
        })
        .count() as i64;
    assert_eq!(lost, 0, "acknowledged events lost or changed");
    // What lies past them can only be refused events, whole and in order.
    assert!(
        sent.starts_with(&data) && data.len().is_multiple_of(EVENT_BYTES),
        "the segment holds bytes that were never sent in this order"
    );
    let survivors = ((data.len() - acknowledged.len()) / EVENT_BYTES) as i64;

    // The writer retries what failed: each event lands exactly once.
    for n in BEFORE..BEFORE + BURST {
        let reply = conn.call(append_request(
            SEGMENT,
            WRITER,
            n,
            event_bytes(n, EVENT_BYTES),
        ));
        assert!(matches!(reply, Reply::Appended(_)), "resent {n}: {reply:?}");
    }
    assert!(
        read_all(&mut conn, SEGMENT) == sent,
        "every event once, in order"
    );
    let state = conn.call(Request::GetWriterState(GetWriterState {
        segment: SEGMENT.into(),
        writer_id: WRITER,
    }));
    assert!(
        matches!(&state, Reply::WriterState(w) if w.last_event_number == Some(BEFORE + BURST - 1)),
        "{state:?}"
    );
    assert!(node.terminate().success(), "a clean stop after recovery");
    Outcome {
        acknowledged: BEFORE,
        refused,
        survivors,
        lost,
    }
}
