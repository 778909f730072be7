//! ENOSPC on the journal directory: the node cannot prepare its next
//! journal file. Nothing acknowledged may be lost, and appends must go on
//! once space returns.
//!
//! Two ways to fill the disk: a fault plan that fails every preparation
//! that allocates while a trigger file exists (`injected`, runs anywhere),
//! and a small ext4 filesystem on a loop device filled up by a file
//! (`loop_mounted`, root only, `SPATE_LOOP_TESTS=1`). The same scenario
//! runs on both.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use spate_wire::{Reply, RetryAdvice};

use crate::harness::{Conn, FaultyNode, Launch, append_request, create, event_bytes, read_all};
use crate::loop_fs::LoopFs;

const SEGMENT: &str = "s/faults/full";
const WRITER: u128 = 0xF11;
const EVENT_BYTES: usize = 1 << 20;
/// Events sent at once while the disk is full: more than the active
/// 32 MiB journal file holds, so the journal needs the file it cannot
/// prepare.
const BURST: i64 = 40;
/// Events appended after space returned: enough to start another file.
const AFTER: i64 = 20;
/// How long a reply may take once the node can make progress.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// Room in each container's read cache for the whole burst waiting for
/// the journal, so that the burst meets the full disk, not the memory bound.
const CACHE_MIB: u32 = 256;
/// A pause in replies that means the journal is stuck on the full disk.
const QUIET: Duration = Duration::from_secs(2);
/// The log line that says a preparation failed (`runtime/storage.rs`).
const PREPARE_FAILED: &str = "cannot prepare a journal file";

/// A disk that can be made full and given room again.
enum Disk {
    /// Allocating preparations fail while `trigger` exists.
    Injected { trigger: PathBuf },
    /// A loop-mounted filesystem that `filler` takes up.
    Loop { fs: LoopFs, filler: PathBuf },
}

impl Disk {
    fn fill(&self) {
        match self {
            Disk::Injected { trigger } => std::fs::write(trigger, b"").expect("trigger"),
            Disk::Loop { fs, filler } => fs.fill(filler),
        }
    }

    fn make_room(&self) {
        let path = match self {
            Disk::Injected { trigger } => trigger,
            Disk::Loop { filler, .. } => filler,
        };
        std::fs::remove_file(path).expect("make room");
    }
}

#[test]
fn injected_enospc_loses_nothing_acknowledged_and_appends_resume_when_space_returns() {
    let dir = FaultyNode::fresh_dir("enospc-injected");
    let trigger = dir.join("disk-full");
    let launch = Launch {
        faults: Some(format!("prepare:file={}", trigger.display())),
        cache_mib: CACHE_MIB,
        ..Launch::default()
    };
    let outcome = fill_and_recover(dir, launch, Disk::Injected { trigger });
    println!("fault enospc-injected: {outcome}");
}

#[test]
fn loop_mounted_enospc_loses_nothing_acknowledged_and_appends_resume_when_space_returns() {
    // Room for four 32 MiB journal files once formatted.
    let Some(fs) = LoopFs::mount("enospc", 160) else {
        return;
    };
    let dir = FaultyNode::fresh_dir("enospc-loop");
    let launch = Launch {
        journal_dir: Some(fs.mount.join("journal")),
        cache_mib: CACHE_MIB,
        ..Launch::default()
    };
    let filler = fs.mount.join("filler");
    let outcome = fill_and_recover(dir, launch, Disk::Loop { fs, filler });
    println!("fault enospc-loop: {outcome}");
}

#[test]
fn a_journal_disk_too_small_for_its_files_is_refused_at_start_with_the_reason() {
    // Less room than one 32 MiB journal file.
    let Some(fs) = LoopFs::mount("too-small", 24) else {
        return;
    };
    let launch = Launch {
        journal_dir: Some(fs.mount.join("journal")),
        ..Launch::default()
    };
    let failed = match FaultyNode::start(FaultyNode::fresh_dir("too-small"), launch) {
        Ok(_) => panic!("a node started with no room for its journal files"),
        Err(failed) => failed,
    };
    assert_eq!(failed.code, Some(2), "{}", failed.log);
    assert!(
        failed.log.contains("preparing journal files")
            && failed.log.contains("No space left on device"),
        "the node says why:\n{}",
        failed.log
    );
    println!("fault enospc-too-small: refused at start (exit 2) with the reason");
}

#[test]
fn a_full_data_directory_is_refused_at_start_with_the_reason() {
    let Some(fs) = LoopFs::mount("data-full", 16) else {
        return;
    };
    fs.fill(&fs.mount.join("filler"));
    let dir = FaultyNode::fresh_dir("data-full");
    let launch = Launch {
        data_dir: Some(fs.mount.clone()),
        journal_dir: Some(dir.join("journal")),
        ..Launch::default()
    };
    let failed = match FaultyNode::start(dir, launch) {
        Ok(_) => panic!("a node initialised a data directory with no space"),
        Err(failed) => failed,
    };
    assert_eq!(failed.code, Some(2), "{}", failed.log);
    assert!(
        failed.log.contains("superblock") && failed.log.contains("No space left on device"),
        "the node says why:\n{}",
        failed.log
    );
    println!("fault enospc-data-dir: refused at start (exit 2) with the reason");
}

/// What one disk-full case saw.
struct Outcome {
    acknowledged: usize,
    /// Appends refused with a retryable error while the disk was full.
    refused: usize,
    /// Replies that came only after space returned.
    waited: usize,
    lost: usize,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "acknowledged: {}, refused (retryable): {}, answered only once space returned: {}, lost: {}",
            self.acknowledged, self.refused, self.waited, self.lost
        )
    }
}

fn fill_and_recover(dir: PathBuf, launch: Launch, disk: Disk) -> Outcome {
    let node = FaultyNode::start(dir, launch).expect("the node starts");
    // The node prepared its first file at start. Fill the disk before the
    // first mutation starts writing that file, so the next one cannot be
    // prepared.
    disk.fill();
    let mut conn = Conn::open(node.addr, REPLY_TIMEOUT);
    create(&mut conn, SEGMENT);
    assert!(
        poll(|| node.log().contains(PREPARE_FAILED)),
        "the node did not report the failed preparation:\n{}",
        node.log()
    );

    // A writer sends a burst larger than the file being written; replies
    // come back on a channel as they arrive.
    let (replies, arrived) = mpsc::channel();
    let addr = node.addr;
    let writer = std::thread::spawn(move || {
        let mut conn = Conn::open(addr, REPLY_TIMEOUT);
        let ids: Vec<u64> = (0..BURST)
            .map(|n| {
                conn.send(&append_request(
                    SEGMENT,
                    WRITER,
                    n,
                    event_bytes(n, EVENT_BYTES),
                ))
            })
            .collect();
        for _ in 0..BURST {
            let Some((id, reply)) = conn.receive() else {
                return;
            };
            let n = ids
                .iter()
                .position(|&i| i == id)
                .expect("a reply to a sent id");
            if replies.send((n as i64, reply)).is_err() {
                return;
            }
        }
    });
    // Let the journal fill its file and run into the one it cannot
    // prepare: take replies until none comes for a while. The rest wait
    // for space (or, once appends are refused on a full disk, there is no
    // rest). A slow machine only makes room sooner; nothing is asserted on
    // this wait.
    let mut answers = Vec::new();
    while answers.len() < BURST as usize {
        match arrived.recv_timeout(QUIET) {
            Ok(answer) => answers.push(answer),
            Err(_) => break,
        }
    }
    let before_room = answers.len();
    disk.make_room();
    while answers.len() < BURST as usize {
        let answer = arrived.recv().unwrap_or_else(|_| {
            panic!(
                "{} of {BURST} appends unanswered after space returned; the node's log:\n{}",
                BURST as usize - answers.len(),
                node.log()
            )
        });
        answers.push(answer);
    }
    writer.join().expect("writer thread");

    // Refused events are resent in order, as a writer does.
    answers.sort_by_key(|(n, _)| *n);
    let mut refused = 0;
    let mut first_refused = None;
    for (n, reply) in &answers {
        match reply {
            Reply::Appended(_) => {}
            Reply::Error(e) if e.retry == RetryAdvice::Retry => {
                refused += 1;
                first_refused.get_or_insert(*n);
            }
            other => panic!("event {n}: {other:?}"),
        }
    }
    for n in first_refused.unwrap_or(BURST)..BURST + AFTER {
        append_until_acknowledged(&mut conn, n);
    }

    // Everything came back after a crash.
    let node = node.restart(None).expect("the node restarts");
    let mut conn = Conn::open(node.addr, REPLY_TIMEOUT);
    let data = read_all(&mut conn, SEGMENT);
    let lost = (0..BURST + AFTER)
        .filter(|&n| {
            let at = n as usize * EVENT_BYTES;
            data.get(at..at + EVENT_BYTES) != Some(&event_bytes(n, EVENT_BYTES)[..])
        })
        .count();
    assert_eq!(lost, 0, "acknowledged events lost");
    assert_eq!(
        data.len(),
        (BURST + AFTER) as usize * EVENT_BYTES,
        "nothing more"
    );
    assert!(node.terminate().success());
    Outcome {
        acknowledged: (BURST + AFTER) as usize,
        refused,
        waited: BURST as usize - before_room,
        lost,
    }
}

/// Appends event `n` until it is acknowledged; a retryable refusal (the
/// read cache full of data waiting for the journal) is retried.
fn append_until_acknowledged(conn: &mut Conn, n: i64) {
    for _ in 0..500 {
        match conn.call(append_request(
            SEGMENT,
            WRITER,
            n,
            event_bytes(n, EVENT_BYTES),
        )) {
            Reply::Appended(_) => return,
            Reply::Error(e) if e.retry == RetryAdvice::Retry => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("event {n}: {other:?}"),
        }
    }
    panic!("event {n} was refused 500 times after space returned");
}

/// Polls `check` up to 200 times, 50 ms apart.
fn poll(mut check: impl FnMut() -> bool) -> bool {
    (0..200).any(|_| {
        check() || {
            std::thread::sleep(Duration::from_millis(50));
            false
        }
    })
}
