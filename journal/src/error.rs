//! Errors, one type per concern.
//!
//! Backpressure (`Busy`) is an expected outcome a caller handles by polling and
//! retrying. A [`JournalFailure`] is final for the journal: once a write or a
//! sync has failed, nothing more is acknowledged (after a failed fsync the page
//! cache may already have dropped the data; retrying would acknowledge bytes
//! that are not on disk). Restart and recover from what is durable.

use std::io;

use crate::config::ConfigError;
use crate::format::Lsn;
use crate::storage::Slot;

/// Why an append was not queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The queue of unwritten bytes is full, or every file holds unreleased
    /// records. Poll (so writes complete) or release, then retry.
    #[error("journal busy: queue full, poll and retry")]
    Busy,
    /// The payload exceeds the configured maximum record size. Not retryable.
    #[error("record of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge { len: usize, max: u32 },
    /// The journal has failed and acknowledges nothing more.
    #[error(transparent)]
    Stopped(#[from] JournalFailure),
}

/// What a failed storage operation was doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedOp {
    Write {
        slot: Slot,
        offset: u64,
        len: usize,
    },
    /// Waiting for completions failed: the ring itself is broken.
    Reap,
}

/// A write or sync failed: the journal stopped. Every waiter gets this error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "journal stopped: {op:?} failed ({kind}: {message}); no further acknowledgements, restart to recover"
)]
pub struct JournalFailure {
    pub op: FailedOp,
    pub kind: io::ErrorKind,
    pub message: String,
    /// Records below this LSN were acknowledged before the failure.
    pub durable_lsn: Lsn,
}

/// Where recovery found damage it must not skip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptionReport {
    pub slot: Slot,
    pub file_seq: u64,
    /// Byte offset in the file where the expected record does not check out.
    pub offset: u64,
    /// The LSN expected there.
    pub lsn: Lsn,
    /// Why this cannot be a torn tail.
    pub evidence: String,
}

impl std::fmt::Display for CorruptionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "file {:08}.journal (file seq {}) offset {}: record LSN {} is invalid, but {}",
            self.slot, self.file_seq, self.offset, self.lsn, self.evidence
        )
    }
}

/// Recovery could not rebuild the record sequence.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// Acknowledged data is damaged or missing. Never silently truncated.
    #[error("journal corrupt: {0}")]
    Corrupt(CorruptionReport),
    /// The files do not form one sequence (for example a file is missing).
    #[error("journal inconsistent: {0}")]
    Inconsistent(String),
    /// A file of another journal (or a newer format) is in the directory.
    #[error("slot {slot}: {reason}")]
    Foreign { slot: Slot, reason: String },
    #[error("reading slot {slot}: {source}")]
    Io { slot: Slot, source: io::Error },
}

/// The journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    #[error("listing journal files: {0}")]
    List(io::Error),
    #[error("preparing journal files: {0}")]
    Prepare(io::Error),
    #[error("making recovered records durable: {0}")]
    Sync(io::Error),
    #[error("zeroing the unacknowledged end of the last journal file: {0}")]
    Zero(io::Error),
}
