//! An event between write and ack, and what happens when its segment
//! writer resolves it: acked, refused by a sealed segment (kept for the
//! resend), or failed (the writer gives up: going on could leave a gap).
//!
//! Each event's append future is polled with a waker that names the event,
//! so its outcome is handled on whichever thread completes it, without a
//! thread per writer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Wake, Waker};

use super::{EventAck, Shared, State};
use crate::completion::{Completer, Completion};
use crate::error::ClientError;
use crate::sync::lock;
use crate::writer::{AppendOutcome, Returned};

pub(super) struct Pending {
    pub position: u64,
    /// The framed event while the writer holds it (before it is sent, and
    /// when a sealed segment gave it back); the segment writer holds it in
    /// between.
    pub framed: Vec<u8>,
    completer: Completer<EventAck>,
    /// The segment it was sent to.
    pub segment: u64,
    pub future: Option<Completion<Returned>>,
    /// Made at the first poll, reused for every later one.
    waker: Option<Waker>,
}

impl Pending {
    pub fn new(position: u64, framed: Vec<u8>, completer: Completer<EventAck>) -> Self {
        Self {
            position,
            framed,
            completer,
            segment: 0,
            future: None,
            waker: None,
        }
    }

    /// Resolves as durable without sending: the node's records prove it.
    pub fn acked_as_duplicate(self, number: i64) {
        self.completer.complete(Ok(EventAck {
            event_number: number,
            segment: None,
        }));
    }

    pub fn fail(self, error: ClientError) {
        self.completer.complete(Err(error));
    }
}

/// Wakes event `number` of a writer.
struct EventWaker {
    shared: Arc<Shared>,
    number: i64,
}

impl Wake for EventWaker {
    fn wake(self: Arc<Self>) {
        on_wake(&self.shared, self.number);
    }
}

/// Polls event `number`'s append and handles its outcome if it has one.
pub(super) fn on_wake(shared: &Arc<Shared>, number: i64) {
    poll_locked(shared, lock(&shared.state), number);
}

/// As [`on_wake`], for a caller that holds the state's lock already.
pub(super) fn poll_locked(
    shared: &Arc<Shared>,
    mut state: std::sync::MutexGuard<'_, State>,
    number: i64,
) {
    let Some(pending) = state.in_flight.get_mut(&number) else {
        return;
    };
    let waker = pending.waker.get_or_insert_with(|| {
        Waker::from(Arc::new(EventWaker {
            shared: Arc::clone(shared),
            number,
        }))
    });
    let Some(future) = pending.future.as_mut() else {
        return;
    };
    let Poll::Ready(outcome) = Pin::new(future).poll(&mut Context::from_waker(waker)) else {
        return;
    };
    let Some(mut pending) = state.in_flight.remove(&number) else {
        return;
    };
    // Appenders wait on `changed` only while the writer is blocked (under
    // this lock), so with it open nobody needs the notification, a system
    // call once per event otherwise.
    let was_blocked = shared.blocked.load(Ordering::Acquire);
    pending.future = None;
    pending.waker = None;
    let mut done = Vec::new();
    match outcome {
        Ok((AppendOutcome::Appended(_), _)) => done.push((
            pending.completer,
            Ok(EventAck {
                event_number: number,
                segment: Some(pending.segment),
            }),
        )),
        Ok((AppendOutcome::Sealed { .. }, payload)) => {
            pending.framed = payload.unwrap_or_default();
            state.resend.insert(number, pending);
            state.set_draining(shared, true);
        }
        Ok((AppendOutcome::NoSuchSegment, _)) => {
            let error = ClientError::invalid(format!(
                "segment {} of the stream is gone: the stream was truncated or deleted",
                pending.segment
            ));
            done.push((pending.completer, Err(error.clone())));
            fail_all(&mut state, error, &mut done);
            state.set_draining(shared, false);
        }
        Err(error) => {
            done.push((pending.completer, Err(error.clone())));
            fail_all(&mut state, error, &mut done);
            state.set_draining(shared, false);
        }
    }
    let flushes = resolved_flushes(&mut state);
    let refresh = state.draining && state.in_flight.is_empty() && !state.refreshing;
    if refresh {
        state.refreshing = true;
    }
    let wake = was_blocked || shared.blocked.load(Ordering::Acquire);
    drop(state);
    if wake {
        shared.changed.notify_all();
    }
    complete(done, flushes);
    if refresh {
        super::refresh::start(Arc::clone(shared));
    }
}

/// The writer gives up: every unresolved event fails. The caller then
/// clears `draining` (`State::set_draining`), which also blocks new writes.
pub(super) fn fail_all(state: &mut State, error: ClientError, done: &mut Resolved) {
    if state.failed.is_none() {
        state.failed = Some(error.clone());
    }
    let in_flight = std::mem::take(&mut state.in_flight);
    let resend = std::mem::take(&mut state.resend);
    for (_, pending) in in_flight.into_iter().chain(resend) {
        done.push((pending.completer, Err(error.clone())));
    }
}

/// Flushes whose events have all resolved (or all fail, if the writer gave
/// up).
pub(super) fn resolved_flushes(state: &mut State) -> Vec<(Completer<()>, Result<(), ClientError>)> {
    let failed = state.failed.clone();
    let flushes = std::mem::take(&mut state.flushes);
    let mut resolved = Vec::new();
    for (last, completer) in flushes {
        match &failed {
            Some(error) => resolved.push((completer, Err(error.clone()))),
            None if !state.holds_through(last) => resolved.push((completer, Ok(()))),
            None => state.flushes.push((last, completer)),
        }
    }
    resolved
}

/// Events and flushes resolved under the state's lock, completed after it
/// is released (a completion may wake code that takes it again).
pub(super) type Resolved = Vec<(Completer<EventAck>, Result<EventAck, ClientError>)>;

pub(super) fn complete(done: Resolved, flushes: Vec<(Completer<()>, Result<(), ClientError>)>) {
    for (completer, result) in done {
        completer.complete(result);
    }
    for (completer, result) in flushes {
        completer.complete(result);
    }
}
