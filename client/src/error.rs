//! The client's one error type: coarse, and it says what to do.
//!
//! Applications branch on three things only: try again later, fix the
//! request, or give up. Answers about a segment's state (sealed, missing,
//! condition failed) are not errors at all: they are outcome values
//! (`AppendOutcome::Sealed`, `CreateOutcome::AlreadyExists`, ...).

use std::io;

use spate_wire::{ErrorReply, Reply, RetryAdvice, StatusCode};

/// Why a call failed, grouped by what the caller should do about it.
///
/// `status` is the node's status code when the node said no (`None` when the
/// failure was local: a broken connection, a bad argument caught before
/// sending, or a code newer than this build, whose number is in `reason`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Temporary: the node was unreachable, busy or recovering, or a
    /// connection broke. The same call may succeed later; the client already
    /// retried what was safe to retry, within its `RetryPolicy`.
    #[error("retryable: {reason}")]
    Retryable {
        /// What went wrong, for humans and logs.
        reason: String,
        /// The node's status code, if the node answered.
        status: Option<StatusCode>,
    },
    /// The request is invalid (bad segment name, event too large, offset out
    /// of range, ...): sent again unchanged it fails again.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong with the request.
        reason: String,
        /// The node's status code, if the node answered.
        status: Option<StatusCode>,
    },
    /// Give up: the call cannot succeed against this node as it stands
    /// (no common protocol version, a node that breaks the protocol, a
    /// closed client). Report it.
    #[error("fatal: {reason}")]
    Fatal {
        /// What went wrong, for humans and logs.
        reason: String,
        /// The node's status code, if the node answered.
        status: Option<StatusCode>,
    },
}

impl ClientError {
    pub(crate) fn retryable(reason: impl Into<String>) -> Self {
        ClientError::Retryable {
            reason: reason.into(),
            status: None,
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        ClientError::InvalidRequest {
            reason: reason.into(),
            status: None,
        }
    }

    pub(crate) fn fatal(reason: impl Into<String>) -> Self {
        ClientError::Fatal {
            reason: reason.into(),
            status: None,
        }
    }

    /// A socket failure: the connection is gone, the node may be fine.
    pub(crate) fn io(context: &str, error: &io::Error) -> Self {
        ClientError::retryable(format!("{context}: {error}"))
    }

    /// The node sent something the protocol does not allow.
    pub(crate) fn protocol(what: impl std::fmt::Display) -> Self {
        ClientError::fatal(format!("protocol violation by the node: {what}"))
    }

    /// The client was dropped while the call was in progress.
    pub(crate) fn closed() -> Self {
        ClientError::fatal("the client was closed before the call completed")
    }

    /// Maps a node's error reply by the advice it carries, which is what
    /// the protocol asks a client to act on (even for a code it does not
    /// know).
    pub(crate) fn from_reply(reply: &ErrorReply) -> Self {
        let status = reply.status_code();
        let name = match status {
            Some(code) => format!("{code:?}"),
            None => format!("status {}", reply.status),
        };
        let reason = format!("{name}: {}", reply.message);
        match reply.retry {
            RetryAdvice::Retry => ClientError::Retryable { reason, status },
            RetryAdvice::FixRequest => ClientError::InvalidRequest { reason, status },
            RetryAdvice::GiveUp => ClientError::Fatal { reason, status },
        }
    }

    /// The same error with `context` in front of its reason.
    pub(crate) fn context(self, context: impl std::fmt::Display) -> Self {
        match self {
            ClientError::Retryable { reason, status } => ClientError::Retryable {
                reason: format!("{context}: {reason}"),
                status,
            },
            ClientError::InvalidRequest { reason, status } => ClientError::InvalidRequest {
                reason: format!("{context}: {reason}"),
                status,
            },
            ClientError::Fatal { reason, status } => ClientError::Fatal {
                reason: format!("{context}: {reason}"),
                status,
            },
        }
    }

    /// What to do about it, in the protocol's own terms.
    pub fn advice(&self) -> RetryAdvice {
        match self {
            ClientError::Retryable { .. } => RetryAdvice::Retry,
            ClientError::InvalidRequest { .. } => RetryAdvice::FixRequest,
            ClientError::Fatal { .. } => RetryAdvice::GiveUp,
        }
    }

    /// True if the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClientError::Retryable { .. })
    }

    /// The node's status code, if the node answered with one this build knows.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Retryable { status, .. }
            | ClientError::InvalidRequest { status, .. }
            | ClientError::Fatal { status, .. } => *status,
        }
    }

    /// The human-readable reason.
    pub fn reason(&self) -> &str {
        match self {
            ClientError::Retryable { reason, .. }
            | ClientError::InvalidRequest { reason, .. }
            | ClientError::Fatal { reason, .. } => reason,
        }
    }
}

/// A reply of the wrong type for the request: the node broke the protocol.
pub(crate) fn unexpected(request: &str, reply: &Reply) -> ClientError {
    ClientError::protocol(format_args!(
        "answered {request} with {:?}",
        spate_wire::Encode::message_type(reply)
    ))
}

/// A segment name the node would refuse is caught before sending.
pub(crate) fn check_name(segment: &str) -> Result<(), ClientError> {
    spate_wire::validate_segment_name(segment).map_err(|e| ClientError::InvalidRequest {
        reason: format!("segment name {segment:?}: {e}"),
        status: Some(StatusCode::InvalidSegmentName),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies_map_by_their_advice() {
        let busy = ErrorReply::new(StatusCode::Busy, "later");
        assert!(ClientError::from_reply(&busy).is_retryable());
        let bad = ErrorReply::new(StatusCode::OffsetOutOfRange, "too far");
        let error = ClientError::from_reply(&bad);
        assert_eq!(error.advice(), RetryAdvice::FixRequest);
        assert_eq!(error.status(), Some(StatusCode::OffsetOutOfRange));
    }

    #[test]
    fn an_unknown_code_is_acted_on_by_its_advice() {
        let newer = ErrorReply {
            status: 999,
            retry: RetryAdvice::GiveUp,
            message: "from the future".into(),
        };
        let error = ClientError::from_reply(&newer);
        assert_eq!(error.advice(), RetryAdvice::GiveUp);
        assert_eq!(error.status(), None);
        assert!(error.reason().contains("999"));
    }
}
