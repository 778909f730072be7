//! The systems a workload can run against, behind one small trait, so the
//! open loop (`crate::harness`), the reports and `compare` are the same for
//! all of them.
//!
//! A driver connects one set of connections per producer, sends one event
//! and hands back a future that resolves when the system acknowledges it
//! as durable (as durable as that system is set up to be: the report says
//! which), and removes what the run created at the end.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::Serialize;

pub mod nats;
pub mod redis;
pub mod spate;
pub mod spate_stream;
pub mod spate_txn;

/// The longest a peer's client may wait for one acknowledgement before the
/// run fails. Their defaults (500 ms for the redis crate's responses, a few
/// seconds for JetStream acks) are far below what a saturated system under
/// an open loop takes; a slow ack is a figure to report, not an error.
pub const ACK_PATIENCE: Duration = Duration::from_secs(60);

/// Resolves once the event is acknowledged; an error ends the run.
pub type AckFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Where events go: producer `producer` sends to `segment`. Each lane has
/// its own writer (Spate), stream key (Redis) or subject (NATS), over its
/// producer's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lane {
    pub producer: usize,
    pub segment: usize,
}

/// Everything a driver needs to connect.
pub struct Setup<'a> {
    /// The system's address (HOST:PORT).
    pub target: &'a str,
    /// The Spate client's `reply_spin` (other drivers ignore it).
    pub reply_spin: Duration,
    pub producers: usize,
    pub segments: usize,
    pub lanes: &'a [Lane],
    /// Names this run's segments, keys or stream, so runs side by side
    /// (or a crashed earlier run) never share them.
    pub run_id: &'a str,
    /// Spate only: a stream to write to through the event writer, and the
    /// routing keys to spread events over (0: unkeyed).
    pub stream: Option<&'a str>,
    pub keys: u64,
    /// For drivers whose clients need tokio (Redis, NATS).
    pub runtime: &'a tokio::runtime::Handle,
}

/// One system under test.
pub trait Driver: Send + Sync {
    /// Connects every producer and creates what the lanes write to.
    fn connect(setup: &Setup<'_>) -> anyhow::Result<Self>
    where
        Self: Sized;

    /// Sends one event on `lane` (an index into `Setup::lanes`) and returns
    /// the future of its acknowledgement. May block briefly under the
    /// client's own backpressure; the open loop charges that to the system.
    fn send(&self, lane: usize, payload: &[u8]) -> AckFuture;

    /// `send`, told the event's intended send time (the open loop's
    /// schedule). A driver that measures delivery (`spate-bench read`)
    /// stamps it into the payload; the others ignore it.
    fn send_at(&self, lane: usize, payload: &[u8], intended: Instant) -> AckFuture {
        let _ = intended;
        self.send(lane, payload)
    }

    /// Sends `events` on `lane` as one unit that the open loop times as a
    /// whole (a workload's transaction of `txn_events` events), intended at
    /// `intended`. The future resolves once every event is acknowledged.
    /// By default each event is sent on its own; the transaction driver
    /// sends them as one transaction and resolves on its commit.
    fn send_events_at(&self, lane: usize, events: &[&[u8]], intended: Instant) -> AckFuture {
        let acks: Vec<AckFuture> = events
            .iter()
            .map(|event| self.send_at(lane, event, intended))
            .collect();
        Box::pin(async move {
            futures_util::future::try_join_all(acks).await?;
            Ok(())
        })
    }

    /// What an acknowledgement means on this system as it is configured.
    fn durability(&self) -> String;

    /// Removes the run's segments, keys or stream (unless `keep`) and
    /// closes the connections. A failure to clean up is reported, not fatal.
    fn teardown(self: Box<Self>, keep: bool);
}

/// The systems `--driver` and `compare --drivers` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// A Spate node, through the client library.
    Spate,
    /// Redis Streams: XADD of the payload per event.
    Redis,
    /// NATS JetStream: a publish per event, acknowledged by the stream.
    Nats,
}

impl DriverKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Spate => "spate",
            Self::Redis => "redis",
            Self::Nats => "nats",
        }
    }

    pub fn connect(self, setup: &Setup<'_>) -> anyhow::Result<Box<dyn Driver>> {
        Ok(match self {
            Self::Spate => match setup.stream {
                Some(stream) => Box::new(spate_stream::StreamDriver::connect(setup, stream)?),
                None => Box::new(spate::SpateDriver::connect(setup)?),
            },
            Self::Redis => Box::new(redis::RedisDriver::connect(setup)?),
            Self::Nats => Box::new(nats::NatsDriver::connect(setup)?),
        })
    }
}

/// The lanes of a workload: every segment gets a writer, and producers
/// take segments round robin. With fewer segments than producers, each
/// producer still gets one lane (producers share segments).
pub fn lanes(producers: usize, segments: usize) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = (0..segments)
        .map(|segment| Lane {
            producer: segment % producers,
            segment,
        })
        .collect();
    for producer in segments..producers {
        lanes.push(Lane {
            producer,
            segment: producer % segments,
        });
    }
    lanes
}

/// A name for this run's segments, keys or stream: the process id and the
/// start time, so repeated and parallel runs never collide.
pub fn run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{}-{secs}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_segment_and_every_producer_gets_a_lane() {
        for producers in 1..6 {
            for segments in 1..9 {
                let lanes = lanes(producers, segments);
                for s in 0..segments {
                    assert!(
                        lanes.iter().any(|l| l.segment == s),
                        "{producers}x{segments}"
                    );
                }
                for p in 0..producers {
                    assert!(
                        lanes.iter().any(|l| l.producer == p),
                        "{producers}x{segments}"
                    );
                }
                assert_eq!(lanes.len(), producers.max(segments));
            }
        }
    }
}
