//! What writer and reader processes share: how they stop, and how they
//! tell a client error worth a new session from one the loop must hear of.

use spate_client::{ClientError, StatusCode};

use crate::ledger::{Entry, LogWriter};

/// Why a worker process stops (it otherwise runs until killed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The node broke a promise; the text says which, where.
    Violation(String),
    /// The worker itself cannot go on (its log is unwritable, say).
    Harness(String),
}

/// Exit status of a worker that found a violation (it is in its log).
pub const EXIT_VIOLATION: u8 = 3;
/// Exit status of a worker that could not work.
pub const EXIT_HARNESS: u8 = 2;

/// `None` for a retryable error: the node is restarting or busy, and a new
/// session will do. Anything else is unexpected in a loop that only
/// creates, appends and reads, and is reported.
pub fn classify(error: ClientError, context: &str) -> Option<Stop> {
    if error.is_retryable() {
        return None;
    }
    if error.status() == Some(StatusCode::NoSuchSegment) {
        return Some(Stop::Violation(format!(
            "MISSING {context}: a created segment is gone: {error}"
        )));
    }
    Some(Stop::Violation(format!("CLIENT-ERROR {context}: {error}")))
}

/// Writes a violation to the log (where the loop looks), then stops.
pub fn report(log: &mut LogWriter, stop: Stop) -> Stop {
    if let Stop::Violation(text) = &stop
        && let Err(error) = log.write(&[Entry::Violation(text.clone())])
    {
        return Stop::Harness(format!("{error} (while reporting: {text})"));
    }
    stop
}
