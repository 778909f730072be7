//! When an acknowledgement arrived.
//!
//! An ack counts as arrived when the driver's client library signals it:
//! when it wakes the future waiting on it (the Spate client's reader thread
//! filling the call's completion, the Redis or NATS client's task finishing
//! the command). The time the bench's own collector then takes to be
//! scheduled and to run is the harness's cost, not the system's, so it is
//! left out, the way OpenMessaging Benchmark takes its time in the client's
//! send callback. Every driver is measured at the same point.
//!
//! [`Stamped`] wraps an ack future and hands it a waker of its own, which
//! notes the time of each wake before passing it on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;

/// No wake noted since the stamp was last taken.
const UNSTAMPED: u64 = 0;

/// An ack future that resolves to its output and the time it arrived.
pub struct Stamped<F> {
    inner: Pin<Box<F>>,
    base: Instant,
    waker: Option<Arc<StampingWaker>>,
}

/// Passes wakes on to the collector's waker, noting when each came.
struct StampingWaker {
    base: Instant,
    /// Nanoseconds after `base` of the latest wake, plus one (so that 0
    /// means none).
    woken_at: AtomicU64,
    forward: AtomicWaker,
}

impl<F: Future> Stamped<F> {
    /// Stamps times as offsets from `base` (any instant before the sends).
    pub fn new(inner: F, base: Instant) -> Self {
        Self {
            inner: Box::pin(inner),
            base,
            waker: None,
        }
    }
}

impl<F: Future> Future for Stamped<F> {
    type Output = (F::Output, Instant);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let base = this.base;
        let stamping = this.waker.get_or_insert_with(|| {
            Arc::new(StampingWaker {
                base,
                woken_at: AtomicU64::new(UNSTAMPED),
                forward: AtomicWaker::new(),
            })
        });
        stamping.forward.register(cx.waker());
        // The wake that led to this poll; a wake during the poll replaces it.
        let before = stamping.woken_at.swap(UNSTAMPED, Ordering::AcqRel);
        let waker = Waker::from(Arc::clone(stamping));
        let output = match this.inner.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(output) => output,
            Poll::Pending => return Poll::Pending,
        };
        // A wake during this poll is the one that signalled the outcome (the
        // wake before it then only led to an intermediate step). Ready with
        // no wake at all (done at its first poll): now.
        let during = stamping.woken_at.load(Ordering::Acquire);
        let arrived = match (during, before) {
            (UNSTAMPED, UNSTAMPED) => Instant::now(),
            (UNSTAMPED, at) | (at, _) => base + Duration::from_nanos(at - 1),
        };
        Poll::Ready((output, arrived))
    }
}

impl StampingWaker {
    fn stamp(&self) {
        let since = self.base.elapsed().as_nanos();
        let since = u64::try_from(since).unwrap_or(u64::MAX - 1);
        self.woken_at.store(since + 1, Ordering::Release);
    }
}

impl Wake for StampingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.stamp();
        self.forward.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pending until `ready` is set; wakes whoever registered when set.
    struct Gate {
        ready: std::sync::atomic::AtomicBool,
        waker: AtomicWaker,
    }

    impl Gate {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                ready: std::sync::atomic::AtomicBool::new(false),
                waker: AtomicWaker::new(),
            })
        }

        fn open(&self) {
            self.ready.store(true, Ordering::Release);
            self.waker.wake();
        }

        async fn wait(self: Arc<Self>) {
            std::future::poll_fn(|cx| {
                self.waker.register(cx.waker());
                if self.ready.load(Ordering::Acquire) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await
        }
    }

    fn noop_context() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn the_arrival_is_the_wake_not_the_later_poll() {
        let base = Instant::now();
        let gate = Gate::new();
        let mut stamped = Stamped::new(Arc::clone(&gate).wait(), base);
        let mut cx = noop_context();
        assert!(Pin::new(&mut stamped).poll(&mut cx).is_pending());
        let opened = Instant::now();
        gate.open();
        let woken = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let polled = Instant::now();
        let Poll::Ready(((), arrived)) = Pin::new(&mut stamped).poll(&mut cx) else {
            panic!("the gate is open")
        };
        assert!(arrived >= opened && arrived <= woken, "stamped at the wake");
        assert!(arrived < polled);
    }

    #[test]
    fn a_future_ready_at_once_arrives_when_polled() {
        let before = Instant::now();
        let mut stamped = Stamped::new(async { 7 }, before);
        let Poll::Ready((7, arrived)) = Pin::new(&mut stamped).poll(&mut noop_context()) else {
            panic!("ready at once")
        };
        assert!(arrived >= before && arrived <= Instant::now());
    }

    #[test]
    fn an_intermediate_wake_is_not_the_arrival() {
        let base = Instant::now();
        let (first, second) = (Gate::new(), Gate::new());
        let both = {
            let (first, second) = (Arc::clone(&first), Arc::clone(&second));
            async move {
                first.wait().await;
                second.wait().await;
            }
        };
        let mut stamped = Stamped::new(both, base);
        let mut cx = noop_context();
        assert!(Pin::new(&mut stamped).poll(&mut cx).is_pending());
        first.open();
        assert!(Pin::new(&mut stamped).poll(&mut cx).is_pending());
        std::thread::sleep(Duration::from_millis(20));
        let before_last = Instant::now();
        second.open();
        let Poll::Ready(((), arrived)) = Pin::new(&mut stamped).poll(&mut cx) else {
            panic!("both gates are open")
        };
        assert!(arrived >= before_last, "the last wake is the arrival");
    }
}
