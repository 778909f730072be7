//! The device floor: what the disk under a directory can do at best, measured
//! with this backend's own I/O path, so every benchmark can report itself as a
//! ratio of it.
//!
//! - Latency of one 4 KiB durable write at queue depth 1 into a prepared
//!   (zero-filled) file, once as write + fdatasync and once as an `RWF_DSYNC`
//!   write, interleaved sample by sample so that noise hits both alike.
//! - Sequential O_DIRECT write bandwidth with 1 MiB blocks at queue depth 4
//!   into a file written once before (as journal files are), ending with one
//!   fdatasync that counts towards the time.
//! - Sequential O_DIRECT read bandwidth of that file, same blocks and depth.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::error::DirectError;
use super::files::{open_direct, prepare_file, slot_file_name};
use super::inflight::Done;
use super::ring::{Ring, RingFlags, WriteSync};
use super::{DirectOptions, DirectStorage, SyncMode};
use crate::aligned::{AlignedBuf, BLOCK};
use crate::storage::{Completion, Op, Storage};

/// Sizes and bounds of the probe. With the defaults it takes about 1.5 s on a
/// disk like this machine's (~100 µs syncs, GB/s of bandwidth); on a slow disk
/// writing `seq_bytes` once to prepare the file dominates.
#[derive(Clone, Debug)]
pub struct FloorOptions {
    /// Latency samples per sync mode.
    pub latency_samples: usize,
    /// Writes per sync mode before sampling starts (discarded).
    pub latency_warmup: usize,
    /// Size of the prepared file the latency writes cycle through.
    pub latency_file_bytes: u64,
    /// Most bytes the sequential write writes (and the read reads back).
    pub seq_bytes: u64,
    /// Time after which the sequential write (or read) issues no more blocks.
    pub seq_time_limit: Duration,
    pub seq_block_bytes: usize,
    pub seq_queue_depth: usize,
    /// io_uring settings, as for the journal's storage.
    pub ring_flags: RingFlags,
}

impl Default for FloorOptions {
    fn default() -> Self {
        Self {
            latency_samples: 2000,
            latency_warmup: 20,
            latency_file_bytes: 16 << 20,
            seq_bytes: 512 << 20,
            seq_time_limit: Duration::from_millis(800),
            seq_block_bytes: 1 << 20,
            seq_queue_depth: 4,
            ring_flags: DirectOptions::default().ring_flags,
        }
    }
}

/// Bytes moved in a measured time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bandwidth {
    pub bytes: u64,
    pub elapsed: Duration,
}

impl Bandwidth {
    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The measured floor. Latencies are raw samples in nanoseconds, in the order
/// taken, so callers can build whatever histogram they report.
#[derive(Clone, Debug)]
pub struct Floor {
    /// 4 KiB write linked to an fdatasync ([`SyncMode::Fdatasync`]).
    pub sync_write_4k_ns: Vec<u64>,
    /// 4 KiB `RWF_DSYNC` write ([`SyncMode::Dsync`]).
    pub dsync_write_4k_ns: Vec<u64>,
    pub seq_write: Bandwidth,
    pub seq_read: Bandwidth,
}

/// Measures the floor of the filesystem holding `dir`, in a probe directory
/// inside it that is removed afterwards.
pub fn measure_floor(dir: &Path, opts: &FloorOptions) -> Result<Floor, DirectError> {
    assert!(opts.seq_block_bytes > 0 && opts.seq_block_bytes.is_multiple_of(BLOCK));
    assert!(opts.seq_queue_depth > 0 && opts.latency_file_bytes >= 2 * BLOCK as u64);
    let probe = ProbeDir {
        path: dir.join(format!(".spate-floor-{}", std::process::id())),
    };
    let (sync_write_4k_ns, dsync_write_4k_ns) = sync_latencies(&probe.path, opts)?;
    let fail = |what| {
        move |source| DirectError::Floor {
            dir: dir.to_path_buf(),
            what,
            source,
        }
    };
    // Like journal files, the file is written once before it is measured, so
    // the writes overwrite allocated blocks instead of converting unwritten
    // extents (here that alone is about 1.6 times slower).
    let block = opts.seq_block_bytes as u64;
    let seq_bytes = opts.seq_bytes / block * block;
    if seq_bytes > 0 {
        let prepared = prepare_file(&probe.seq_path(), seq_bytes, &AtomicBool::new(false));
        prepared.map_err(fail("prepare the sequential file"))?;
    }
    let file = open_direct(&probe.seq_path(), true).map_err(fail("open the sequential file"))?;
    let mut ring = Ring::new(opts.seq_queue_depth as u32 * 2, opts.ring_flags)
        .map_err(|source| DirectError::RingSetup { source })?;
    let seq_write = sequential(&mut ring, &file, opts, Direction::Write, seq_bytes)
        .map_err(fail("sequential write"))?;
    let seq_read = sequential(&mut ring, &file, opts, Direction::Read, seq_write.bytes)
        .map_err(fail("sequential read"))?;
    Ok(Floor {
        sync_write_4k_ns,
        dsync_write_4k_ns,
        seq_write,
        seq_read,
    })
}

/// Interleaved QD1 latency samples of both sync modes on one prepared file.
fn sync_latencies(dir: &Path, opts: &FloorOptions) -> Result<(Vec<u64>, Vec<u64>), DirectError> {
    let open = |sync| {
        let options = DirectOptions {
            sync,
            ring_flags: opts.ring_flags,
            ..Default::default()
        };
        DirectStorage::open(dir, options)
    };
    let mut fdatasync = open(SyncMode::Fdatasync)?;
    let mut dsync = open(SyncMode::Dsync)?;
    let fail = |what| {
        move |source| DirectError::Floor {
            dir: dir.to_path_buf(),
            what,
            source,
        }
    };
    let len = opts.latency_file_bytes / BLOCK as u64 * BLOCK as u64;
    fdatasync.submit(0, Op::Prepare { slot: 0, len });
    let (prepared, _) = wait_one(&mut fdatasync).map_err(fail("prepare the latency file"))?;
    prepared.map_err(fail("prepare the latency file"))?;

    let mut buf = AlignedBuf::new(BLOCK);
    fill_pattern(buf.spare_all(), 0x5eed);
    let blocks = len / BLOCK as u64;
    let mut samples = (Vec::new(), Vec::new());
    for i in 0..(opts.latency_warmup + opts.latency_samples) as u64 {
        // Each mode writes its own blocks: never the block just written.
        let offset = |mode: u64| ((2 * i + mode) % blocks) * BLOCK as u64;
        let (ns, back) = timed_write(&mut fdatasync, offset(0), buf).map_err(fail("fdatasync"))?;
        let (dns, back) = timed_write(&mut dsync, offset(1), back).map_err(fail("dsync write"))?;
        buf = back;
        if i >= opts.latency_warmup as u64 {
            samples.0.push(ns);
            samples.1.push(dns);
        }
    }
    Ok(samples)
}

/// One durable 4 KiB write at queue depth 1: its latency and its buffer back.
fn timed_write(
    storage: &mut DirectStorage,
    offset: u64,
    mut buf: AlignedBuf,
) -> io::Result<(u64, AlignedBuf)> {
    buf.set_len(BLOCK);
    let start = Instant::now();
    storage.submit(
        1,
        Op::DurableWrite {
            slot: 0,
            offset,
            buf,
        },
    );
    let (result, buf) = wait_one(storage)?;
    let ns = start.elapsed().as_nanos() as u64;
    result?;
    let buf = buf.ok_or_else(|| io::Error::other("durable write returned no buffer"))?;
    Ok((ns, buf))
}

/// Waits for the single outstanding operation of `storage`.
fn wait_one(storage: &mut DirectStorage) -> io::Result<(io::Result<()>, Option<AlignedBuf>)> {
    let mut out = Vec::with_capacity(1);
    while out.is_empty() {
        storage.reap(true, &mut out)?;
    }
    assert_eq!(out.len(), 1, "one operation was outstanding");
    let Completion { result, buf, .. } = out.remove(0);
    Ok((result, buf))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Write,
    Read,
}

/// Moves up to `limit` bytes sequentially through `file`, keeping
/// `seq_queue_depth` blocks in flight, and stops issuing blocks once
/// `seq_time_limit` has passed. A write ends with an fdatasync inside the time.
fn sequential(
    ring: &mut Ring<u64>,
    file: &File,
    opts: &FloorOptions,
    direction: Direction,
    limit: u64,
) -> io::Result<Bandwidth> {
    let fd = file.as_raw_fd();
    let block = opts.seq_block_bytes as u64;
    let mut idle: Vec<AlignedBuf> = (0..opts.seq_queue_depth)
        .map(|i| {
            let mut buf = AlignedBuf::new(opts.seq_block_bytes);
            fill_pattern(buf.spare_all(), i as u64 + 1);
            buf
        })
        .collect();
    let (mut next, mut bytes) = (0u64, 0u64);
    let mut done: Vec<Done<u64>> = Vec::new();
    let start = Instant::now();
    loop {
        let open = next + block <= limit && start.elapsed() < opts.seq_time_limit;
        while open
            && next + block <= limit
            && let Some(mut buf) = idle.pop()
        {
            if direction == Direction::Write {
                buf.set_len(opts.seq_block_bytes);
                ring.write(fd, next, buf, WriteSync::None, next);
            } else {
                ring.read(fd, next, buf, next);
            }
            next += block;
        }
        if ring.in_flight() == 0 {
            break;
        }
        ring.reap(true, &mut done)?;
        for Done { result, buf, .. } in done.drain(..) {
            let moved = result?;
            if moved as u64 != block {
                let msg = format!("short transfer: {moved} of {block} bytes");
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
            }
            bytes += block;
            idle.extend(buf);
        }
    }
    if direction == Direction::Write {
        ring.fdatasync(fd, u64::MAX);
        while done.is_empty() {
            ring.reap(true, &mut done)?;
        }
        for d in done.drain(..) {
            d.result?;
        }
    }
    Ok(Bandwidth {
        bytes,
        elapsed: start.elapsed(),
    })
}

/// Deterministic non-zero bytes, so that no layer can shortcut zero pages.
fn fill_pattern(bytes: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for chunk in bytes.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

/// The probe's directory; removes the files the probe makes, then itself.
struct ProbeDir {
    path: PathBuf,
}

impl ProbeDir {
    fn seq_path(&self) -> PathBuf {
        self.path.join("sequential.probe")
    }
}

impl Drop for ProbeDir {
    fn drop(&mut self) {
        // Best effort: a leftover probe directory is harmless and reused.
        let _ = fs::remove_file(self.path.join(slot_file_name(0)));
        let _ = fs::remove_file(self.seq_path());
        let _ = fs::remove_dir(&self.path);
    }
}

/// Latency of 4 KiB durable writes at queue depth 1, one every `interval`,
/// in `sync` mode: the floor to compare a paced workload with. Back-to-back
/// writes keep every layer below busy; writes with idle time between them
/// often wait for something to wake up (here, a virtualised disk path costs
/// tens of microseconds more at 1,000 writes/s than back to back).
pub fn paced_write_latencies(
    dir: &Path,
    sync: SyncMode,
    interval: Duration,
    samples: usize,
    ring_flags: RingFlags,
) -> Result<Vec<u64>, DirectError> {
    let probe = ProbeDir {
        path: dir.join(format!(".spate-paced-floor-{}", std::process::id())),
    };
    let fail = |what| {
        move |source| DirectError::Floor {
            dir: dir.to_path_buf(),
            what,
            source,
        }
    };
    let options = DirectOptions {
        sync,
        ring_flags,
        ..Default::default()
    };
    let mut storage = DirectStorage::open(&probe.path, options)?;
    let blocks = 4096u64;
    storage.submit(
        0,
        Op::Prepare {
            slot: 0,
            len: blocks * BLOCK as u64,
        },
    );
    let (prepared, _) = wait_one(&mut storage).map_err(fail("prepare the paced latency file"))?;
    prepared.map_err(fail("prepare the paced latency file"))?;
    let mut buf = AlignedBuf::new(BLOCK);
    fill_pattern(buf.spare_all(), 0x9ace);
    let start = Instant::now();
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples as u64 {
        sleep_until(start + interval.saturating_mul(i as u32));
        let offset = (i % blocks) * BLOCK as u64;
        let (ns, back) = timed_write(&mut storage, offset, buf).map_err(fail("paced write"))?;
        buf = back;
        out.push(ns);
    }
    Ok(out)
}

/// Sleeps until `t`, spinning the last stretch: a sleep overshoots. Used by
/// every open-loop sender (this probe and `spate-bench`).
pub fn sleep_until(t: Instant) {
    const SPIN: Duration = Duration::from_micros(50);
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        match (t - now).checked_sub(SPIN) {
            Some(sleep) if !sleep.is_zero() => std::thread::sleep(sleep),
            _ => std::hint::spin_loop(),
        }
    }
}
