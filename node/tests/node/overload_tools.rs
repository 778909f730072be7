//! What the overload regression tests need besides `support`: the node's
//! process (memory, descriptors), pipelined replies read in any number, and
//! segment bytes that any range can be checked against.
//!
//! A client that "does not read" here simply does not call read: the
//! kernel's socket buffers (a few MiB) fill and the node holds the rest. A
//! shrunken receive buffer would hold the node back sooner, but Linux then
//! keeps the window tiny even after the buffer grows again, and the test
//! could not catch up on its replies in any reasonable time.

use std::io::Read;
use std::time::Duration;

use spate_wire::{Append, CreateSegment, Decoded, FrameDecoder, Reply, Request};

use crate::support::{Conn, Node};

/// The node's process id: the process whose command line names its data
/// directory (unique per test).
pub fn pid_of(node: &Node) -> u32 {
    let dir = node.dir.to_str().expect("utf-8 path").as_bytes().to_vec();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.split(|&b| b == 0).any(|arg| arg == dir.as_slice()))
        })
        .expect("the node's process")
}

/// A `/proc/PID/status` value, in bytes.
pub fn status_bytes(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the node's status");
    let kib: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse().ok())
        .expect("a kB field");
    kib * 1024
}

/// The node's peak RSS once it has stopped growing: RSS is sampled until
/// it has held within 1 MiB for a while (bounded attempts). A node that
/// buffers without bound keeps growing until it has served everything it
/// was asked, so its peak shows either way.
pub fn settled_peak(pid: u32) -> u64 {
    let mut last = 0u64;
    let mut steady = 0;
    for _ in 0..3_000 {
        let now = status_bytes(pid, "VmRSS");
        if now.abs_diff(last) < (1 << 20) {
            steady += 1;
            if steady == 50 {
                break;
            }
        } else {
            steady = 0;
        }
        last = now;
        std::thread::sleep(Duration::from_millis(10));
    }
    status_bytes(pid, "VmHWM")
}

/// Descriptors the node has open.
pub fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

/// Reads `count` replies from a connection that pipelined its requests.
pub fn replies(conn: &mut Conn, count: usize) -> Vec<(u64, Reply)> {
    let mut decoder = FrameDecoder::new(64 << 20);
    let mut buf = vec![0u8; 1 << 20];
    let mut out = Vec::new();
    while out.len() < count {
        let n = conn.stream.read(&mut buf).expect("the node answers");
        assert!(n > 0, "the node closed the connection");
        let mut pos = 0;
        while pos < n {
            let step = decoder.decode(&buf[pos..n]).expect("a valid frame");
            pos += step.consumed;
            if let Decoded::Frame(frame) = step.decoded {
                let reply = frame.reply().and_then(|r| r.to_reply()).expect("a reply");
                out.push((frame.header.request_id, reply));
            }
        }
    }
    out
}

/// The byte at offset `o` of the segments these tests fill.
pub fn byte_at(o: u64) -> u8 {
    (o.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8 ^ (o >> 13) as u8
}

/// Creates `segment` and fills it with `events` events of `event_bytes`
/// of `byte_at`, one append at a time.
pub fn fill(conn: &mut Conn, segment: &str, events: u64, event_bytes: u64) {
    let reply = conn.call(Request::CreateSegment(CreateSegment {
        segment: segment.into(),
    }));
    assert!(matches!(&reply, Reply::SegmentCreated(_)), "{reply:?}");
    for i in 0..events {
        let payload = (i * event_bytes..(i + 1) * event_bytes)
            .map(byte_at)
            .collect();
        let reply = conn.call(Request::Append(Append {
            segment: segment.into(),
            writer_id: 5,
            event_number: i as i64,
            payload,
        }));
        assert!(matches!(&reply, Reply::Appended(_)), "{reply:?}");
    }
}

/// Checks a read reply's data against `byte_at`; returns its length.
pub fn check_read(reply: &Reply) -> usize {
    let Reply::ReadData(data) = reply else {
        panic!("a read answered {reply:?}")
    };
    let wrong = (data.offset..)
        .zip(&data.data)
        .position(|(o, b)| byte_at(o) != *b);
    assert_eq!(wrong, None, "read at {} differs", data.offset);
    data.data.len()
}

/// Resets the node's peak RSS to its RSS now, so a test measures the peak
/// of what it does next rather than of its set-up.
pub fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("clear_refs");
}

/// Raises this test process's open-file limit to at least `want`; nodes
/// started afterwards inherit it.
pub fn raise_open_files(want: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit on a value on our stack.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < want {
            limit.rlim_cur = want;
            limit.rlim_max = limit.rlim_max.max(want);
            assert_eq!(
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit),
                0,
                "raising the open-file limit to {want}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
