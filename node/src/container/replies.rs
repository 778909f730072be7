//! Small constructors for the error replies a container sends.

use spate_wire::{ErrorReply, Reply, RetryAdvice, StatusCode};

/// An `Error` reply with the status's usual retry advice.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    Reply::Error(ErrorReply::new(status, message))
}

/// An `Error` reply with explicit advice, for a status whose usual advice
/// does not fit the case.
pub(super) fn error_with(
    status: StatusCode,
    retry: RetryAdvice,
    message: impl Into<String>,
) -> Reply {
    let mut reply = ErrorReply::new(status, message);
    reply.retry = retry;
    Reply::Error(reply)
}
