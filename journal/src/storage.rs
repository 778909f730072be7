//! The seam between the journal's logic and a disk.
//!
//! The journal never calls the operating system itself. It submits operations to
//! a [`Storage`] and reaps their completions, the way io_uring works. Two
//! implementations exist: [`crate::direct::DirectStorage`] (O_DIRECT files driven
//! by io_uring) and [`crate::sim::SimDisk`] (a simulated disk that loses unsynced
//! sectors, tears writes, flips bits and fails operations, for tests).

use std::io;

use crate::aligned::AlignedBuf;

/// Number of a journal file within its directory (file name `NNNNNNNN.journal`).
///
/// A slot is a physical file; the same slot is reused for many logical files
/// over the life of a journal, each with a new file sequence number.
pub type Slot = u32;

/// A journal file found in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub slot: Slot,
    pub len: u64,
}

/// An operation the journal asks storage to perform asynchronously.
#[derive(Debug)]
pub enum Op {
    /// Write `buf` (block-aligned, `buf.len()` bytes) at `offset` of `slot`, and
    /// complete only once those bytes are durable (write + fdatasync, or an
    /// O_DSYNC write). The buffer comes back in the completion for reuse.
    DurableWrite {
        slot: Slot,
        offset: u64,
        buf: AlignedBuf,
    },
    /// Make `slot` a file of exactly `len` bytes, fully allocated and durable,
    /// with its directory entry durable. A new file is filled with zeros so that
    /// later syncs do not have to update extent metadata. An existing file of the
    /// right size is left as it is (its old contents are harmless: every record
    /// names the file sequence it belongs to).
    Prepare { slot: Slot, len: u64 },
}

/// The outcome of one submitted [`Op`].
#[derive(Debug)]
pub struct Completion {
    /// The token passed to [`Storage::submit`].
    pub token: u64,
    pub result: io::Result<()>,
    /// The buffer of a `DurableWrite`, returned for reuse.
    pub buf: Option<AlignedBuf>,
}

/// A disk as the journal sees it: a set of numbered files, blocking reads for
/// recovery, and asynchronous durable writes for appends.
///
/// Storage never reorders the *effect* of operations it was not asked to
/// order; completions may arrive in any order.
pub trait Storage {
    /// The journal files present, in no particular order.
    fn slots(&mut self) -> io::Result<Vec<SlotInfo>>;

    /// Reads up to `buf.capacity()` bytes at `offset` (block-aligned) into `buf`
    /// and sets `buf`'s length to the number of bytes read (short only at the
    /// end of the file). Blocking; used by recovery and offline tools.
    fn read_at(&mut self, slot: Slot, offset: u64, buf: &mut AlignedBuf) -> io::Result<()>;

    /// Queues `op`. Never blocks. The journal bounds how many operations it has
    /// outstanding, so storage needs no queue of its own beyond that bound.
    fn submit(&mut self, token: u64, op: Op);

    /// Moves finished operations to `out`. With `wait`, blocks until at least
    /// one operation has finished if any is outstanding.
    fn reap(&mut self, wait: bool, out: &mut Vec<Completion>) -> io::Result<()>;
}
