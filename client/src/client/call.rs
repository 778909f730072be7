//! One request/reply call (admin calls, ping), with the retry rule:
//!
//! - a call that never left the client (no connection, connection broken
//!   before it was queued) is always safe to send again;
//! - once sent, only an idempotent call (`Safety::Idempotent`) is resent
//!   after a broken connection or a `Retry` error reply. Any other call
//!   fails with a retryable error: it may or may not have been applied, and
//!   only the application knows whether doing it twice is harmless.
//!
//! Retries wait on the client's retrier thread, bounded by the
//! `RetryPolicy`.

use std::sync::{Arc, Weak};

use spate_wire::{Reply, Request};

use super::ClientInner;
use crate::completion::{Completer, Completion, completion};
use crate::conn::{Connection, Refusal, Refused, Waiter};
use crate::error::ClientError;
use crate::options::RetryPolicy;
use crate::retrier::Retrier;

/// Where a call goes.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// To the core owning this segment.
    Segment(String),
    /// To the core the client first connected to.
    Bootstrap,
    /// To this core (a request about the core itself).
    Core(u16),
}

/// Whether a call may be sent again after it may have been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// Doing it twice is the same as doing it once (reads, seal, truncate).
    Idempotent,
    /// Doing it twice may differ (create, delete, merge, compare-and-set).
    Once,
}

/// Turns the final reply into the call's outcome.
type MapReply<T> = Box<dyn FnOnce(Reply) -> Result<T, ClientError> + Send>;

/// A call in progress; it is its own [`Waiter`].
pub(crate) struct Call<T> {
    client: Weak<ClientInner>,
    retrier: Arc<Retrier>,
    policy: RetryPolicy,
    route: Route,
    request: Request,
    safety: Safety,
    attempts: u32,
    map: MapReply<T>,
    completer: Completer<T>,
}

impl<T: Send + 'static> Call<T> {
    /// Sends `request` and returns the completion of its outcome.
    pub(crate) fn start(
        client: &Arc<ClientInner>,
        route: Route,
        request: Request,
        safety: Safety,
        map: impl FnOnce(Reply) -> Result<T, ClientError> + Send + 'static,
    ) -> Completion<T> {
        let (completer, completion) = completion();
        let call = Box::new(Call {
            client: Arc::downgrade(client),
            retrier: Arc::clone(&client.retrier),
            policy: client.options.retry,
            route,
            request,
            safety,
            attempts: 0,
            map: Box::new(map),
            completer,
        });
        call.send(client);
        completion
    }

    /// One attempt: find the connection, queue the request (waiting for
    /// room if the connection is at its bounds).
    fn send(self: Box<Self>, client: &ClientInner) {
        let conn = match client.connection_for_route(&self.route) {
            Ok(conn) => conn,
            Err(error) => return self.retry(error, false),
        };
        let request = self.request.clone();
        match conn.send(&request, self) {
            Ok(()) => {}
            Err(Refused { reason, waiter }) => {
                let error = match reason {
                    Refusal::Failed(error) => error,
                    Refusal::Full => ClientError::retryable("connection full"),
                };
                // The waiter is this call, handed back by the connection.
                waiter.on_unsent(error);
            }
        }
    }

    /// Retries after a backoff if that is safe and attempts remain;
    /// otherwise completes with `error`.
    fn retry(mut self: Box<Self>, error: ClientError, maybe_applied: bool) {
        let safe = !maybe_applied || self.safety == Safety::Idempotent;
        if !(safe && error.is_retryable() && self.attempts < self.policy.max_attempts) {
            let error = if !safe && error.is_retryable() {
                error.context("not resent: the request may or may not have been applied")
            } else if self.attempts > 0 {
                error.context(format_args!("gave up after {} attempts", self.attempts + 1))
            } else {
                error
            };
            return self.completer.complete(Err(error));
        }
        self.attempts += 1;
        let delay = self.policy.backoff(self.attempts);
        let retrier = Arc::clone(&self.retrier);
        // If the retrier is closed the job is dropped and its completer
        // fails with "client closed".
        retrier.after(delay, move || match self.client.upgrade() {
            Some(client) => self.send(&client),
            None => self.completer.complete(Err(ClientError::closed())),
        });
    }
}

impl<T: Send + 'static> Waiter for Call<T> {
    fn on_reply(self: Box<Self>, reply: Result<Reply, ClientError>, _conn: &Arc<Connection>) {
        match reply {
            Ok(Reply::Error(error)) => self.retry(ClientError::from_reply(&error), true),
            Ok(reply) => {
                let outcome = (self.map)(reply);
                self.completer.complete(outcome);
            }
            Err(error) => self.completer.complete(Err(error)),
        }
    }

    fn on_lost(self: Box<Self>, error: ClientError) {
        self.retry(error, true);
    }

    fn on_unsent(self: Box<Self>, error: ClientError) {
        self.retry(error, false);
    }
}
