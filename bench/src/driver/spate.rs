//! Spate through its client library: one `Client` (so one set of
//! connections, one per core) per producer, and one segment writer per
//! lane. Acknowledged means durable in the owning core's journal.

use anyhow::{Context, bail};
use spate_client::{AppendOutcome, Client, ClientOptions, CreateOutcome, SegmentWriter};

use super::{AckFuture, Driver, Setup};

pub struct SpateDriver {
    /// The first producer's client: creates and deletes the segments.
    admin: Client,
    segments: Vec<String>,
    /// One per lane, in lane order; each keeps its producer's client alive.
    writers: Vec<SegmentWriter>,
}

impl SpateDriver {
    /// Creates the segments and opens a writer per lane. Each segment is
    /// recorded as soon as it exists, so a failure midway still deletes it.
    fn open(
        &mut self,
        segments: &[String],
        clients: &[Client],
        setup: &Setup<'_>,
    ) -> anyhow::Result<()> {
        for name in segments {
            match self
                .admin
                .create_segment(name)
                .wait()
                .with_context(|| format!("creating the segment {name}"))?
            {
                CreateOutcome::Created | CreateOutcome::AlreadyExists => {}
            }
            self.segments.push(name.clone());
        }
        for (i, lane) in setup.lanes.iter().enumerate() {
            let name = &segments[lane.segment];
            let writer = clients[lane.producer]
                .segment_writer(name, (i + 1) as u128)
                .with_context(|| format!("opening a writer on {name}"))?;
            self.writers.push(writer);
        }
        Ok(())
    }
}

/// One client (so one set of connections) per producer.
pub fn connect_producers(setup: &Setup<'_>) -> anyhow::Result<Vec<Client>> {
    (0..setup.producers)
        .map(|_| {
            let options = ClientOptions {
                reply_spin: setup.reply_spin,
                ..ClientOptions::default()
            };
            Client::connect(setup.target, options)
                .with_context(|| format!("connecting to the Spate node at {}", setup.target))
        })
        .collect()
}

impl Driver for SpateDriver {
    fn connect(setup: &Setup<'_>) -> anyhow::Result<Self> {
        let clients = connect_producers(setup)?;
        let admin = clients[0].clone();
        let segments: Vec<String> = (0..setup.segments)
            .map(|i| format!("bench/append-{}/{i}", setup.run_id))
            .collect();
        let mut driver = Self {
            admin,
            segments: Vec::new(),
            writers: Vec::new(),
        };
        match driver.open(&segments, &clients, setup) {
            Ok(()) => Ok(driver),
            Err(e) => {
                Box::new(driver).teardown(false);
                Err(e)
            }
        }
    }

    fn send(&self, lane: usize, payload: &[u8]) -> AckFuture {
        let ack = self.writers[lane].append(payload);
        Box::pin(async move {
            match ack.await.context("an append failed")? {
                AppendOutcome::Appended(_) => Ok(()),
                outcome => bail!("an append was refused: {outcome:?}"),
            }
        })
    }

    fn durability(&self) -> String {
        "durable in the node's journal (O_DIRECT, written with O_DSYNC) before the ack".into()
    }

    fn teardown(self: Box<Self>, keep: bool) {
        let Self {
            admin,
            segments,
            writers,
        } = *self;
        drop(writers);
        if keep {
            return;
        }
        for name in &segments {
            if let Err(e) = admin.delete(name).wait() {
                eprintln!("spate-bench: could not delete the segment {name}: {e}");
            }
        }
    }
}
