//! Keeping a transaction's lease alive. The node aborts an open transaction
//! that hears nothing about it for a lease; the transaction pings when a
//! write or a flush finds more than a third of the lease gone since the
//! last ping it sent (or its begin), so two pings can be lost or slow
//! before the lease runs out. At most one automatic ping is in flight; the
//! write that finds it answered takes its answer, and none waits for it.

use std::time::{Duration, Instant};

use spate_wire::TxnStatus;

use super::super::StreamOutcome;
use crate::completion::Completion;
use crate::error::ClientError;

/// A ping's answer: the transaction's status, as the node sees it.
pub(super) type PingFuture = Completion<StreamOutcome<TxnStatus>>;

/// When the last ping (or the begin) left.
#[derive(Debug, Clone, Copy)]
pub(super) struct LeaseClock {
    lease: Duration,
    last: Instant,
}

impl LeaseClock {
    /// A lease of `lease`, last renewed by a request sent at `at`.
    pub fn new(lease: Duration, at: Instant) -> Self {
        Self { lease, last: at }
    }

    /// The lease the node granted.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// True once more than a third of the lease has passed since the last
    /// renewal.
    pub fn due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) > self.lease / 3
    }

    /// A renewal was sent at `at` (the node renews from when it gets it,
    /// which is later, so counting from the send is on the safe side). An
    /// older send than the last one known changes nothing.
    pub fn renewed(&mut self, at: Instant) {
        if at > self.last {
            self.last = at;
        }
    }
}

/// The lease clock and the automatic ping in flight, if any.
#[derive(Debug)]
pub(super) struct Keeper {
    pub clock: LeaseClock,
    in_flight: Option<PingFuture>,
}

/// What a finished automatic ping said.
pub(super) type PingAnswer = Result<StreamOutcome<TxnStatus>, ClientError>;

impl Keeper {
    pub fn new(clock: LeaseClock) -> Self {
        Self {
            clock,
            in_flight: None,
        }
    }

    /// At a write or a flush: takes the answer of the automatic ping if it
    /// has come, then sends one through `send` if the lease needs it and
    /// none is in flight. Never waits on the node.
    pub fn tick(&mut self, now: Instant, send: impl FnOnce() -> PingFuture) -> Option<PingAnswer> {
        let answer = match &self.in_flight {
            Some(ping) if ping.is_done() => self.in_flight.take().map(Completion::wait),
            _ => None,
        };
        if self.in_flight.is_none() && self.clock.due(now) {
            self.in_flight = Some(send());
            self.clock.renewed(now);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::completion;

    const LEASE: Duration = Duration::from_millis(900);

    #[test]
    fn a_ping_is_due_after_a_third_of_the_lease() {
        let start = Instant::now();
        let mut clock = LeaseClock::new(LEASE, start);
        assert!(!clock.due(start));
        assert!(!clock.due(start + LEASE / 3));
        assert!(clock.due(start + LEASE / 3 + Duration::from_millis(1)));
        clock.renewed(start + LEASE);
        assert!(!clock.due(start + LEASE + LEASE / 3));
        assert!(clock.due(start + LEASE * 2));
        clock.renewed(start);
        assert!(
            clock.due(start + LEASE * 2),
            "an older renewal does not move the clock back"
        );
        assert!(
            !clock.due(start),
            "time before the last renewal is not late"
        );
    }

    #[test]
    fn one_automatic_ping_at_a_time_and_its_answer_is_taken_once() {
        let start = Instant::now();
        let mut keeper = Keeper::new(LeaseClock::new(LEASE, start));
        let mut sent = Vec::new();
        let send = |sent: &mut Vec<_>| {
            let (completer, completion) = completion();
            sent.push(completer);
            completion
        };
        assert!(keeper.tick(start, || send(&mut sent)).is_none());
        assert!(sent.is_empty(), "not due yet");

        let late = start + LEASE / 2;
        assert!(keeper.tick(late, || send(&mut sent)).is_none());
        assert_eq!(sent.len(), 1, "due: one ping");
        let much_later = start + LEASE * 3;
        assert!(keeper.tick(much_later, || send(&mut sent)).is_none());
        assert_eq!(sent.len(), 1, "still in flight: no second ping");

        sent.remove(0)
            .complete(Ok(StreamOutcome::Done(TxnStatus::Aborted)));
        let answer = keeper.tick(much_later, || send(&mut sent));
        assert_eq!(answer, Some(Ok(StreamOutcome::Done(TxnStatus::Aborted))));
        assert_eq!(sent.len(), 1, "due again once answered");
        assert!(keeper.tick(much_later, || send(&mut sent)).is_none());
        assert_eq!(sent.len(), 1, "one in flight again");
    }
}
