//! A one-shot completion: the future every call returns.
//!
//! The client's I/O threads finish a call by filling a [`Completer`]; the
//! application either polls the matching [`Completion`] on any executor (it
//! is a plain `std::future::Future` woken through the std `Waker`) or blocks
//! on it with [`Completion::wait`]. No async runtime is involved.
//!
//! A completer that is dropped without being filled fills itself with an
//! error, so a completion can never hang because some internal path forgot
//! it (for instance when the client is closed with calls in progress).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::ClientError;
use crate::sync::{lock, wait};

/// The result of a call that the node has not necessarily answered yet.
///
/// Await it on any executor, or call [`Completion::wait`] to block the
/// current thread until it is done.
#[must_use = "a call's outcome is only known by awaiting or waiting on it"]
pub struct Completion<T> {
    slot: Arc<Slot<T>>,
}

/// The filling side of a [`Completion`]; crate-internal.
pub(crate) struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
}

struct Slot<T> {
    state: Mutex<State<T>>,
    done: Condvar,
}

enum State<T> {
    /// Not done yet: the task to wake, and whether a thread blocks in
    /// [`Completion::wait`] (only then is the condvar signalled: a
    /// notification costs a system call even with nobody waiting, once per
    /// call at hundreds of thousands of calls a second).
    Waiting {
        waker: Option<Waker>,
        blocked: bool,
    },
    Done(Result<T, ClientError>),
    Taken,
}

/// A new completer and the completion it fills.
pub(crate) fn completion<T>() -> (Completer<T>, Completion<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Waiting {
            waker: None,
            blocked: false,
        }),
        done: Condvar::new(),
    });
    let completer = Completer {
        slot: Some(Arc::clone(&slot)),
    };
    (completer, Completion { slot })
}

impl<T> Completion<T> {
    /// A completion that is already done (a request refused before sending).
    pub(crate) fn ready(result: Result<T, ClientError>) -> Self {
        let (completer, completion) = completion();
        completer.complete(result);
        completion
    }

    /// Blocks the current thread until the call is done.
    pub fn wait(self) -> Result<T, ClientError> {
        let mut state = lock(&self.slot.state);
        loop {
            match std::mem::replace(&mut *state, State::Taken) {
                State::Done(result) => return result,
                State::Waiting { waker, .. } => {
                    *state = State::Waiting {
                        waker,
                        blocked: true,
                    };
                    state = wait(&self.slot.done, state);
                }
                State::Taken => return Err(taken()),
            }
        }
    }

    /// True once the call is done (its result can be taken without waiting).
    pub fn is_done(&self) -> bool {
        matches!(*lock(&self.slot.state), State::Done(_))
    }
}

impl<T> Future for Completion<T> {
    type Output = Result<T, ClientError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock(&self.slot.state);
        match &mut *state {
            State::Waiting { waker, .. } => {
                // Keep the newest waker: the future may have moved tasks.
                match waker {
                    Some(known) if known.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Done(_) => match std::mem::replace(&mut *state, State::Taken) {
                State::Done(result) => Poll::Ready(result),
                _ => Poll::Ready(Err(taken())),
            },
            State::Taken => Poll::Ready(Err(taken())),
        }
    }
}

impl<T> fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("done", &self.is_done())
            .finish()
    }
}

/// Polling a completion again after it returned `Ready` breaks the `Future`
/// contract; answer with an error rather than a panic.
fn taken() -> ClientError {
    ClientError::fatal("completion polled again after it returned its result")
}

impl<T> Completer<T> {
    /// Finishes the call and wakes whoever waits on it.
    pub(crate) fn complete(mut self, result: Result<T, ClientError>) {
        if let Some(slot) = self.slot.take() {
            fill(&slot, result);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            fill(&slot, Err(ClientError::closed()));
        }
    }
}

fn fill<T>(slot: &Slot<T>, result: Result<T, ClientError>) {
    let (waker, blocked) = {
        let mut state = lock(&slot.state);
        match std::mem::replace(&mut *state, State::Done(result)) {
            State::Waiting { waker, blocked } => (waker, blocked),
            // Filled twice cannot happen (complete takes self); keep the first.
            first => {
                *state = first;
                (None, false)
            }
        }
    };
    if blocked {
        slot.done.notify_all();
    }
    // Wake outside the lock: a waker may poll (and lock) right away.
    if let Some(waker) = waker {
        waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn completing_wakes_the_poller_once() {
        let (completer, mut completion) = completion::<u32>();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut completion).poll(&mut cx).is_pending());
        completer.complete(Ok(7));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(Pin::new(&mut completion).poll(&mut cx), Poll::Ready(Ok(7)));
    }

    #[test]
    fn wait_blocks_until_another_thread_completes() {
        let (completer, completion) = completion::<&str>();
        let filler = std::thread::spawn(move || completer.complete(Ok("done")));
        assert_eq!(completion.wait(), Ok("done"));
        filler.join().ok();
    }

    #[test]
    fn a_dropped_completer_fails_instead_of_hanging() {
        let (completer, completion) = completion::<()>();
        drop(completer);
        assert!(matches!(completion.wait(), Err(ClientError::Fatal { .. })));
    }
}
