//! The table of operations in flight on a ring.
//!
//! An entry owns its operation's buffer from submission until the last CQE of
//! the operation has arrived; `ring` relies on this for the safety of the
//! pointers it gives the kernel. A write linked to a sync has two CQEs; its
//! result is the write's error if it failed, else the sync's.

use std::io;

use crate::aligned::AlignedBuf;

/// `user_data` of cancel requests; their CQEs carry no state.
pub(crate) const CANCEL_USER_DATA: u64 = u64::MAX;

/// A finished operation.
pub(crate) struct Done<T> {
    pub tag: T,
    /// Bytes transferred by the read or write.
    pub result: io::Result<usize>,
    /// The operation's buffer; for a read, its length is the bytes read.
    pub buf: Option<AlignedBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Write,
    Read,
    Sync,
}

/// An operation whose CQEs have not all arrived. Owns the buffer the kernel uses.
pub(crate) struct InFlight<T> {
    tag: T,
    kind: Kind,
    buf: Option<AlignedBuf>,
    /// CQEs still to come: 2 for a write linked to a sync, else 1.
    cqes_left: u8,
    bytes: usize,
    /// Error of the first SQE (the write, read or sync itself).
    error: Option<io::Error>,
    /// Error of the linked sync; reported only if the write itself succeeded.
    sync_error: Option<io::Error>,
}

/// Operations in flight. Slot `i` holds the operation whose SQEs carry
/// `user_data` `2i` (the operation) and `2i + 1` (its linked sync).
pub(crate) struct Table<T> {
    ops: Vec<Option<InFlight<T>>>,
    free: Vec<usize>,
    live: usize,
}

impl<T> Table<T> {
    pub(crate) fn new() -> Self {
        Self {
            ops: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    /// Operations whose CQEs have not all arrived.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Indices of the operations in flight.
    pub(crate) fn live_indices(&self) -> Vec<usize> {
        (0..self.ops.len())
            .filter(|&i| self.ops[i].is_some())
            .collect()
    }

    /// Gives up on the operations in flight without freeing their buffers: for
    /// when the kernel may still use them and cannot be waited for.
    pub(crate) fn leak(&mut self) {
        std::mem::forget(std::mem::take(&mut self.ops));
        self.live = 0;
    }

    pub(crate) fn insert(&mut self, op: InFlight<T>) -> usize {
        self.live += 1;
        match self.free.pop() {
            Some(index) => {
                self.ops[index] = Some(op);
                index
            }
            None => {
                self.ops.push(Some(op));
                self.ops.len() - 1
            }
        }
    }

    pub(crate) fn remove(&mut self, index: usize) -> InFlight<T> {
        let op = self.ops[index].take();
        let op = op.unwrap_or_else(|| panic!("operation {index} is not in flight"));
        self.free.push(index);
        self.live -= 1;
        op
    }

    pub(crate) fn buf_ptr(&mut self, index: usize) -> *mut u8 {
        let op = self.ops[index].as_mut();
        let buf = op.and_then(|op| op.buf.as_mut());
        buf.map_or(std::ptr::null_mut(), AlignedBuf::as_mut_ptr)
    }

    /// Records one CQE; returns the operation once all its CQEs have arrived.
    pub(crate) fn complete(&mut self, user_data: u64, res: i32) -> Option<Done<T>> {
        if user_data == CANCEL_USER_DATA {
            return None;
        }
        let index = (user_data >> 1) as usize;
        let linked_sync = user_data & 1 == 1;
        let op = self.ops.get_mut(index).and_then(Option::as_mut);
        let op = op.unwrap_or_else(|| panic!("CQE for unknown operation {user_data}"));
        let error = (res < 0).then(|| io::Error::from_raw_os_error(-res));
        if linked_sync {
            op.sync_error = error;
        } else if let Some(error) = error {
            op.error = Some(error);
        } else {
            op.bytes = res as usize;
            let expected = op.buf.as_ref().map_or(0, AlignedBuf::len);
            if op.kind == Kind::Write && op.bytes < expected {
                let msg = format!("short write: {} of {expected} bytes", op.bytes);
                op.error = Some(io::Error::new(io::ErrorKind::WriteZero, msg));
            }
        }
        op.cqes_left -= 1;
        if op.cqes_left > 0 {
            return None;
        }
        let op = self.remove(index);
        Some(op.finish())
    }
}

impl<T> InFlight<T> {
    pub(crate) fn new(tag: T, kind: Kind, buf: Option<AlignedBuf>, cqes_left: u8) -> Self {
        Self {
            tag,
            kind,
            buf,
            cqes_left,
            bytes: 0,
            error: None,
            sync_error: None,
        }
    }

    /// The outcome of an operation that never reached the kernel.
    pub(crate) fn fail(mut self, error: io::Error) -> Done<T> {
        self.error = Some(error);
        self.finish()
    }

    pub(crate) fn finish(self) -> Done<T> {
        let mut buf = self.buf;
        if self.kind == Kind::Read
            && let Some(buf) = buf.as_mut()
        {
            buf.set_len(if self.error.is_none() { self.bytes } else { 0 });
        }
        let result = match self.error.or(self.sync_error) {
            Some(error) => Err(error),
            None => Ok(self.bytes),
        };
        Done {
            tag: self.tag,
            result,
            buf,
        }
    }
}

pub(crate) fn user_data(index: usize, part: u64) -> u64 {
    (index as u64) << 1 | part
}
