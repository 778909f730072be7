//! What an application may tune, with defaults that suit a low-latency ingest
//! client on a LAN.
//!
//! Bounds the node dictates (frame size, requests and bytes in flight per
//! connection) are not here: they come from the handshake's `Limits` and
//! the client stays inside them.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use spate_wire::{MAX_BATCH_EVENTS, MAX_READ_WAIT_MS};

/// Options for [`crate::Client::connect`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Longest wait for a TCP connection to a core.
    pub connect_timeout: Duration,
    /// Longest wait for the node's `HelloReply`.
    pub handshake_timeout: Duration,
    /// How often, and how patiently, to reconnect and resend.
    pub retry: RetryPolicy,
    /// Batching and buffering of segment writers.
    pub writer: WriterOptions,
    /// Read sizes, long-poll wait and prefetch of segment readers.
    pub reader: ReaderOptions,
    /// How long a connection's reader thread keeps polling the socket after
    /// a reply before it sleeps in a blocking read. Zero (the default)
    /// sleeps at once. Waking a sleeping thread can take milliseconds on a
    /// busy or virtualized machine, and that wake is part of every ack's
    /// latency; a spin longer than the gap between replies (2 ms for 1,000
    /// acks/s) keeps the thread awake, at the cost of a busy core per
    /// connection while its replies keep coming. The node's `--spin-us` is
    /// the same trade on the other side.
    pub reply_spin: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            writer: WriterOptions::default(),
            reader: ReaderOptions::default(),
            reply_spin: Duration::ZERO,
        }
    }
}

/// Bounded retries with exponential backoff and jitter.
///
/// Used for what is safe to repeat: reconnecting, resending appends (the
/// writer id and event number make them idempotent), resending reads and
/// other idempotent calls, and sending any call that never left the client.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first failure before giving up.
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles with each further one.
    pub initial_backoff: Duration,
    /// Ceiling of the backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// About 12 to 25 seconds of retries in all: enough to ride out a node
    /// restart, which replays its journal from the last checkpoint and may
    /// wait up to 3 s for its ports (see the node's README section).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 20,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `attempt` (1-based): exponential,
    /// capped, and drawn from its upper half so that many clients that lost
    /// the same node do not come back in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        let full = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let half = full / 2;
        let jitter = random_u64() % (half.as_nanos() as u64).max(1);
        half + Duration::from_nanos(jitter)
    }
}

/// A random number without a dependency: std seeds each `RandomState` with
/// fresh keys.
pub(crate) fn random_u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// How a [`crate::SegmentWriter`] batches and how much it buffers.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Most events in one `AppendBatch` (capped at the protocol's
    /// `MAX_BATCH_EVENTS`).
    pub max_batch_events: usize,
    /// Most payload bytes in one `AppendBatch` (capped by the node's frame
    /// limit).
    pub max_batch_bytes: usize,
    /// Most events appended but not yet resolved; `append` blocks beyond it.
    pub max_outstanding_events: usize,
    /// Most payload bytes appended but not yet resolved; `append` blocks
    /// beyond it (one event is always admitted when none is outstanding).
    pub max_outstanding_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_batch_events: 512,
            max_batch_bytes: 1024 * 1024,
            max_outstanding_events: 16 * 1024,
            max_outstanding_bytes: 32 * 1024 * 1024,
        }
    }
}

impl WriterOptions {
    /// The options with every bound at least 1 and within the protocol.
    pub(crate) fn sanitized(self) -> Self {
        WriterOptions {
            max_batch_events: self.max_batch_events.clamp(1, MAX_BATCH_EVENTS),
            max_batch_bytes: self.max_batch_bytes.max(1),
            max_outstanding_events: self.max_outstanding_events.max(1),
            max_outstanding_bytes: self.max_outstanding_bytes.max(1),
        }
    }
}

/// Shortest long-poll wait a reader asks for, in milliseconds.
pub const MIN_READ_WAIT_MS: u32 = 10;

/// How a [`crate::SegmentReader`] reads.
#[derive(Debug, Clone, Copy)]
pub struct ReaderOptions {
    /// Most bytes asked for in one `Read` (capped by the node's frame limit).
    pub max_read_bytes: u32,
    /// How long the node may hold a read at the tail waiting for data (long
    /// poll), within `MIN_READ_WAIT_MS..=MAX_READ_WAIT_MS`: the floor keeps
    /// an idle tail reader from asking the node in a tight loop.
    pub wait: Duration,
    /// Chunks the reader fetches ahead of the application, at least 1. With
    /// 2 (the default) one read request is on its way while the application
    /// works on the chunk it has.
    pub prefetch_chunks: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            max_read_bytes: 1024 * 1024,
            wait: Duration::from_secs(30),
            prefetch_chunks: 2,
        }
    }
}

impl ReaderOptions {
    /// The long-poll wait in the protocol's unit and range.
    pub(crate) fn wait_ms(&self) -> u32 {
        u32::try_from(self.wait.as_millis())
            .unwrap_or(u32::MAX)
            .clamp(MIN_READ_WAIT_MS, MAX_READ_WAIT_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
        };
        let first = policy.backoff(1);
        assert!(first >= Duration::from_millis(5) && first <= Duration::from_millis(10));
        let late = policy.backoff(30);
        assert!(late >= Duration::from_millis(50) && late <= Duration::from_millis(100));
    }

    #[test]
    fn wait_is_capped_by_the_protocol() {
        let options = ReaderOptions {
            wait: Duration::from_secs(3600),
            ..ReaderOptions::default()
        };
        assert_eq!(options.wait_ms(), MAX_READ_WAIT_MS);
    }
}
