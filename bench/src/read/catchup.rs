//! Catch-up reads: the stream filled first (`--prefill-mib`), then read
//! from its head to the tail it had when reading began, as fast as a
//! reader group (or one segment reader per segment) goes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use spate_client::{
    Client, ClientOptions, EventRead, EventSplitter, EventWriter, EventWriterOptions, ReadOutcome,
    ReaderGroup, ReaderGroupConfig, StreamBounds, StreamCut, StreamInfo, StreamName,
};

use super::{Delivered, Prefill, ReadArgs, ReadConfig, ReadReport, Via};
use crate::driver::spate_stream::{create_stream, remove_stream};
use crate::progress::ProgressMode;
use crate::spec::Workload;
use crate::stats::{Latencies, round3};

/// Events the prefill keeps in flight.
const PREFILL_WINDOW: usize = 4096;

pub fn run(
    args: &ReadArgs,
    workload: &Workload,
    stream: &StreamName,
    readers: Option<usize>,
    progress: ProgressMode,
) -> anyhow::Result<ReadReport> {
    let floor = crate::append::measure_plain_floor(&args.floor_dir, progress)?;
    let client = Client::connect(args.node.as_str(), ClientOptions::default())
        .with_context(|| format!("connecting to {}", args.node))?;
    let created = create_stream(&client, stream, workload.segments)?;
    let result = fill_and_read(args, workload, stream, &client, readers, progress);
    if created && !args.keep {
        remove_stream(&client, stream);
    }
    let (delivered, prefill, readers) = result?;
    let config = ReadConfig {
        mode: "catch-up",
        name: workload.name.clone(),
        stream: stream.to_string(),
        target: args.node.clone(),
        producers: 1,
        segments: workload.segments,
        event_bytes: workload.event_bytes.clone(),
        mean_event_bytes: workload.event_bytes.mean(),
        rate: 0.0,
        warmup_s: 0.0,
        keys: workload.keys,
        via: args.via,
        readers,
    };
    Ok(ReadReport::new(
        "read-catchup",
        &delivered,
        None,
        floor,
        config,
        Some(prefill),
    ))
}

fn fill_and_read(
    args: &ReadArgs,
    workload: &Workload,
    stream: &StreamName,
    client: &Client,
    readers: Option<usize>,
    progress: ProgressMode,
) -> anyhow::Result<(Delivered, Prefill, usize)> {
    let mut prefill = fill(client, stream, workload, args.prefill_mib << 20, progress)?;
    let info = client
        .describe_stream(stream)
        .wait()?
        .found(&stream.to_string())?;
    prefill.stream_mb = round3(info.held_bytes() as f64 / 1e6);
    if progress != ProgressMode::Off {
        eprintln!(
            "spate-bench: reading {:.1} MB from the head",
            prefill.stream_mb
        );
    }
    let (delivered, readers) = match args.via {
        Via::Group => {
            let readers = readers.unwrap_or(workload.segments.clamp(1, 4)).max(1);
            (
                read_group(client, stream, None, info.tail_cut(), readers)?,
                readers,
            )
        }
        Via::Segments => (
            read_segments(client, &info)?,
            info.description.segments.len(),
        ),
    };
    Ok((delivered, prefill, readers))
}

/// Writes `bytes` of payload as fast as acknowledged.
fn fill(
    client: &Client,
    stream: &StreamName,
    workload: &Workload,
    bytes: u64,
    progress: ProgressMode,
) -> anyhow::Result<Prefill> {
    if progress != ProgressMode::Off && bytes > 0 {
        eprintln!("spate-bench: writing {} MiB to {stream}", bytes >> 20);
    }
    let writer = EventWriter::open(client, stream, EventWriterOptions::default())
        .with_context(|| format!("opening an event writer on {stream}"))?;
    let payload = crate::workload::payload(workload.event_bytes.max());
    let mut rng = SmallRng::seed_from_u64(1);
    let mut in_flight = VecDeque::new();
    let (mut events, mut written) = (0u64, 0u64);
    let start = Instant::now();
    while written < bytes {
        let size = workload.event_bytes.sample(&mut rng);
        let key = (workload.keys > 0).then(|| (events % workload.keys).to_le_bytes());
        in_flight.push_back(writer.write_event(key.as_ref().map(|k| &k[..]), &payload[..size]));
        events += 1;
        written += size as u64;
        if in_flight.len() >= PREFILL_WINDOW
            && let Some(ack) = in_flight.pop_front()
        {
            ack.wait().context("a prefill write failed")?;
        }
    }
    for ack in in_flight {
        ack.wait().context("a prefill write failed")?;
    }
    writer.close().context("closing the prefill writer")?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Prefill {
        events,
        mb: round3(written as f64 / 1e6),
        seconds: round3(seconds),
        mb_per_s: round3(written as f64 / 1e6 / seconds.max(1e-9)),
        stream_mb: 0.0,
    })
}

/// A group of `readers` readers, from `start` (`None`: the head) to `end`
/// (`spate-bench read --from-start`, workloads with catch-up consumers once
/// their producers are done, and `spate-bench txn --verify`).
pub(crate) fn read_group(
    client: &Client,
    stream: &StreamName,
    start: Option<StreamCut>,
    end: StreamCut,
    readers: usize,
) -> anyhow::Result<Delivered> {
    let group_name = format!("bench-catchup-{}", crate::driver::run_id());
    let config = ReaderGroupConfig {
        streams: vec![StreamBounds {
            stream: stream.clone(),
            start,
            end: Some(end),
        }],
        refresh: Duration::from_millis(250),
    };
    let group = ReaderGroup::create(client, &stream.scope, &group_name, config)
        .context("creating the reader group")?;
    // Every reader joins before any reads, so the first does not take
    // every segment and hand them back one refresh at a time.
    let joined = (0..readers)
        .map(|i| group.reader(&format!("reader-{i}")))
        .collect::<Result<Vec<_>, _>>()
        .context("joining the reader group");
    let total = Mutex::new(empty());
    let start = Instant::now();
    let result = joined.and_then(|joined| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = joined
                .into_iter()
                .map(|mut reader| {
                    let (group, total) = (&group, &total);
                    scope.spawn(move || -> anyhow::Result<()> {
                        let mut part = empty();
                        loop {
                            let asked = Instant::now();
                            match reader.read_next_event(Duration::from_millis(200))? {
                                Some(EventRead::Event(event)) => {
                                    part.latency.record(asked.elapsed());
                                    part.seconds = start.elapsed().as_secs_f64();
                                    part.events += 1;
                                    part.payload_bytes += event.payload.len() as u64;
                                }
                                Some(EventRead::Checkpoint(_)) => {}
                                None if group.is_finished()? => break,
                                None => {}
                            }
                        }
                        reader.close()?;
                        merge(total, part);
                        Ok(())
                    })
                })
                .collect();
            join_readers(handles)
        })
    });
    if let Err(e) = group.delete() {
        eprintln!("spate-bench: could not delete the reader group {group_name}: {e}");
    }
    result?;
    Ok(total.into_inner().expect("no reader panicked holding it"))
}

/// One segment reader per segment, in parallel, each from its start offset
/// to its length in `info` (as `read_stream`, without order across
/// segments).
fn read_segments(client: &Client, info: &StreamInfo) -> anyhow::Result<Delivered> {
    let total = Mutex::new(empty());
    let max_event = client.topology().limits.max_frame_bytes as usize;
    let start = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = info
            .description
            .segments
            .iter()
            .map(|segment| {
                let total = &total;
                let name = info.segment_name(segment.number);
                scope.spawn(move || -> anyhow::Result<()> {
                    let mut reader = client.segment_reader(&name, segment.start_offset)?;
                    let mut splitter = EventSplitter::at(segment.start_offset);
                    let mut part = empty();
                    let mut offset = segment.start_offset;
                    while offset < segment.length {
                        let asked = Instant::now();
                        let ReadOutcome::Data(chunk) = reader.read().wait()? else {
                            bail!("{name} ended at {offset} before {}", segment.length);
                        };
                        part.latency.record(asked.elapsed());
                        part.seconds = start.elapsed().as_secs_f64();
                        offset = chunk.offset + chunk.data.len() as u64;
                        for event in splitter.push(&chunk.data, max_event)? {
                            part.events += 1;
                            part.payload_bytes += event.payload.len() as u64;
                        }
                    }
                    merge(total, part);
                    Ok(())
                })
            })
            .collect();
        join_readers(handles)
    })?;
    Ok(total.into_inner().expect("no reader panicked holding it"))
}

fn empty() -> Delivered {
    Delivered {
        events: 0,
        payload_bytes: 0,
        seconds: 0.0,
        latency: Latencies::new(),
        undelivered: 0,
    }
}

/// Adds a reader's part. The run lasts until the last event was delivered
/// (not until a reader noticed there was nothing more: it waits 200 ms
/// before it asks whether the group is finished).
fn merge(total: &Mutex<Delivered>, part: Delivered) {
    let mut total = total.lock().expect("no reader panicked holding it");
    total.events += part.events;
    total.payload_bytes += part.payload_bytes;
    total.latency.add(&part.latency);
    total.seconds = total.seconds.max(part.seconds);
}

/// Waits for every reader thread; the first error (or panic) wins.
fn join_readers(
    handles: Vec<std::thread::ScopedJoinHandle<'_, anyhow::Result<()>>>,
) -> anyhow::Result<()> {
    handles.into_iter().try_for_each(|h| {
        h.join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("a reader thread panicked")))
    })
}
