//! Regression tests for what the disk-full cases found, each named after
//! the bug it caught: appends parked in silence on a full journal disk,
//! failed file preparations retried in a busy loop, and a node that would
//! not restart on a full disk.
//!
//! They use the injected ENOSPC (allocating preparations fail while a
//! trigger file exists), so they run without root.

use std::path::PathBuf;
use std::time::Duration;

use spate_wire::{Reply, RetryAdvice, StatusCode};

use crate::harness::{Conn, FaultyNode, Launch, append_request, create, event_bytes, read_all};

const SEGMENT: &str = "s/faults/bugs";
const WRITER: u128 = 0xB06;
const EVENT_BYTES: usize = 1 << 20;
/// A liveness bound, not a latency expectation: a healthy node answers
/// in milliseconds, a stuck one never.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
const PREPARE_FAILED: &str = "cannot prepare a journal file";

/// A node whose journal disk is full from its first mutation on: only the
/// file prepared at start exists. Returns the node and the trigger file.
fn node_on_a_full_disk(name: &str, log_filter: Option<&str>) -> (FaultyNode, PathBuf) {
    let dir = FaultyNode::fresh_dir(name);
    let trigger = dir.join("disk-full");
    let launch = Launch {
        faults: Some(format!("prepare:file={}", trigger.display())),
        cache_mib: 256,
        log_filter: log_filter.map(str::to_string),
        ..Launch::default()
    };
    let node = FaultyNode::start(dir, launch).expect("the node starts");
    std::fs::write(&trigger, b"").expect("trigger");
    (node, trigger)
}

fn wait_for_log(node: &FaultyNode, line: &str) {
    let seen = (0..200).any(|_| {
        node.log().contains(line) || {
            std::thread::sleep(Duration::from_millis(50));
            false
        }
    });
    assert!(seen, "no {line:?} in the node's log:\n{}", node.log());
}

#[test]
fn a_full_journal_disk_answers_appends_with_a_retryable_error_instead_of_silence() {
    let (node, trigger) = node_on_a_full_disk("bug-silence", None);
    let mut conn = Conn::open(node.addr, REPLY_TIMEOUT);
    create(&mut conn, SEGMENT);
    wait_for_log(&node, PREPARE_FAILED);
    // One append at a time, as a simple writer does. The first 32 MiB file
    // takes about 31 of them; the one after must be refused, not parked.
    let mut refused_at = None;
    for n in 0..64 {
        let id = conn.send(&append_request(
            SEGMENT,
            WRITER,
            n,
            event_bytes(n, EVENT_BYTES),
        ));
        let Some((reply_id, reply)) = conn.receive() else {
            panic!(
                "append {n} got no reply within {REPLY_TIMEOUT:?} while the journal disk was \
                 full: the writer waits in silence instead of getting a retryable error"
            );
        };
        assert_eq!(reply_id, id);
        match reply {
            Reply::Appended(_) => {}
            Reply::Error(e) => {
                assert_eq!(e.retry, RetryAdvice::Retry, "{e:?}");
                assert_eq!(e.status, StatusCode::StorageFull.code(), "{e:?}");
                refused_at = Some(n);
                break;
            }
            other => panic!("append {n}: {other:?}"),
        }
    }
    let refused_at = refused_at.expect("appends on a full disk were refused at some point");
    // Space returns: the refused append goes through when resent.
    std::fs::remove_file(&trigger).expect("make room");
    let acknowledged = (0..200).any(|_| {
        let reply = conn.call(append_request(
            SEGMENT,
            WRITER,
            refused_at,
            event_bytes(refused_at, EVENT_BYTES),
        ));
        matches!(reply, Reply::Appended(_)) || {
            std::thread::sleep(Duration::from_millis(50));
            false
        }
    });
    assert!(acknowledged, "appends did not resume once space returned");
    let expected: Vec<u8> = (0..=refused_at)
        .flat_map(|n| event_bytes(n, EVENT_BYTES))
        .collect();
    assert!(read_all(&mut conn, SEGMENT) == expected);
}

#[test]
fn a_failed_file_preparation_is_not_retried_in_a_busy_loop() {
    // Debug logging shows every injected failure, numbered.
    let (node, _trigger) = node_on_a_full_disk("bug-busy-loop", Some("info,spate_node=debug"));
    let mut conn = Conn::open(node.addr, REPLY_TIMEOUT);
    create(&mut conn, SEGMENT);
    wait_for_log(&node, PREPARE_FAILED);
    // An idle node on a full disk, for a second. A retry with any pause
    // (or one only when appends need the file) stays far below the bound;
    // the busy loop made about 360,000 attempts a second here.
    std::thread::sleep(Duration::from_secs(1));
    let attempts = node.log().matches("injected journal fault").count();
    assert!(
        attempts < 100,
        "{attempts} preparation attempts in about a second on a full disk"
    );
}

#[test]
fn a_node_restarted_on_a_full_journal_disk_starts_and_serves_what_it_holds() {
    let (node, trigger) = node_on_a_full_disk("bug-restart", None);
    let plan = Some(format!("prepare:file={}", trigger.display()));
    let mut conn = Conn::open(node.addr, REPLY_TIMEOUT);
    create(&mut conn, SEGMENT);
    for n in 0..5 {
        let reply = conn.call(append_request(
            SEGMENT,
            WRITER,
            n,
            event_bytes(n, EVENT_BYTES),
        ));
        assert!(matches!(reply, Reply::Appended(_)), "{reply:?}");
    }
    // A crash while the disk is still full. The journal's file has room
    // for more records, and the node holds acknowledged data: it must come
    // back and serve it (and refuse, or take, appends), not refuse to start
    // because it cannot prepare a spare file.
    let node = match node.restart(plan) {
        Ok(node) => node,
        Err(failed) => panic!(
            "the node did not start on a full disk (exit {:?}):\n{}",
            failed.code, failed.log
        ),
    };
    let mut conn = Conn::open(node.addr, REPLY_TIMEOUT);
    let expected: Vec<u8> = (0..5).flat_map(|n| event_bytes(n, EVENT_BYTES)).collect();
    assert!(read_all(&mut conn, SEGMENT) == expected);
    let reply = conn.call(append_request(
        SEGMENT,
        WRITER,
        5,
        event_bytes(5, EVENT_BYTES),
    ));
    assert!(
        matches!(&reply, Reply::Appended(_))
            || matches!(&reply, Reply::Error(e) if e.retry == RetryAdvice::Retry),
        "{reply:?}"
    );
    std::fs::remove_file(&trigger).expect("make room");
    assert!(node.terminate().success());
}
