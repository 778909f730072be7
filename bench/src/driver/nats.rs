//! NATS JetStream: one stream in file storage for the run, one subject per
//! segment, and a JetStream publish per event whose acknowledgement is the
//! stream's `PubAck`. JetStream fsyncs each message before that ack only
//! when the server runs with `jetstream { sync_interval: always }` (server
//! 2.10 and later); otherwise every two minutes by default. The README
//! says how to start it so.
//!
//! One client (one connection) per producer.

use anyhow::Context;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;

use super::{ACK_PATIENCE, AckFuture, Driver, Setup};

pub struct NatsDriver {
    runtime: tokio::runtime::Handle,
    /// One JetStream context (over its own connection) per producer.
    contexts: Vec<jetstream::Context>,
    stream: String,
    /// Subject of each segment.
    subjects: Vec<String>,
    /// Per lane: (producer, segment).
    lanes: Vec<(usize, usize)>,
}

impl Driver for NatsDriver {
    fn connect(setup: &Setup<'_>) -> anyhow::Result<Self> {
        let address = if setup.target.contains("://") {
            setup.target.to_string()
        } else {
            format!("nats://{}", setup.target)
        };
        let token = setup
            .run_id
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let stream = format!("SPATE_BENCH_{token}");
        let subjects: Vec<String> = (0..setup.segments)
            .map(|i| format!("spate-bench.{token}.{i}"))
            .collect();
        let contexts = setup.runtime.block_on(async {
            let mut contexts = Vec::with_capacity(setup.producers);
            for _ in 0..setup.producers {
                let client = async_nats::connect(address.as_str())
                    .await
                    .with_context(|| format!("connecting to NATS at {}", setup.target))?;
                let context = jetstream::ContextBuilder::new()
                    .timeout(ACK_PATIENCE)
                    .ack_timeout(ACK_PATIENCE)
                    .build(client);
                contexts.push(context);
            }
            contexts[0]
                .get_or_create_stream(stream::Config {
                    name: stream.clone(),
                    subjects: vec![format!("spate-bench.{token}.*")],
                    storage: stream::StorageType::File,
                    num_replicas: 1,
                    ..Default::default()
                })
                .await
                .with_context(|| {
                    format!("creating the JetStream stream {stream} (is JetStream enabled, -js?)")
                })?;
            anyhow::Ok(contexts)
        })?;
        Ok(Self {
            runtime: setup.runtime.clone(),
            contexts,
            stream,
            subjects,
            lanes: setup
                .lanes
                .iter()
                .map(|l| (l.producer, l.segment))
                .collect(),
        })
    }

    fn send(&self, lane: usize, payload: &[u8]) -> AckFuture {
        let (producer, segment) = self.lanes[lane];
        let context = self.contexts[producer].clone();
        let subject = self.subjects[segment].clone();
        let payload = Bytes::copy_from_slice(payload);
        // Spawned, so the message leaves now rather than when the collector
        // first polls the acknowledgement.
        let ack = self.runtime.spawn(async move {
            let ack = context
                .publish(subject, payload)
                .await
                .context("a JetStream publish failed")?;
            ack.await.context("JetStream refused a message")?;
            anyhow::Ok(())
        });
        Box::pin(async move { ack.await.context("the publish task")? })
    }

    fn durability(&self) -> String {
        "JetStream acknowledged the publish (file storage; fsync before the ack only if the server runs with jetstream.sync_interval: always)".into()
    }

    fn teardown(self: Box<Self>, keep: bool) {
        if keep {
            return;
        }
        let Some(context) = self.contexts.first() else {
            return;
        };
        if let Err(e) = self
            .runtime
            .block_on(context.delete_stream(self.stream.as_str()))
        {
            eprintln!(
                "spate-bench: could not delete the JetStream stream {}: {e}",
                self.stream
            );
        }
    }
}
