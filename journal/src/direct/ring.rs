//! An io_uring that owns the buffers of its operations.
//!
//! This is the only module of `direct` with `unsafe` code. The kernel reads and
//! writes the memory of a submitted operation until its completion (CQE)
//! arrives, so every buffer handed to [`Ring`] moves into its in-flight table
//! and comes back only in the [`Done`] of that operation. Nothing else can touch
//! it in between, and [`Ring`]'s `Drop` waits for every outstanding CQE before
//! the table (and the buffers in it) is freed.
//!
//! The two small libc wrappers at the bottom (`eventfd`, `fallocate`) live here
//! too, so that the rest of the backend is safe code.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use io_uring::{IoUring, opcode, squeue, types};

use super::inflight::{CANCEL_USER_DATA, Done, InFlight, Kind, Table, user_data};
use crate::aligned::AlignedBuf;

/// How a write becomes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteSync {
    /// A plain write: durable only after a later sync.
    None,
    /// One write with `RWF_DSYNC`: the kernel syncs the data before completing it.
    Dsync,
    /// A write linked (`IOSQE_IO_LINK`) to an `fdatasync`. A failed or short write
    /// breaks the link, and the kernel fails the sync with `ECANCELED`.
    Fdatasync,
}

/// Kernel features the ring was set up with, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingFlags {
    /// `IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG`: completions are
    /// posted at the next syscall instead of by interrupting the thread.
    pub coop_taskrun: bool,
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN`: completions are
    /// posted only when the owning thread asks for them. Binds the ring to the
    /// thread that created it.
    pub defer_taskrun: bool,
}

/// An io_uring plus the table of operations in flight on it.
pub(crate) struct Ring<T> {
    ring: IoUring,
    flags: RingFlags,
    table: Table<T>,
    /// Operations that failed before reaching the kernel, reported by the next reap.
    failed: Vec<Done<T>>,
}

impl<T> Ring<T> {
    /// Sets up a ring of `entries` submission slots, with the taskrun flags
    /// requested in `want` where the kernel accepts them.
    pub fn new(entries: u32, want: RingFlags) -> io::Result<Self> {
        let mut flags = want;
        let ring = loop {
            let mut builder = IoUring::builder();
            builder
                .setup_cqsize(entries.saturating_mul(2))
                .setup_submit_all();
            if flags.coop_taskrun {
                builder.setup_coop_taskrun().setup_taskrun_flag();
            }
            if flags.defer_taskrun {
                builder.setup_single_issuer().setup_defer_taskrun();
            }
            match builder.build(entries) {
                Ok(ring) => break ring,
                // An older kernel rejects flags it does not know: drop them, newest first.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && flags.defer_taskrun => {
                    flags.defer_taskrun = false;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && flags.coop_taskrun => {
                    flags.coop_taskrun = false;
                }
                Err(e) => return Err(e),
            }
        };
        let table = Table::new();
        Ok(Self {
            ring,
            flags,
            table,
            failed: Vec::new(),
        })
    }

    pub fn flags(&self) -> RingFlags {
        self.flags
    }

    /// Operations whose completion has not been reaped yet.
    pub fn in_flight(&self) -> usize {
        self.table.live() + self.failed.len()
    }

    /// Writes `buf[..len]` at `offset` of `fd`. The caller keeps `fd` open until
    /// the operation is reaped.
    pub fn write(&mut self, fd: RawFd, offset: u64, buf: AlignedBuf, sync: WriteSync, tag: T) {
        let len = transfer_len(buf.len());
        let rw_flags = if sync == WriteSync::Dsync {
            libc::RWF_DSYNC
        } else {
            0
        };
        let cqes = if sync == WriteSync::Fdatasync { 2 } else { 1 };
        let index = self
            .table
            .insert(InFlight::new(tag, Kind::Write, Some(buf), cqes));
        let ptr = self.table.buf_ptr(index);
        let write = opcode::Write::new(types::Fd(fd), ptr, len)
            .offset(offset)
            .rw_flags(rw_flags)
            .build()
            .user_data(user_data(index, 0));
        if sync == WriteSync::Fdatasync {
            let fsync = opcode::Fsync::new(types::Fd(fd))
                .flags(types::FsyncFlags::DATASYNC)
                .build()
                .user_data(user_data(index, 1));
            self.push(index, &[write.flags(squeue::Flags::IO_LINK), fsync]);
        } else {
            self.push(index, &[write]);
        }
    }

    /// Reads up to `buf.capacity()` bytes at `offset` of `fd` into `buf`.
    pub fn read(&mut self, fd: RawFd, offset: u64, buf: AlignedBuf, tag: T) {
        let len = transfer_len(buf.capacity());
        let index = self
            .table
            .insert(InFlight::new(tag, Kind::Read, Some(buf), 1));
        let ptr = self.table.buf_ptr(index);
        let read = opcode::Read::new(types::Fd(fd), ptr, len)
            .offset(offset)
            .build()
            .user_data(user_data(index, 0));
        self.push(index, &[read]);
    }

    /// `fdatasync(fd)`.
    pub fn fdatasync(&mut self, fd: RawFd, tag: T) {
        let index = self.table.insert(InFlight::new(tag, Kind::Sync, None, 1));
        let sync = opcode::Fsync::new(types::Fd(fd))
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(user_data(index, 0));
        self.push(index, &[sync]);
    }

    /// Submits queued SQEs and moves finished operations to `out`. With `wait`,
    /// blocks until at least one CQE has arrived if anything is in flight.
    pub fn reap(&mut self, wait: bool, out: &mut Vec<Done<T>>) -> io::Result<()> {
        let wait = wait && self.failed.is_empty() && self.table.live() > 0;
        out.append(&mut self.failed);
        self.enter(wait)?;
        self.drain(out);
        Ok(())
    }

    fn enter(&mut self, wait: bool) -> io::Result<()> {
        loop {
            let sq = self.ring.submission();
            let needed = wait || !sq.is_empty() || sq.taskrun() || sq.cq_overflow();
            drop(sq);
            if !needed {
                return Ok(());
            }
            let Err(error) = self.ring.submitter().submit_and_wait(usize::from(wait)) else {
                return Ok(());
            };
            match error.raw_os_error() {
                Some(libc::EINTR) => continue,
                // The CQ is full (EBUSY) or the kernel is short of memory (EAGAIN):
                // the caller drains completions, which makes room, and tries again.
                Some(libc::EBUSY | libc::EAGAIN) => return Ok(()),
                _ => return Err(error),
            }
        }
    }

    fn drain(&mut self, out: &mut Vec<Done<T>>) {
        for cqe in self.ring.completion() {
            if let Some(done) = self.table.complete(cqe.user_data(), cqe.result()) {
                out.push(done);
            }
        }
    }

    /// Pushes the SQEs of operation `index`, all or none, submitting first if
    /// the SQ lacks room. An operation that cannot be queued fails at once.
    fn push(&mut self, index: usize, entries: &[squeue::Entry]) {
        let room = |ring: &mut IoUring| {
            let sq = ring.submission();
            sq.capacity() - sq.len() >= entries.len()
        };
        let mut result = Ok(());
        if !room(&mut self.ring) {
            result = self.ring.submit().map(drop);
        }
        if result.is_ok() {
            // SAFETY: every pointer in `entries` points into the heap allocation
            // of the `AlignedBuf` owned by table entry `index` (or is absent, for
            // a sync), whose address does not change when the `AlignedBuf` value
            // moves. The entry stays in the table, untouched, until the last CQE
            // of the operation arrives (`Table::complete`), and `Drop` waits for
            // every CQE (or leaks the table) before the buffers can be freed. The
            // length passed is within the buffer (`transfer_len` of its length
            // or capacity).
            let pushed = unsafe { self.ring.submission().push_multiple(entries) };
            result = pushed.map_err(|_| io::Error::other("io_uring submission queue is full"));
        }
        if let Err(error) = result {
            let op = self.table.remove(index);
            self.failed.push(op.fail(error));
        }
    }

    /// Asks the kernel to cancel every operation still in flight and waits for
    /// all their CQEs. Writes already at the device are not cancelled; they finish.
    fn cancel_and_wait(&mut self) -> io::Result<()> {
        for index in self.table.live_indices() {
            let cancel = opcode::AsyncCancel::new(user_data(index, 0)).build();
            let cancel = cancel.user_data(CANCEL_USER_DATA);
            if self.ring.submission().is_full() {
                self.ring.submit()?;
            }
            // SAFETY: a cancel request carries no buffer.
            let pushed = unsafe { self.ring.submission().push(&cancel) };
            pushed.map_err(|_| io::Error::other("io_uring submission queue is full"))?;
        }
        let mut done = Vec::new();
        while self.table.live() > 0 {
            self.enter(true)?;
            self.drain(&mut done);
            done.clear();
        }
        Ok(())
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        if self.table.live() == 0 {
            return;
        }
        if self.cancel_and_wait().is_err() {
            // The kernel may still use the buffers; leaking them is the only
            // safe choice left.
            self.table.leak();
        }
    }
}

fn transfer_len(len: usize) -> u32 {
    match u32::try_from(len) {
        Ok(len) => len,
        Err(_) => panic!("transfer of {len} bytes exceeds what one io_uring operation can carry"),
    }
}

/// A new eventfd (counter 0, blocking, close-on-exec), as a `File` so that
/// writers can use `std::io::Write`.
pub(crate) fn eventfd() -> io::Result<File> {
    // SAFETY: plain syscall without pointers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Allocates `[0, len)` of `file` without changing its size
/// (`FALLOC_FL_KEEP_SIZE`).
pub(crate) fn fallocate_keep_size(file: &File, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(io::Error::other)?;
    loop {
        // SAFETY: plain syscall on a descriptor `file` keeps open; no pointers.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, len) };
        if rc == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}
