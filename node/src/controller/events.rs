//! What happens to a stream, as recorded in its metadata log.

use spate_wire::stream::{KeyRange, StreamConfig};

use super::state::StreamSnapshot;

/// One entry of a stream's metadata log. Intents (`…Started`, `Created`)
/// come before the segment work they ask for; completions after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The stream with its first epoch: segments 0..n over `ranges`.
    Created {
        config: StreamConfig,
        ranges: Vec<KeyRange>,
        at_ms: u64,
    },
    /// The first epoch's segments exist: the stream takes writes.
    Activated,
    /// Seal the current segments `seal` and replace them with new segments
    /// over `ranges` (numbered from the stream's next number, in order).
    ScaleStarted {
        seal: Vec<u64>,
        ranges: Vec<KeyRange>,
        at_ms: u64,
    },
    /// The new segments exist and the sealed ones are sealed: a new epoch.
    ScaleCompleted,
    ConfigUpdated {
        config: StreamConfig,
    },
    /// Drop the data before these positions (segment number → offset);
    /// segments wholly before the cut are deleted.
    TruncateStarted {
        positions: Vec<(u64, u64)>,
    },
    TruncateCompleted,
    SealStarted,
    SealCompleted,
    /// A sealed stream's segments are being deleted.
    DeleteStarted,
    /// Transaction `id` (the stream's next id) begins over the current
    /// segments; its segments are created next.
    TxnBegun {
        id: u64,
        lease_ms: u64,
    },
    /// Its segments exist: it takes writes.
    TxnOpened {
        id: u64,
    },
    /// Commit transaction `id`: merge its segments into their parents, or,
    /// if the stream scaled since it began, roll it (see `Phase::RollingTxn`).
    TxnCommitStarted {
        id: u64,
        at_ms: u64,
    },
    TxnCommitted {
        id: u64,
    },
    /// Abort transaction `id`: delete its segments.
    TxnAbortStarted {
        id: u64,
    },
    TxnAborted {
        id: u64,
    },
    /// The whole state so far: a log may start here (the controller
    /// truncates the log before it once the log grows long).
    Snapshot(Box<StreamSnapshot>),
}

impl StreamEvent {
    /// The event's kind, as logs and errors name it.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Created { .. } => "Created",
            StreamEvent::Activated => "Activated",
            StreamEvent::ScaleStarted { .. } => "ScaleStarted",
            StreamEvent::ScaleCompleted => "ScaleCompleted",
            StreamEvent::ConfigUpdated { .. } => "ConfigUpdated",
            StreamEvent::TruncateStarted { .. } => "TruncateStarted",
            StreamEvent::TruncateCompleted => "TruncateCompleted",
            StreamEvent::SealStarted => "SealStarted",
            StreamEvent::SealCompleted => "SealCompleted",
            StreamEvent::DeleteStarted => "DeleteStarted",
            StreamEvent::TxnBegun { .. } => "TxnBegun",
            StreamEvent::TxnOpened { .. } => "TxnOpened",
            StreamEvent::TxnCommitStarted { .. } => "TxnCommitStarted",
            StreamEvent::TxnCommitted { .. } => "TxnCommitted",
            StreamEvent::TxnAbortStarted { .. } => "TxnAbortStarted",
            StreamEvent::TxnAborted { .. } => "TxnAborted",
            StreamEvent::Snapshot(_) => "Snapshot",
        }
    }
}
