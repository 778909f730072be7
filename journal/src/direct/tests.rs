//! Tests of the O_DIRECT backend on a real filesystem (a fresh directory under
//! the system temp dir, which must support O_DIRECT: ext4 or xfs, not tmpfs).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::files::{parse_slot_file_name, slot_file_name};
use super::*;

/// A unique directory under the temp dir, removed when dropped.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "spate-direct-test-{}-{n}-{name}",
            std::process::id()
        ));
        // A leftover from an earlier crashed run with the same pid.
        let _ = fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const FILE: u64 = 256 << 10;

fn open(dir: &Path, sync: SyncMode) -> DirectStorage {
    let opened = DirectStorage::open(
        dir,
        DirectOptions {
            sync,
            ..Default::default()
        },
    );
    opened.unwrap_or_else(|e| panic!("open {}: {e}", dir.display()))
}

/// Reaps until every token in `tokens` has completed; returns the completions
/// in token order.
fn wait_all(storage: &mut DirectStorage, tokens: usize) -> Vec<Completion> {
    let mut out = Vec::new();
    while out.len() < tokens {
        let reaped = storage.reap(true, &mut out);
        reaped.unwrap_or_else(|e| panic!("reap: {e}"));
    }
    assert_eq!(out.len(), tokens);
    out.sort_by_key(|c| c.token);
    out
}

fn prepare(storage: &mut DirectStorage, slot: Slot, len: u64) {
    storage.submit(100 + u64::from(slot), Op::Prepare { slot, len });
    let done = wait_all(storage, 1);
    assert!(done[0].result.is_ok(), "prepare: {:?}", done[0].result);
}

fn block_of(byte: u8, blocks: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::new(blocks * BLOCK);
    buf.spare_all().fill(byte);
    buf.set_len(blocks * BLOCK);
    buf
}

fn read(storage: &mut DirectStorage, slot: Slot, offset: u64, capacity: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::new(capacity);
    let read = storage.read_at(slot, offset, &mut buf);
    read.unwrap_or_else(|e| panic!("read slot {slot} at {offset}: {e}"));
    buf
}

#[test]
fn slot_names_round_trip_and_reject_lookalikes() {
    assert_eq!(slot_file_name(7), "00000007.journal");
    assert_eq!(parse_slot_file_name("00000007.journal"), Some(7));
    assert_eq!(parse_slot_file_name("4294967295.journal"), Some(u32::MAX));
    for name in [
        "7.journal",
        "0000007.journal",
        "+0000007.journal",
        "00000007.journal.tmp",
    ] {
        assert_eq!(parse_slot_file_name(name), None, "{name}");
    }
    assert_eq!(parse_slot_file_name("99999999999.journal"), None);
}

#[test]
fn prepared_files_take_durable_writes_in_both_sync_modes() {
    for sync in [SyncMode::Dsync, SyncMode::Fdatasync] {
        let dir = TestDir::new(sync.name());
        let mut storage = open(&dir.0.join("journal"), sync);
        prepare(&mut storage, 0, FILE);
        prepare(&mut storage, 3, FILE);
        let zeros = read(&mut storage, 3, 0, FILE as usize);
        assert_eq!(zeros.len(), FILE as usize);
        assert!(
            zeros.as_slice().iter().all(|&b| b == 0),
            "a new file is zero-filled"
        );

        storage.submit(
            1,
            Op::DurableWrite {
                slot: 0,
                offset: 0,
                buf: block_of(0xa1, 2),
            },
        );
        storage.submit(
            2,
            Op::DurableWrite {
                slot: 3,
                offset: FILE - 4096,
                buf: block_of(7, 1),
            },
        );
        let done = wait_all(&mut storage, 2);
        for c in &done {
            assert!(
                c.result.is_ok(),
                "{sync:?} write {}: {:?}",
                c.token,
                c.result
            );
            assert!(c.buf.is_some(), "the buffer comes back");
        }
        assert!(
            read(&mut storage, 0, 0, 2 * BLOCK)
                .as_slice()
                .iter()
                .all(|&b| b == 0xa1)
        );
        let tail = read(&mut storage, 3, FILE - 4096, 4 * BLOCK);
        assert_eq!(tail.len(), BLOCK, "a read stops at the end of the file");
        assert!(tail.as_slice().iter().all(|&b| b == 7));

        fs::write(dir.0.join("journal/notes.txt"), b"not a journal file").expect("write");
        let mut slots = storage.slots().expect("slots");
        slots.sort_by_key(|s| s.slot);
        let expected = [
            SlotInfo { slot: 0, len: FILE },
            SlotInfo { slot: 3, len: FILE },
        ];
        assert_eq!(slots, expected);
    }
}

#[test]
fn prepare_keeps_a_file_of_the_right_size_and_rewrites_any_other() {
    let dir = TestDir::new("recycle");
    let mut storage = open(&dir.0, SyncMode::Fdatasync);
    prepare(&mut storage, 1, FILE);
    storage.submit(
        1,
        Op::DurableWrite {
            slot: 1,
            offset: BLOCK as u64,
            buf: block_of(9, 1),
        },
    );
    assert!(wait_all(&mut storage, 1)[0].result.is_ok());

    prepare(&mut storage, 1, FILE);
    let kept = read(&mut storage, 1, BLOCK as u64, BLOCK);
    assert!(
        kept.as_slice().iter().all(|&b| b == 9),
        "same size: contents kept"
    );

    prepare(&mut storage, 1, FILE / 2);
    assert_eq!(
        fs::metadata(dir.0.join(slot_file_name(1)))
            .expect("stat")
            .len(),
        FILE / 2
    );
    let rewritten = read(&mut storage, 1, 0, FILE as usize);
    assert_eq!(rewritten.len(), FILE as usize / 2);
    assert!(
        rewritten.as_slice().iter().all(|&b| b == 0),
        "resized: zero-filled"
    );
}

#[test]
fn failed_write_reports_its_own_error_not_the_cancelled_sync() {
    // Far past the largest file ext4 or xfs allow: the write fails with EFBIG
    // (EINVAL on some filesystems), and in Fdatasync mode the kernel cancels the
    // linked sync, whose ECANCELED must not hide the write's error.
    for sync in [SyncMode::Dsync, SyncMode::Fdatasync] {
        let dir = TestDir::new("efbig");
        let mut storage = open(&dir.0, sync);
        prepare(&mut storage, 0, FILE);
        let offset = 1u64 << 62;
        storage.submit(
            5,
            Op::DurableWrite {
                slot: 0,
                offset,
                buf: block_of(1, 1),
            },
        );
        let done = wait_all(&mut storage, 1);
        let error = done[0]
            .result
            .as_ref()
            .expect_err("a write past the size limit fails");
        assert_ne!(
            error.raw_os_error(),
            Some(libc::ECANCELED),
            "{sync:?}: {error}"
        );
        assert!(
            done[0].buf.is_some(),
            "the buffer comes back on failure too"
        );
    }
}

#[test]
fn a_full_submission_queue_is_submitted_before_more_is_queued() {
    // Two SQ slots: each Fdatasync write fills the queue on its own.
    let dir = TestDir::new("tiny-ring");
    let options = DirectOptions {
        sync: SyncMode::Fdatasync,
        ring_entries: 2,
        ..Default::default()
    };
    let mut storage = DirectStorage::open(&dir.0, options).expect("open");
    prepare(&mut storage, 0, FILE);
    for i in 0..16u64 {
        let byte = i as u8 + 1;
        storage.submit(
            i,
            Op::DurableWrite {
                slot: 0,
                offset: i * 4096,
                buf: block_of(byte, 1),
            },
        );
    }
    for c in wait_all(&mut storage, 16) {
        assert!(c.result.is_ok(), "write {}: {:?}", c.token, c.result);
    }
    let written = read(&mut storage, 0, 0, 16 * BLOCK);
    for (i, block) in written.as_slice().chunks(BLOCK).enumerate() {
        assert!(block.iter().all(|&b| b == i as u8 + 1), "block {i}");
    }
}

#[test]
fn storage_can_move_to_the_thread_that_runs_it() {
    fn assert_send<T: Send>() {}
    assert_send::<DirectStorage>();
}

#[test]
fn missing_slots_fail_cleanly() {
    let dir = TestDir::new("missing");
    let mut storage = open(&dir.0, SyncMode::Dsync);
    storage.submit(
        9,
        Op::DurableWrite {
            slot: 4,
            offset: 0,
            buf: block_of(1, 1),
        },
    );
    let done = wait_all(&mut storage, 1);
    let error = done[0].result.as_ref().expect_err("no such file");
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    let mut buf = AlignedBuf::new(BLOCK);
    let read = storage.read_at(4, 0, &mut buf);
    assert_eq!(read.map_err(|e| e.kind()), Err(io::ErrorKind::NotFound));
}

#[test]
fn reap_returns_at_once_when_nothing_is_outstanding() {
    let dir = TestDir::new("idle");
    let mut storage = open(&dir.0, SyncMode::Dsync);
    let mut out = Vec::new();
    storage.reap(true, &mut out).expect("reap");
    storage.reap(false, &mut out).expect("reap");
    assert!(out.is_empty());
}

#[test]
fn drop_waits_for_operations_in_flight() {
    let dir = TestDir::new("drop");
    {
        let mut storage = open(&dir.0, SyncMode::Fdatasync);
        prepare(&mut storage, 0, FILE);
        for i in 0..8u64 {
            let op = Op::DurableWrite {
                slot: 0,
                offset: i * BLOCK as u64,
                buf: block_of(3, 1),
            };
            storage.submit(i, op);
        }
        storage.submit(
            20,
            Op::Prepare {
                slot: 1,
                len: 4 << 20,
            },
        );
        // Dropped with writes and a prepare outstanding.
    }
    let mut storage = open(&dir.0, SyncMode::Dsync);
    let written = read(&mut storage, 0, 0, 8 * BLOCK);
    assert!(
        written.as_slice().iter().all(|&b| b == 3),
        "writes in flight finished before drop"
    );
}

#[test]
fn a_path_that_is_a_file_is_not_a_directory() {
    let dir = TestDir::new("notdir");
    fs::create_dir_all(&dir.0).expect("mkdir");
    let file = dir.0.join("plain");
    fs::write(&file, b"x").expect("write");
    let error = DirectStorage::open(&file, DirectOptions::default()).expect_err("not a dir");
    assert!(
        matches!(error, DirectError::NotADirectory { .. }),
        "{error}"
    );
}

#[test]
fn filesystems_without_o_direct_are_refused_with_a_clear_error() {
    // ramfs has no O_DIRECT at all. Mounting one needs root; skip otherwise.
    let dir = TestDir::new("ramfs");
    fs::create_dir_all(&dir.0).expect("mkdir");
    let Some(_mount) = RamfsMount::new(&dir.0) else {
        eprintln!("note: cannot mount ramfs here (not root?); O_DIRECT refusal not tested");
        return;
    };
    let error = DirectStorage::open(&dir.0, DirectOptions::default()).expect_err("ramfs");
    assert!(matches!(error, DirectError::NoDirectIo { .. }), "{error}");
    assert!(
        error.to_string().contains("does not support O_DIRECT"),
        "{error}"
    );
    let leftovers = fs::read_dir(&dir.0).expect("ls").count();
    assert_eq!(
        leftovers, 0,
        "the probe file is removed even when the open fails"
    );
}

#[test]
fn tmpfs_is_either_served_or_refused_clearly() {
    // Linux 6.6+ gives tmpfs O_DIRECT; older kernels refuse it with EINVAL.
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("note: /dev/shm is absent; tmpfs behaviour not tested");
        return;
    }
    let dir = TestDir(shm.join(format!("spate-direct-test-{}", std::process::id())));
    match DirectStorage::open(&dir.0, DirectOptions::default()) {
        Ok(_) => eprintln!("note: this kernel's tmpfs supports O_DIRECT"),
        Err(error) => assert!(matches!(error, DirectError::NoDirectIo { .. }), "{error}"),
    }
}

#[test]
fn floor_probe_measures_and_cleans_up() {
    let dir = TestDir::new("floor");
    fs::create_dir_all(&dir.0).expect("mkdir");
    let opts = FloorOptions {
        latency_samples: 20,
        latency_warmup: 2,
        latency_file_bytes: 64 << 10,
        seq_bytes: 8 << 20,
        seq_time_limit: Duration::from_secs(5),
        ..Default::default()
    };
    let floor = measure_floor(&dir.0, &opts).unwrap_or_else(|e| panic!("floor: {e}"));
    assert_eq!(floor.sync_write_4k_ns.len(), 20);
    assert_eq!(floor.dsync_write_4k_ns.len(), 20);
    assert!(
        floor
            .sync_write_4k_ns
            .iter()
            .chain(&floor.dsync_write_4k_ns)
            .all(|&ns| ns > 0)
    );
    assert_eq!(floor.seq_write.bytes, 8 << 20);
    assert_eq!(floor.seq_read.bytes, 8 << 20);
    assert!(floor.seq_write.mb_per_s() > 0.0 && floor.seq_read.mb_per_s() > 0.0);
    assert_eq!(
        fs::read_dir(&dir.0).expect("ls").count(),
        0,
        "the probe leaves nothing behind"
    );
}

/// A ramfs mounted on a directory for the life of the value.
struct RamfsMount(PathBuf);

impl RamfsMount {
    fn new(dir: &Path) -> Option<Self> {
        let status = std::process::Command::new("mount")
            .args(["-t", "ramfs", "spate-test-ramfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status();
        status
            .ok()
            .filter(|s| s.success())
            .map(|_| Self(dir.to_path_buf()))
    }
}

impl Drop for RamfsMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}
