//! Why the crash loop could not do its job (as opposed to a violation,
//! which is the node failing the oracle: see `check::Violation`).

use std::io;
use std::path::PathBuf;

use spate_client::ClientError;

use crate::ledger::LedgerError;

/// A failure of the harness or of its surroundings.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: io::Error,
    },
    /// A log could not be read or parsed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A client call failed where the node should have answered.
    #[error("{context}: {source}")]
    Client {
        /// What was being done.
        context: String,
        /// The client's error.
        source: ClientError,
    },
    /// The `spate-node` binary is not where it was looked for.
    #[error("no spate-node binary at {0} (build it, or pass --node-bin)")]
    NodeBinary(PathBuf),
    /// The node did not come up.
    #[error("the node did not start: {reason}\n--- node log (tail) ---\n{log_tail}")]
    NodeStart {
        /// What happened.
        reason: String,
        /// The end of its log.
        log_tail: String,
    },
    /// No free loopback ports in the range the loop uses.
    #[error("no free loopback ports in 30000..32000")]
    NoPorts,
}

impl HarnessError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> HarnessError {
        let context = context.into();
        move |source| HarnessError::Io { context, source }
    }

    /// A client error with what was being done.
    pub fn client(context: impl Into<String>) -> impl FnOnce(ClientError) -> HarnessError {
        let context = context.into();
        move |source| HarnessError::Client { context, source }
    }
}

/// The last `max` bytes of a text file, for error messages.
pub fn tail(path: &std::path::Path, max: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return format!("({} unreadable)", path.display());
    };
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}
