//! A wake-up for one waiting task on the same core.
//!
//! Several parties signal (storage completions, new appends); one task waits.
//! A signal before the wait is remembered, so none is lost.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Clone, Default)]
pub struct Notify {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    signalled: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Notify {
    pub fn signal(&self) {
        self.inner.signalled.set(true);
        if let Some(waker) = self.inner.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Resolves at the next signal (or at once if one came since the last wait).
    pub fn wait(&self) -> Wait<'_> {
        Wait { notify: self }
    }
}

pub struct Wait<'a> {
    notify: &'a Notify,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.notify.inner;
        if inner.signalled.replace(false) {
            return Poll::Ready(());
        }
        *inner.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}
