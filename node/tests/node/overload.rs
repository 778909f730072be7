//! Regression tests for what the overload harness (`spate-overload`, see
//! docs/testing.md) caught, each named after the bug. The memory bound they
//! hold the node to is far above what a node that bounds its replies needs
//! and far below what one that does not takes (gigabytes).

use spate_wire::{MAX_EVENT_BYTES, Read, Request};

use crate::overload_tools::*;
use crate::support::{Conn, Node, Sizes};

const MIB: u64 = 1 << 20;
const PEAK_BOUND: u64 = 400 * MIB;
const EVENT_BYTES: u64 = MAX_EVENT_BYTES as u64;

fn small_node(name: &str) -> Node {
    Node::start_sized(
        name,
        1,
        Sizes {
            cache_mib: 32,
            journal_files: 16,
        },
    )
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
