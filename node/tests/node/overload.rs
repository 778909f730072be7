//! Regression tests for what the overload harness (`spate-overload`, see
//! docs/testing.md) caught, each named after the bug. The memory bound they
//! hold the node to is far above what a node that bounds its replies needs
//! and far below what one that does not takes (gigabytes).

use spate_wire::{
    CreateSegment, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME_BYTES, Hello, MAX_EVENT_BYTES,
    MAX_READ_WAIT_MS, Ping, READ_DATA_OVERHEAD, Read, Reply, Request, StatusCode,
};

use crate::overload_tools::*;
use crate::support::{Conn, Node, Sizes};

const MIB: u64 = 1 << 20;
const PEAK_BOUND: u64 = 400 * MIB;
/// Four largest events: most of it evicted from the 8 MiB its container may keep.
const EVENTS: u64 = 4;
const EVENT_BYTES: u64 = MAX_EVENT_BYTES as u64;
const SEGMENT_BYTES: u64 = EVENTS * EVENT_BYTES;

fn small_node(name: &str) -> Node {
    Node::start_sized(
        name,
        1,
        Sizes {
            cache_mib: 32,
            journal_files: 16,
            ..Sizes::default()
        },
    )
}

fn largest_read(offset: u64) -> Request {
    Request::Read(Read {
        segment: "s/big".into(),
        offset,
        max_bytes: DEFAULT_MAX_FRAME_BYTES - READ_DATA_OVERHEAD,
        wait_ms: 0,
    })
}

/// Another client, served while the abuse goes on.
fn polite_client_is_served(node: &Node) {
    let mut polite = Conn::open(node.cores[0]);
    let reply = polite.call(largest_read(SEGMENT_BYTES - 1000));
    assert_eq!(check_read(&reply), 1000);
    let pong = polite.call(Request::Ping(Ping { nonce: 9 }));
    assert!(matches!(&pong, Reply::Pong(p) if p.nonce == 9), "{pong:?}");
}

#[test]
fn a_client_that_never_reads_its_replies_cannot_make_the_node_hold_them() {
    // Requests were counted only until their replies were queued, and a
    // read's reply was never counted: a hundred 16 MiB replies piled up.
    let node = small_node("never-reads");
    let pid = pid_of(&node);
    fill(&mut Conn::open(node.cores[0]), "s/big", EVENTS, EVENT_BYTES);
    reset_peak(pid);
    let mut greedy = Conn::open(node.cores[0]);
    let reads = 100;
    for i in 0..reads {
        greedy.send(&largest_read((i * 333_333) % SEGMENT_BYTES));
    }
    let peak = settled_peak(pid);
    assert!(peak < PEAK_BOUND, "peak RSS {} MiB", peak / MIB);
    polite_client_is_served(&node);
    for (_, reply) in replies(&mut greedy, reads as usize) {
        check_read(&reply);
    }
}

#[test]
fn many_slow_readers_of_large_ranges_share_a_bounded_room_for_replies() {
    // Each connection's replies were bounded in number only: a hundred slow
    // readers with one largest read each held a hundred 16 MiB replies.
    let node = small_node("slow-readers");
    let pid = pid_of(&node);
    fill(&mut Conn::open(node.cores[0]), "s/big", EVENTS, EVENT_BYTES);
    reset_peak(pid);
    let mut slow: Vec<Conn> = (0..100).map(|_| Conn::open(node.cores[0])).collect();
    for (i, conn) in slow.iter_mut().enumerate() {
        conn.send(&largest_read((i as u64 * 333_333) % SEGMENT_BYTES));
    }
    let peak = settled_peak(pid);
    assert!(peak < PEAK_BOUND, "peak RSS {} MiB", peak / MIB);
    polite_client_is_served(&node);
    for conn in &mut slow {
        let (_, reply) = replies(conn, 1).remove(0);
        assert!(check_read(&reply) > 0);
    }
}

#[test]
fn a_burst_of_reads_of_evicted_data_reads_the_journal_back_a_few_at_a_time() {
    // Every read of evicted data read its whole record back at once: a
    // burst of small reads of 8 MiB records held 8 MiB each.
    let node = small_node("readback-burst");
    let pid = pid_of(&node);
    let events = 12;
    fill(&mut Conn::open(node.cores[0]), "s/big", events, EVENT_BYTES);
    let mut readers: Vec<Conn> = (0..150).map(|_| Conn::open(node.cores[0])).collect();
    reset_peak(pid);
    for (i, conn) in readers.iter_mut().enumerate() {
        let i = i as u64;
        let offset = (i % events) * EVENT_BYTES + (i / events) * 65_536;
        conn.send(&Request::Read(Read {
            segment: "s/big".into(),
            offset,
            max_bytes: 65_536,
            wait_ms: 0,
        }));
    }
    let peak = settled_peak(pid);
    assert!(peak < PEAK_BOUND, "peak RSS {} MiB", peak / MIB);
    for conn in &mut readers {
        let (_, reply) = replies(conn, 1).remove(0);
        assert_eq!(check_read(&reply), 65_536);
    }
}

fn hello(conn: &mut Conn) -> Reply {
    conn.send(&Request::Hello(Hello {
        min_version: spate_wire::MIN_VERSION,
        max_version: spate_wire::MAX_VERSION,
    }));
    conn.try_receive().expect("an answer").1
}

#[test]
fn the_connection_limit_holds_for_the_node_not_for_each_core() {
    // Each core counted its own connections: a node of two cores took twice
    // its limit.
    let limit = DEFAULT_MAX_CONNECTIONS as usize;
    // Two descriptors a connection on the node, one here, and some spare.
    raise_open_files(3 * limit as u64);
    let node = Node::start("connection-limit", 2);
    let mut open: Vec<Conn> = (0..limit).map(|i| Conn::open(node.cores[i % 2])).collect();
    for core in &node.cores {
        let reply = hello(&mut Conn::raw(*core));
        assert!(
            matches!(&reply, Reply::Error(e) if e.status == StatusCode::TooManyConnections.code()),
            "{reply:?}"
        );
    }
    // A place comes free when a connection closes; the node learns of it
    // asynchronously, so ask a bounded number of times.
    drop(open.pop());
    let mut admitted = false;
    for _ in 0..1_000 {
        if matches!(hello(&mut Conn::raw(node.cores[1])), Reply::HelloReply(_)) {
            admitted = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(admitted, "no connection was taken after one closed");
}

#[test]
fn a_closed_connection_does_not_linger_in_a_long_poll() {
    // A read waiting at a tail kept its connection (and its place under the
    // connection limit) for the rest of its wait, up to a minute, after the
    // client had closed it.
    let node = Node::start("long-poll-hangup", 1);
    let pid = pid_of(&node);
    let mut admin = Conn::open(node.cores[0]);
    let reply = admin.call(Request::CreateSegment(CreateSegment {
        segment: "s/quiet".into(),
    }));
    assert!(matches!(&reply, Reply::SegmentCreated(_)), "{reply:?}");
    let before = open_descriptors(pid);
    let mut waiting = Conn::open(node.cores[0]);
    waiting.send(&Request::Read(Read {
        segment: "s/quiet".into(),
        offset: 0,
        max_bytes: 1024,
        wait_ms: MAX_READ_WAIT_MS,
    }));
    // The node serves a connection's frames in order: once the ping is
    // answered, the read is waiting.
    let pong = waiting.call(Request::Ping(Ping { nonce: 1 }));
    assert!(matches!(&pong, Reply::Pong(_)), "{pong:?}");
    assert!(open_descriptors(pid) > before);
    drop(waiting);
    // Polled a bounded number of times, far fewer than the read's wait.
    let mut released = false;
    for _ in 0..1_000 {
        if open_descriptors(pid) <= before {
            released = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(released, "the node still holds the closed connection");
}
