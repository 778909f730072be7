//! Where `spate-bench append` sends events: bare segments (one segment
//! writer each, events round-robin) or a stream through the event writer
//! (events spread over `--keys` routing keys, or unkeyed).

use anyhow::{Context, bail};
use spate_client::{
    Client, CreateOutcome, EventWriter, EventWriterOptions, SegmentWriter, StreamConfig,
    StreamCreateOutcome, StreamName,
};

use crate::append::{Ack, AppendArgs};

pub enum Target {
    Segments {
        names: Vec<String>,
        writers: Vec<SegmentWriter>,
    },
    Stream {
        name: StreamName,
        writer: EventWriter,
        keys: Vec<[u8; 8]>,
        /// Created by this run (and so deleted after it).
        created: bool,
    },
}

impl Target {
    pub fn open(client: &Client, args: &AppendArgs) -> anyhow::Result<Target> {
        match &args.stream {
            None => open_segments(client, args.segments),
            Some(stream) => open_stream(client, stream, args.segments, args.keys),
        }
    }

    /// Sends event `i`.
    pub fn send(&self, i: u64, payload: &[u8]) -> Ack {
        match self {
            Target::Segments { writers, .. } => {
                let writer = &writers[i as usize % writers.len()];
                Ack::Segment(writer.append(payload.to_vec()))
            }
            Target::Stream { writer, keys, .. } => {
                let key = (!keys.is_empty()).then(|| &keys[i as usize % keys.len()][..]);
                Ack::Event(writer.write_event(key, payload))
            }
        }
    }

    /// Deletes what the run created; a failure is reported, not fatal (the
    /// figures are still good).
    pub fn remove(self, client: &Client) {
        match self {
            Target::Segments { names, writers } => {
                drop(writers);
                for name in names {
                    if let Err(e) = client.delete(&name).wait() {
                        eprintln!("spate-bench: could not delete {name}: {e}");
                    }
                }
            }
            Target::Stream {
                name,
                writer,
                created,
                ..
            } => {
                drop(writer);
                if !created {
                    return;
                }
                let removed = client
                    .seal_stream(&name)
                    .wait()
                    .and_then(|_| client.delete_stream(&name).wait());
                if let Err(e) = removed {
                    eprintln!("spate-bench: could not delete stream {name}: {e}");
                }
            }
        }
    }
}

fn open_segments(client: &Client, segments: usize) -> anyhow::Result<Target> {
    let run = std::process::id();
    let names: Vec<String> = (0..segments)
        .map(|i| format!("bench/append-{run}/{i}"))
        .collect();
    let writers = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            match client
                .create_segment(name)
                .wait()
                .with_context(|| format!("creating {name}"))?
            {
                CreateOutcome::Created | CreateOutcome::AlreadyExists => {}
            }
            client
                .segment_writer(name, (i + 1) as u128)
                .with_context(|| format!("a writer on {name}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Target::Segments { names, writers })
}

fn open_stream(
    client: &Client,
    stream: &str,
    segments: usize,
    keys: u64,
) -> anyhow::Result<Target> {
    let name: StreamName = stream
        .parse()
        .map_err(|e: spate_client::ClientError| anyhow::anyhow!("--stream: {}", e.reason()))?;
    client
        .create_scope(&name.scope)
        .wait()
        .with_context(|| format!("creating scope {}", name.scope))?;
    let segments = u32::try_from(segments).context("--segments")?;
    let created = match client
        .create_stream(&name, StreamConfig::fixed(segments))
        .wait()
        .with_context(|| format!("creating stream {name}"))?
    {
        StreamCreateOutcome::Created => true,
        StreamCreateOutcome::AlreadyExists => false,
        StreamCreateOutcome::NoSuchScope => bail!("scope {} vanished", name.scope),
    };
    let writer = EventWriter::open(client, &name, EventWriterOptions::default())
        .with_context(|| format!("a writer on {name}"))?;
    let keys = (0..keys).map(|k| k.to_le_bytes()).collect();
    Ok(Target::Stream {
        name,
        writer,
        keys,
        created,
    })
}
