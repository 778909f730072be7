//! Errors, one type per concern.
//!
//! A commit either did not happen (the previous state is intact; retry when
//! the cause is gone), happened (`Ok`), or, in one narrow case, cannot be
//! known until the directories are read again ([`CommitError::Indeterminate`]).
//! A read either returns exactly the bytes asked for or an error, never bytes
//! it could not verify.

use std::io;

use crate::damage::{self, Damage};

/// An I/O operation on a tier directory failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("tier directory {dir}: {op} {file:?} failed: {kind}: {message}")]
pub struct FsError {
    pub dir: usize,
    pub op: &'static str,
    pub file: String,
    pub kind: io::ErrorKind,
    pub message: String,
}

impl FsError {
    pub fn new(dir: usize, op: &'static str, file: &str, error: &io::Error) -> Self {
        Self {
            dir,
            op,
            file: file.to_owned(),
            kind: error.kind(),
            message: error.to_string(),
        }
    }

    /// The directory is out of space (or quota).
    pub fn is_no_space(&self) -> bool {
        crate::fs::is_no_space(self.kind)
    }
}

/// A segment's manifest could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Copies exist but none is readable and valid: the segment's state is
    /// unknown. Nothing is guessed; repair the directories.
    #[error("segment {segment:?}: no valid manifest copy ({})", damage::list(.damage))]
    NoValidCopy {
        segment: String,
        damage: Vec<Damage>,
    },
    /// Another segment's name has the same file key (a 64-bit hash
    /// collision): refused rather than mixed up.
    #[error("segment {segment:?}: its file key is taken by segment {other:?}")]
    Collision { segment: String, other: String },
}

/// Why a change to a segment's tier data (append, truncate, delete) failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// A directory is full. Nothing was committed; the previous state is
    /// intact. Retry once space is freed.
    #[error("not committed, tier directory full: {0}")]
    NoSpace(FsError),
    /// A directory operation failed. Nothing was committed; the previous
    /// state is intact. Retry once the directory works again.
    #[error("not committed: {0}")]
    Io(FsError),
    /// The new manifest was renamed into place in some directory but no
    /// directory confirmed it durable: after a crash the segment may show
    /// the old state or the new one. Read the state again before retrying.
    #[error("commit outcome unknown until the manifest is read again: {0}")]
    Indeterminate(FsError),
    /// An append must start where the segment's tier data ends.
    #[error("segment {segment:?}: append at {offset}, but its tier data ends at {end}")]
    NotContiguous {
        segment: String,
        offset: u64,
        end: u64,
    },
    #[error("segment {segment:?} is not in the tier")]
    NotFound { segment: String },
    #[error("invalid segment name {segment:?}: {reason}")]
    InvalidName {
        segment: String,
        reason: &'static str,
    },
    #[error("append of no bytes")]
    Empty,
    /// The segment's manifest would pass its maximum size: the segment
    /// holds as much as the tier stores for one segment.
    #[error("segment {segment:?}: too large for one tier manifest")]
    TooLarge { segment: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

impl CommitError {
    /// Whether the same call may simply be made again later: nothing was
    /// committed and the cause may pass (space freed, a directory back).
    pub fn is_retryable(&self) -> bool {
        matches!(self, CommitError::NoSpace(_) | CommitError::Io(_))
    }

    pub(crate) fn from_fs(error: FsError) -> Self {
        if error.is_no_space() {
            CommitError::NoSpace(error)
        } else {
            CommitError::Io(error)
        }
    }
}

/// Why a read returned no bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("segment {segment:?} is not in the tier")]
    NotFound { segment: String },
    #[error("segment {segment:?}: offset {offset} was truncated (tier data starts at {start})")]
    Truncated {
        segment: String,
        offset: u64,
        start: u64,
    },
    #[error("segment {segment:?}: {len} bytes at {offset} pass the end of its tier data ({end})")]
    OutOfRange {
        segment: String,
        offset: u64,
        len: u64,
        end: u64,
    },
    #[error("read of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: usize },
    /// More shards of a stripe are damaged than its parity covers. No bytes
    /// are returned: none could be verified.
    #[error(
        "segment {segment:?} stripe {stripe}: unrecoverable, {} damaged shards ({})",
        damage.len(),
        damage::list(.damage)
    )]
    Unrecoverable {
        segment: String,
        stripe: u64,
        damage: Vec<Damage>,
    },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Why a scrub stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScrubError {
    #[error("segment {segment:?} is not in the tier")]
    NotFound { segment: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Why a repair stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RepairError {
    #[error("no tier directory {dir} (there are {dirs})")]
    NoSuchDir { dir: usize, dirs: usize },
    /// Writing to the directory under repair failed; what was rebuilt so far
    /// stays. Retry once the cause is gone.
    #[error("repair write failed: {0}")]
    Write(FsError),
}
