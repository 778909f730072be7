//! The journal's [`Storage`] on glommio's DMA files.
//!
//! Two phases. While the node starts (recovery, before the executor serves
//! anything) operations run synchronously with std calls, because
//! `Journal::open` waits for them. Once serving, every operation runs as a
//! glommio task on the core's own io_uring; the completion lands in a queue
//! and wakes the journal driver.
//!
//! Journal files are opened `O_DIRECT | O_DSYNC`, so a write completes only
//! once its data is durable: one device round trip instead of a write and
//! then an fdatasync (measured here: about 90 µs against 150-200 µs).
//!
//! Tests can make operations fail (EIO on a write or its flush, ENOSPC on a
//! file preparation) with a fault plan in the environment; see [`faults`].
//! Without one, no operation pays for it beyond an `Option` check.

mod faults;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::rc::Rc;

use glommio::io::{DmaFile, OpenOptions as DmaOpenOptions};
use spate_journal::direct::{prepare_journal_file, read_full_at, slot_path};
use spate_journal::{AlignedBuf, Completion, Op, Slot, SlotInfo, Storage};

use super::metrics::CoreMetrics;
use super::notify::Notify;
use faults::{FaultPlan, Verdict};

pub struct GlommioStorage {
    dir: PathBuf,
    serving: bool,
    /// DMA files opened by serving-phase writes, one per slot.
    files: Rc<RefCell<HashMap<Slot, Rc<DmaFile>>>>,
    done: Rc<RefCell<Vec<Completion>>>,
    outstanding: Rc<Cell<usize>>,
    notify: Notify,
    /// Injected faults (tests only; see [`faults`]).
    faults: Option<FaultPlan>,
    /// Whether the last file preparation failed, so a disk that stays full
    /// is logged once rather than at every retry.
    prepare_failing: Rc<Cell<bool>>,
    /// The core's counters: journal writes, their bytes and latency.
    metrics: Rc<CoreMetrics>,
}

impl GlommioStorage {
    pub fn new(dir: PathBuf, notify: Notify) -> io::Result<Self> {
        let faults =
            FaultPlan::from_env().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            serving: false,
            files: Rc::default(),
            done: Rc::default(),
            outstanding: Rc::default(),
            notify,
            faults,
            prepare_failing: Rc::default(),
            metrics: Rc::default(),
        })
    }

    /// Counts journal writes into the core's `metrics`.
    pub fn with_metrics(mut self, metrics: Rc<CoreMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// A handle that reads journal files back, sharing this storage's open
    /// files.
    pub fn reader(&self) -> JournalReader {
        JournalReader {
            files: self.files.clone(),
            dir: self.dir.clone(),
        }
    }

    /// Switches to asynchronous operations on the executor: from now on
    /// nothing blocks the core.
    pub fn start_serving(&mut self) {
        assert_eq!(
            self.outstanding.get(),
            0,
            "no operation outstanding at the switch"
        );
        self.serving = true;
    }

    /// What the fault plan, if any, does to `op`.
    fn verdict(&self, op: &Op) -> Verdict {
        match (&self.faults, op) {
            (None, _) => Verdict::Pass,
            (Some(plan), Op::DurableWrite { .. }) => plan.on_write(),
            // Only a preparation that allocates can run out of space: a
            // file of full size is only synced (see `prepare_journal_file`).
            (Some(plan), Op::Prepare { slot, len }) if !has_len(&self.dir, *slot, *len) => {
                plan.on_prepare()
            }
            (Some(_), Op::Prepare { .. }) => Verdict::Pass,
        }
    }

    fn run_blocking(&mut self, token: u64, op: Op, verdict: Verdict) {
        let (result, buf) = match op {
            Op::DurableWrite { slot, offset, buf } => (
                verdict.apply(|| blocking_write(&slot_path(&self.dir, slot), offset, &buf)),
                Some(buf),
            ),
            Op::Prepare { slot, len } => {
                let path = slot_path(&self.dir, slot);
                let result = verdict.apply(|| prepare_journal_file(&path, len));
                log_preparation(&self.prepare_failing, slot, &result.as_ref());
                (result, None)
            }
        };
        self.done
            .borrow_mut()
            .push(Completion { token, result, buf });
    }

    /// Runs `op` as a task on the executor. An injected failure completes
    /// the way a real one does (a task, and for a preparation the blocking
    /// pool): a completion that arrived within `submit` would let the
    /// journal driver resubmit a failing preparation and reap it again
    /// without ever yielding the core.
    fn spawn(&mut self, token: u64, op: Op, verdict: Verdict) {
        let (files, done, outstanding, notify) = (
            self.files.clone(),
            self.done.clone(),
            self.outstanding.clone(),
            self.notify.clone(),
        );
        let prepare_failing = self.prepare_failing.clone();
        let metrics = self.metrics.clone();
        let dir = self.dir.clone();
        outstanding.set(outstanding.get() + 1);
        glommio::spawn_local(async move {
            let completion = match op {
                Op::DurableWrite { slot, offset, buf } => {
                    let submitted = std::time::Instant::now();
                    let result = verdict
                        .apply_async(|| durable_write(&files, &dir, slot, offset, &buf))
                        .await;
                    if result.is_ok() {
                        metrics.journal_written(buf.len(), submitted.elapsed());
                    }
                    Completion {
                        token,
                        result,
                        buf: Some(buf),
                    }
                }
                Op::Prepare { slot, len } => {
                    files.borrow_mut().remove(&slot);
                    let path = slot_path(&dir, slot);
                    // An injected failure, like a real one, comes back
                    // from the blocking pool.
                    let result = glommio::executor()
                        .spawn_blocking(move || verdict.apply(|| prepare_journal_file(&path, len)))
                        .await;
                    log_preparation(&prepare_failing, slot, &result.as_ref());
                    Completion {
                        token,
                        result,
                        buf: None,
                    }
                }
            };
            outstanding.set(outstanding.get() - 1);
            done.borrow_mut().push(completion);
            notify.signal();
        })
        .detach();
    }
}

impl Storage for GlommioStorage {
    fn slots(&mut self) -> io::Result<Vec<SlotInfo>> {
        spate_journal::direct::list_slots(&self.dir)
    }

    fn read_at(&mut self, slot: Slot, offset: u64, buf: &mut AlignedBuf) -> io::Result<()> {
        // Only recovery reads, before the node serves: blocking is fine.
        let file = File::open(slot_path(&self.dir, slot))?;
        read_full_at(&file, offset, buf)
    }

    fn submit(&mut self, token: u64, op: Op) {
        let verdict = self.verdict(&op);
        if self.serving {
            self.spawn(token, op, verdict)
        } else {
            self.run_blocking(token, op, verdict)
        }
    }

    fn reap(&mut self, _wait: bool, out: &mut Vec<Completion>) -> io::Result<()> {
        // Serving: the journal driver waits on `Notify`, never here.
        out.append(&mut self.done.borrow_mut());
        Ok(())
    }
}

/// Reads journal files back on the core's io_uring (O_DIRECT, aligned).
#[derive(Clone)]
pub struct JournalReader {
    files: Rc<RefCell<HashMap<Slot, Rc<DmaFile>>>>,
    dir: PathBuf,
}

impl JournalReader {
    /// Reads `len` bytes at `offset` of slot `slot`; both block-aligned.
    pub async fn read(&self, slot: Slot, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let file = dma_file(&self.files, &self.dir, slot).await?;
        read_exact_aligned(&file, offset, len).await
    }
}

/// Exactly `len` bytes at `offset` of a DMA file (both block-aligned); a
/// short read is an error. Shared by journal and hot chunk read-backs.
pub(super) async fn read_exact_aligned(
    file: &DmaFile,
    offset: u64,
    len: usize,
) -> io::Result<Vec<u8>> {
    let read = file
        .read_at_aligned(offset, len)
        .await
        .map_err(io::Error::from)?;
    if read.len() < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("short read: {} of {len} bytes", read.len()),
        ));
    }
    Ok(read[..len].to_vec())
}

fn blocking_write(path: &std::path::Path, offset: u64, buf: &AlignedBuf) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    file.write_all_at(buf.as_slice(), offset)?;
    file.sync_data()
}

/// Logs a failed preparation (ENOSPC, usually: the journal directory is
/// full) when preparations start failing, and when they succeed again. The
/// journal retries a failed preparation, so a full disk would otherwise log
/// at every retry, or, if only the first failure were logged, never say
/// that it recovered.
fn log_preparation(failing: &Cell<bool>, slot: Slot, result: &Result<&(), &io::Error>) {
    match result {
        Err(error) if !failing.replace(true) => tracing::warn!(
            slot,
            %error,
            "cannot prepare a journal file; appends wait for one, and it is retried"
        ),
        Ok(_) if failing.replace(false) => {
            tracing::info!(slot, "prepared a journal file again")
        }
        _ => {}
    }
}

/// Whether slot `slot` is already a file of `len` bytes.
fn has_len(dir: &std::path::Path, slot: Slot, len: u64) -> bool {
    std::fs::metadata(slot_path(dir, slot)).is_ok_and(|m| m.len() == len)
}

async fn durable_write(
    files: &Rc<RefCell<HashMap<Slot, Rc<DmaFile>>>>,
    dir: &std::path::Path,
    slot: Slot,
    offset: u64,
    buf: &AlignedBuf,
) -> io::Result<()> {
    let file = dma_file(files, dir, slot).await?;
    let mut dma = file.alloc_dma_buffer(buf.len());
    dma.as_bytes_mut().copy_from_slice(buf.as_slice());
    let written = file.write_at(dma, offset).await.map_err(io::Error::from)?;
    if written != buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write: {written} of {} bytes", buf.len()),
        ));
    }
    // O_DSYNC: the completed write is durable; no separate sync.
    Ok(())
}

async fn dma_file(
    files: &Rc<RefCell<HashMap<Slot, Rc<DmaFile>>>>,
    dir: &std::path::Path,
    slot: Slot,
) -> io::Result<Rc<DmaFile>> {
    if let Some(file) = files.borrow().get(&slot) {
        return Ok(file.clone());
    }
    // O_DSYNC is what makes a completed write durable: see the module docs.
    let file = DmaOpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DSYNC)
        .dma_open(slot_path(dir, slot))
        .await
        .map_err(io::Error::from)?;
    let file = Rc::new(file);
    files.borrow_mut().insert(slot, file.clone());
    Ok(file)
}
