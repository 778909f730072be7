//! Redis Streams: each event is one `XADD key * p <payload>` on its
//! producer's connection. Acknowledged means Redis answered the XADD, which
//! with `appendonly yes` and `appendfsync always` comes after the append-only
//! file's fsync (the README says how to start redis-server so).
//!
//! One multiplexed connection per producer (the `redis` crate pipelines
//! every command sent on it, as a Redis client under load would); one
//! stream key per segment.

use anyhow::Context;
use redis::aio::MultiplexedConnection;

use super::{ACK_PATIENCE, AckFuture, Driver, Setup};

pub struct RedisDriver {
    runtime: tokio::runtime::Handle,
    /// One per producer.
    connections: Vec<MultiplexedConnection>,
    /// Stream key of each segment.
    keys: Vec<String>,
    /// Per lane: (producer, segment).
    lanes: Vec<(usize, usize)>,
    /// `appendonly` and `appendfsync` as the server reported them.
    settings: String,
}

impl Driver for RedisDriver {
    fn connect(setup: &Setup<'_>) -> anyhow::Result<Self> {
        let url = if setup.target.contains("://") {
            setup.target.to_string()
        } else {
            format!("redis://{}/", setup.target)
        };
        let client = redis::Client::open(url.as_str())
            .with_context(|| format!("the Redis address {}", setup.target))?;
        let (connections, settings) = setup.runtime.block_on(async {
            let mut connections = Vec::with_capacity(setup.producers);
            for _ in 0..setup.producers {
                let config =
                    redis::AsyncConnectionConfig::new().set_response_timeout(Some(ACK_PATIENCE));
                let connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .with_context(|| format!("connecting to Redis at {}", setup.target))?;
                connections.push(connection);
            }
            let settings = settings(&mut connections[0]).await;
            anyhow::Ok((connections, settings))
        })?;
        if !settings.contains("appendfsync=always") || !settings.contains("appendonly=yes") {
            eprintln!(
                "spate-bench: warning: Redis runs with {settings}: its acks do not wait for an fsync (start it with --appendonly yes --appendfsync always)"
            );
        }
        Ok(Self {
            runtime: setup.runtime.clone(),
            connections,
            keys: (0..setup.segments)
                .map(|i| format!("spate-bench:{}:{i}", setup.run_id))
                .collect(),
            lanes: setup
                .lanes
                .iter()
                .map(|l| (l.producer, l.segment))
                .collect(),
            settings,
        })
    }

    fn send(&self, lane: usize, payload: &[u8]) -> AckFuture {
        let (producer, segment) = self.lanes[lane];
        let mut connection = self.connections[producer].clone();
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&self.keys[segment]).arg("*").arg("p").arg(payload);
        // Spawned, so the command leaves now rather than when the collector
        // first polls the acknowledgement.
        let reply = self
            .runtime
            .spawn(async move { xadd.query_async::<String>(&mut connection).await });
        Box::pin(async move {
            reply
                .await
                .context("the XADD task")?
                .context("XADD failed")?;
            Ok(())
        })
    }

    fn durability(&self) -> String {
        format!("Redis answered the XADD ({})", self.settings)
    }

    fn teardown(self: Box<Self>, keep: bool) {
        if keep {
            return;
        }
        let Some(mut connection) = self.connections.first().cloned() else {
            return;
        };
        let result = self.runtime.block_on(async {
            let mut del = redis::cmd("DEL");
            for key in &self.keys {
                del.arg(key);
            }
            del.query_async::<i64>(&mut connection).await
        });
        if let Err(e) = result {
            eprintln!("spate-bench: could not delete the Redis keys of this run: {e}");
        }
    }
}

/// `appendonly=… appendfsync=…`, or what kept us from asking.
async fn settings(connection: &mut MultiplexedConnection) -> String {
    let mut found = Vec::new();
    for name in ["appendonly", "appendfsync"] {
        let value = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query_async::<Vec<String>>(connection)
            .await
            .ok()
            .and_then(|pair| pair.get(1).cloned())
            .unwrap_or_else(|| "unknown".into());
        found.push(format!("{name}={value}"));
    }
    found.join(" ")
}
