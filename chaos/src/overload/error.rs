//! Why the overload harness could not do its job (as opposed to a finding:
//! the node failing a case, which the report lists).

use crate::error::HarnessError;

use super::memory::MemoryError;
use super::raw::RawError;

/// A failure of the harness or of its surroundings.
#[derive(Debug, thiserror::Error)]
pub enum OverloadError {
    /// Starting the node, or another process or file operation.
    #[error(transparent)]
    Harness(#[from] HarnessError),
    /// The node's memory could not be read.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// A set-up call the harness depends on failed.
    #[error("{context}: {source}")]
    Setup {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: RawError,
    },
    /// A set-up call got an answer it cannot go on with.
    #[error("{context}: the node answered {answer}")]
    Refused {
        /// What was being done.
        context: String,
        /// The reply's name.
        answer: String,
    },
    /// The harness's own socket or process limits.
    #[error("{context}: {source}")]
    Os {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl OverloadError {
    /// A set-up call's error with what was being done.
    pub fn setup(context: impl Into<String>) -> impl FnOnce(RawError) -> OverloadError {
        let context = context.into();
        move |source| OverloadError::Setup { context, source }
    }
}
