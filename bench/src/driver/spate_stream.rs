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
        let name = parse_stream(stream)?;
        let clients = super::spate::connect_producers(setup)?;
        let admin = clients[0].clone();
        let created = create_stream(&admin, &name, setup.segments)?;
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
        if created && !keep {
            remove_stream(&admin, &name);
        }
    }
}

/// `SCOPE/NAME`, as `--stream` takes it.
pub fn parse_stream(stream: &str) -> anyhow::Result<StreamName> {
    stream
        .parse()
        .map_err(|e: spate_client::ClientError| anyhow::anyhow!("--stream: {}", e.reason()))
}

/// Creates the scope and the stream with `segments` fixed segments; true
/// if this run created the stream (and so deletes it afterwards).
pub fn create_stream(admin: &Client, name: &StreamName, segments: usize) -> anyhow::Result<bool> {
    admin
        .create_scope(&name.scope)
        .wait()
        .with_context(|| format!("creating the scope {}", name.scope))?;
    let segments = u32::try_from(segments).context("--segments")?;
    match admin
        .create_stream(name, StreamConfig::fixed(segments))
        .wait()
        .with_context(|| format!("creating the stream {name}"))?
    {
        StreamCreateOutcome::Created => Ok(true),
        StreamCreateOutcome::AlreadyExists => Ok(false),
        StreamCreateOutcome::NoSuchScope => bail!("the scope {} vanished", name.scope),
    }
}

/// Seals and deletes a stream the run created; a failure is reported, not
/// fatal.
pub fn remove_stream(admin: &Client, name: &StreamName) {
    let removed = admin
        .seal_stream(name)
        .wait()
        .and_then(|_| admin.delete_stream(name).wait());
    if let Err(e) = removed {
        eprintln!("spate-bench: could not delete the stream {name}: {e}");
    }
}
