//! Spate through the event writer: one stream (created with `segments`
//! fixed segments if absent), one event writer per producer, events spread
//! over `keys` routing keys round robin (or unkeyed). What it costs beside
//! bare segments is the price of routing keys and the stream layer.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use spate_client::{
    Client, EventWriter, EventWriterOptions, StreamConfig, StreamCreateOutcome, StreamName,
};

use super::{AckFuture, Driver, Setup};

pub struct StreamDriver {
    admin: Client,
    name: StreamName,
    /// Created by this run (and so deleted after it).
    created: bool,
    /// One per producer.
    writers: Vec<EventWriter>,
    /// The producer of each lane.
    lane_producer: Vec<usize>,
    keys: Vec<[u8; 8]>,
    next_key: AtomicU64,
}

impl StreamDriver {
    pub fn connect(setup: &Setup<'_>, stream: &str) -> anyhow::Result<Self> {
        let name: StreamName = stream
            .parse()
            .map_err(|e: spate_client::ClientError| anyhow::anyhow!("--stream: {}", e.reason()))?;
        let clients = super::spate::connect_producers(setup)?;
        let admin = clients[0].clone();
        admin
            .create_scope(&name.scope)
            .wait()
            .with_context(|| format!("creating the scope {}", name.scope))?;
        let segments = u32::try_from(setup.segments).context("--segments")?;
        let created = match admin
            .create_stream(&name, StreamConfig::fixed(segments))
            .wait()
            .with_context(|| format!("creating the stream {name}"))?
        {
            StreamCreateOutcome::Created => true,
            StreamCreateOutcome::AlreadyExists => false,
            StreamCreateOutcome::NoSuchScope => bail!("the scope {} vanished", name.scope),
        };
        let writers = clients
            .iter()
            .map(|client| {
                EventWriter::open(client, &name, EventWriterOptions::default())
                    .with_context(|| format!("opening an event writer on {name}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            admin,
            name,
            created,
            writers,
            lane_producer: setup.lanes.iter().map(|l| l.producer).collect(),
            keys: (0..setup.keys).map(|k| k.to_le_bytes()).collect(),
            next_key: AtomicU64::new(0),
        })
    }
}

impl Driver for StreamDriver {
    fn connect(_setup: &Setup<'_>) -> anyhow::Result<Self> {
        bail!("the stream driver is made by the Spate driver when --stream is given")
    }

    fn send(&self, lane: usize, payload: &[u8]) -> AckFuture {
        let writer = &self.writers[self.lane_producer[lane]];
        let key = (!self.keys.is_empty()).then(|| {
            let i = self.next_key.fetch_add(1, Ordering::Relaxed);
            &self.keys[(i % self.keys.len() as u64) as usize][..]
        });
        let ack = writer.write_event(key, payload);
        Box::pin(async move { ack.await.map(drop).context("an event write failed") })
    }

    fn durability(&self) -> String {
        "durable in the node's journal (O_DIRECT, written with O_DSYNC) before the ack; \
         through the event writer (routing keys, framing)"
            .into()
    }

    fn teardown(self: Box<Self>, keep: bool) {
        let Self {
            admin,
            name,
            created,
            writers,
            ..
        } = *self;
        drop(writers);
        if keep || !created {
            return;
        }
        let removed = admin
            .seal_stream(&name)
            .wait()
            .and_then(|_| admin.delete_stream(&name).wait());
        if let Err(e) = removed {
            eprintln!("spate-bench: could not delete the stream {name}: {e}");
        }
    }
}
