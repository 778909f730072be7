//! The real disk: journal files opened with O_DIRECT, written through io_uring.
//!
//! A durable write is one io_uring operation (`RWF_DSYNC`) or a write linked to
//! an `fdatasync`, depending on [`SyncMode`]. Preparing a file (allocating and
//! zero-filling it) is slow, so a background thread does it and wakes the ring
//! through an eventfd when done. `unsafe` code lives only in `ring`.

mod error;
mod files;
pub mod floor;
mod inflight;
mod prepare;
mod ring;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub use error::DirectError;
pub use files::{list_slots, probe_direct_io, read_full_at, slot_path};
pub use floor::{Bandwidth, Floor, FloorOptions, measure_floor, paced_write_latencies};
pub use ring::RingFlags;

/// Makes `path` a journal file of `len` bytes (allocated, zero-filled unless it
/// already has that size, durable with its directory entry): what
/// [`Op::Prepare`](crate::Op::Prepare) does, for storage implemented elsewhere
/// (the node's glommio storage runs it on a blocking thread).
pub fn prepare_journal_file(path: &std::path::Path, len: u64) -> std::io::Result<()> {
    files::prepare_file(path, len, &std::sync::atomic::AtomicBool::new(false))
}

use crate::aligned::{AlignedBuf, BLOCK};
use crate::storage::{Completion, Op, Slot, SlotInfo, Storage};
use inflight::Done;
use prepare::PrepareWorker;
use ring::{Ring, WriteSync};

/// How a durable write reaches the platter (or the device's safe cache).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// One write with `RWF_DSYNC` (like an O_DSYNC file): a single operation.
    Dsync,
    /// A write linked to an `fdatasync`: two operations the kernel runs in order.
    Fdatasync,
}

impl SyncMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dsync => "dsync",
            Self::Fdatasync => "fdatasync",
        }
    }
}

/// Settings of a [`DirectStorage`].
#[derive(Clone, Debug)]
pub struct DirectOptions {
    pub sync: SyncMode,
    /// Submission queue slots (at least 2). The journal keeps a handful of
    /// operations outstanding, each taking at most two slots.
    pub ring_entries: u32,
    /// io_uring taskrun settings to ask for; those the kernel rejects are dropped.
    pub ring_flags: RingFlags,
}

impl Default for DirectOptions {
    fn default() -> Self {
        Self {
            sync: SyncMode::Dsync,
            ring_entries: 64,
            ring_flags: RingFlags {
                coop_taskrun: true,
                defer_taskrun: false,
            },
        }
    }
}

/// Who a ring operation belongs to.
enum Tag {
    /// A journal operation, with the journal's token.
    Journal(u64),
    /// The standing read of the prepare worker's eventfd.
    Wakeup,
}

/// O_DIRECT journal files in one directory, driven by one io_uring.
pub struct DirectStorage {
    // Field order is drop order: the ring goes first, and its `Drop` waits for
    // every operation in flight while the files and the eventfd they use are
    // still open.
    ring: Ring<Tag>,
    worker: PrepareWorker,
    files: HashMap<Slot, File>,
    wakeup: File,
    dir: PathBuf,
    sync: WriteSync,
    /// Journal writes in the ring, and prepares at the worker.
    writes_in_flight: usize,
    prepares_in_flight: usize,
    /// Operations that failed before starting, for the next `reap`.
    ready: Vec<Completion>,
    /// Scratch for ring completions, kept to avoid allocating per reap.
    done: Vec<Done<Tag>>,
}

impl DirectStorage {
    /// Opens (creating it if needed) the journal directory `dir`.
    pub fn open(dir: &Path, options: DirectOptions) -> Result<Self, DirectError> {
        files::ensure_dir(dir)?;
        files::probe_direct_io(dir)?;
        let ring = Ring::new(options.ring_entries.max(2), options.ring_flags)
            .map_err(|source| DirectError::RingSetup { source })?;
        let wakeup = ring::eventfd().map_err(|source| DirectError::Worker { source })?;
        let worker_wakeup = wakeup
            .try_clone()
            .map_err(|source| DirectError::Worker { source })?;
        let worker =
            PrepareWorker::start(worker_wakeup).map_err(|source| DirectError::Worker { source })?;
        let sync = match options.sync {
            SyncMode::Dsync => WriteSync::Dsync,
            SyncMode::Fdatasync => WriteSync::Fdatasync,
        };
        let mut storage = Self {
            ring,
            worker,
            files: HashMap::new(),
            wakeup,
            dir: dir.to_path_buf(),
            sync,
            writes_in_flight: 0,
            prepares_in_flight: 0,
            ready: Vec::new(),
            done: Vec::new(),
        };
        storage.arm_wakeup(AlignedBuf::new(BLOCK));
        Ok(storage)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The io_uring settings the kernel accepted.
    pub fn ring_flags(&self) -> RingFlags {
        self.ring.flags()
    }

    /// Operations submitted and not yet reaped.
    fn outstanding(&self) -> usize {
        self.writes_in_flight + self.prepares_in_flight + self.ready.len()
    }

    /// The cached O_DIRECT descriptor of `slot`, opened on first use. Slots are
    /// never closed while the storage lives, so descriptors in the ring stay valid.
    fn file(&mut self, slot: Slot) -> io::Result<&File> {
        if !self.files.contains_key(&slot) {
            let file = files::open_direct(&files::slot_path(&self.dir, slot), false)?;
            self.files.insert(slot, file);
        }
        Ok(&self.files[&slot])
    }

    fn arm_wakeup(&mut self, buf: AlignedBuf) {
        self.ring.read(self.wakeup.as_raw_fd(), 0, buf, Tag::Wakeup);
    }

    fn submit_write(&mut self, token: u64, slot: Slot, offset: u64, buf: AlignedBuf) {
        assert!(
            offset.is_multiple_of(BLOCK as u64),
            "write offset {offset} is not block-aligned"
        );
        assert!(
            !buf.is_empty() && buf.len().is_multiple_of(BLOCK),
            "write of {} bytes is not whole blocks",
            buf.len()
        );
        let fd = match self.file(slot) {
            Ok(file) => file.as_raw_fd(),
            Err(error) => {
                self.ready.push(Completion {
                    token,
                    result: Err(error),
                    buf: Some(buf),
                });
                return;
            }
        };
        self.writes_in_flight += 1;
        self.ring
            .write(fd, offset, buf, self.sync, Tag::Journal(token));
    }

    fn submit_prepare(&mut self, token: u64, slot: Slot, len: u64) {
        assert!(
            len > 0 && len.is_multiple_of(BLOCK as u64),
            "file length {len} is not whole blocks"
        );
        let path = files::slot_path(&self.dir, slot);
        match self.worker.submit(token, path, len) {
            Ok(()) => self.prepares_in_flight += 1,
            Err((token, result)) => self.ready.push(Completion {
                token,
                result,
                buf: None,
            }),
        }
    }

    /// Moves finished prepares to `out`.
    fn collect_prepares(&mut self, out: &mut Vec<Completion>) {
        while let Some((token, result)) = self.worker.try_result() {
            self.prepares_in_flight -= 1;
            out.push(Completion {
                token,
                result,
                buf: None,
            });
        }
    }

    /// Moves finished ring operations to `out`, re-arming the eventfd read.
    fn collect_ring(&mut self, wait: bool, out: &mut Vec<Completion>) -> io::Result<()> {
        let mut done = std::mem::take(&mut self.done);
        let reaped = self.ring.reap(wait, &mut done);
        let mut wakeup_error = None;
        for Done { tag, result, buf } in done.drain(..) {
            match (tag, buf) {
                (Tag::Journal(token), buf) => {
                    self.writes_in_flight -= 1;
                    out.push(Completion {
                        token,
                        result: result.map(drop),
                        buf,
                    });
                }
                (Tag::Wakeup, Some(buf)) if result.is_ok() => self.arm_wakeup(buf),
                (Tag::Wakeup, _) => wakeup_error = result.err(),
            }
        }
        self.done = done;
        reaped?;
        match wakeup_error {
            // Without the wakeup a waiting reap could sleep through a prepare.
            Some(error) => Err(io::Error::new(
                error.kind(),
                format!("eventfd read: {error}"),
            )),
            None => Ok(()),
        }
    }
}

impl Storage for DirectStorage {
    fn slots(&mut self) -> io::Result<Vec<SlotInfo>> {
        files::list_slots(&self.dir)
    }

    fn read_at(&mut self, slot: Slot, offset: u64, buf: &mut AlignedBuf) -> io::Result<()> {
        let file = self.file(slot)?;
        files::read_full_at(file, offset, buf)
    }

    fn submit(&mut self, token: u64, op: Op) {
        match op {
            Op::DurableWrite { slot, offset, buf } => self.submit_write(token, slot, offset, buf),
            Op::Prepare { slot, len } => self.submit_prepare(token, slot, len),
        }
    }

    fn reap(&mut self, wait: bool, out: &mut Vec<Completion>) -> io::Result<()> {
        let before = out.len();
        out.append(&mut self.ready);
        loop {
            self.collect_prepares(out);
            // Block only while nothing has finished yet and something will:
            // the eventfd read ends the wait when a prepare completes.
            let block = wait && out.len() == before && self.outstanding() > 0;
            self.collect_ring(block, out)?;
            self.collect_prepares(out);
            if !block || out.len() > before || self.outstanding() == 0 {
                return Ok(());
            }
        }
    }
}

impl std::fmt::Debug for DirectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectStorage")
            .field("dir", &self.dir)
            .field("sync", &self.sync)
            .field("writes_in_flight", &self.writes_in_flight)
            .field("prepares_in_flight", &self.prepares_in_flight)
            .finish()
    }
}
