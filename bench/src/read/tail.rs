//! Tail reads: the workload written at its rate through the event writer,
//! each payload stamped with its intended send time, and read at once by a
//! reader group that starts at the stream's tail.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use spate_client::{
    Client, ClientOptions, EventRead, EventReader, ReaderGroup, ReaderGroupConfig, StreamBounds,
    StreamName,
};

use super::{Delivered, ReadArgs, ReadConfig, ReadReport, Via};
use crate::driver::{self, AckFuture, Driver, DriverKind, Lane, Setup};
use crate::harness::Measured;
use crate::progress::ProgressMode;
use crate::spec::Workload;
use crate::stats::Latencies;

/// Bytes at the start of each payload: the intended send time, in
/// nanoseconds after the run's epoch, little-endian.
pub const STAMP_BYTES: usize = 8;

/// How long readers wait for the last events after the writers are done.
const DRAIN: Duration = Duration::from_secs(30);

pub fn run(
    args: &ReadArgs,
    workload: &Workload,
    stream: &StreamName,
    readers: usize,
    progress: ProgressMode,
) -> anyhow::Result<ReadReport> {
    let floor = crate::append::measure_floor(&args.floor_dir, workload, progress)?;
    let runtime = crate::append::runtime()?;
    let lanes = driver::lanes(workload.producers, workload.segments);
    let run_id = driver::run_id();
    let stream_text = stream.to_string();
    let setup = Setup {
        reply_spin: std::time::Duration::ZERO,
        target: &args.node,
        producers: workload.producers,
        segments: workload.segments,
        lanes: &lanes,
        run_id: &run_id,
        stream: Some(&stream_text),
        keys: workload.keys,
        runtime: runtime.handle(),
    };
    let writers = DriverKind::Spate
        .connect(&setup)
        .context("connecting the event writers")?;
    let client = Client::connect(args.node.as_str(), ClientOptions::default())
        .with_context(|| format!("connecting to {}", args.node));
    let read = client.and_then(|client| {
        write_and_read(
            &client,
            stream,
            writers.as_ref(),
            &lanes,
            workload,
            &runtime,
            progress,
            "spate read",
            readers,
        )
    });
    writers.teardown(args.keep);
    let (measured, delivered) = read?;
    let config = ReadConfig {
        mode: "tail",
        name: workload.name.clone(),
        stream: stream_text,
        target: args.node.clone(),
        producers: workload.producers,
        segments: workload.segments,
        event_bytes: workload.event_bytes.clone(),
        mean_event_bytes: workload.event_bytes.mean(),
        rate: workload.rate_per_s().unwrap_or(0.0),
        warmup_s: workload.warmup,
        keys: workload.keys,
        via: Via::Group,
        readers,
    };
    let ack = Some(measured.latencies.summary());
    Ok(ReadReport::new(
        "read", &delivered, ack, floor, config, None,
    ))
}

/// Runs `workload` through `writers` (the Spate stream driver on
/// `stream`), stamping each event with its intended send time, while a
/// reader group of `readers` readers, started at the stream's tail, reads
/// it. Returns what the writers measured (ack latency) and what the
/// readers did (delivery latency of the events due in the measured
/// window). `spate-bench read` and workloads with tail consumers both run
/// through here.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_and_read(
    client: &Client,
    stream: &StreamName,
    writers: &dyn Driver,
    lanes: &[Lane],
    workload: &Workload,
    runtime: &tokio::runtime::Runtime,
    progress: ProgressMode,
    label: &str,
    readers: usize,
) -> anyhow::Result<(Measured, Delivered)> {
    let stream_text = stream.to_string();
    let info = client.describe_stream(stream).wait()?.found(&stream_text)?;
    let group_name = format!("bench-read-{}", driver::run_id());
    let config = ReaderGroupConfig {
        streams: vec![StreamBounds {
            stream: stream.clone(),
            start: Some(info.tail_cut()),
            end: None,
        }],
        refresh: Duration::from_millis(250),
    };
    let group = ReaderGroup::create(client, &stream.scope, &group_name, config)
        .context("creating the reader group")?;
    let result = read_while_writing(
        &group, writers, lanes, workload, runtime, progress, label, readers,
    );
    if let Err(e) = group.delete() {
        eprintln!("spate-bench: could not delete the reader group {group_name}: {e}");
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn read_while_writing(
    group: &ReaderGroup,
    writers: &dyn Driver,
    lanes: &[Lane],
    workload: &Workload,
    runtime: &tokio::runtime::Runtime,
    progress: ProgressMode,
    label: &str,
    readers: usize,
) -> anyhow::Result<(Measured, Delivered)> {
    let mut event_readers = (0..readers.max(1))
        .map(|i| group.reader(&format!("reader-{i}")))
        .collect::<Result<Vec<_>, _>>()
        .context("joining the reader group")?;
    // Every segment owned before the first write, so no event waits for
    // an acquisition.
    let deadline = Instant::now() + Duration::from_secs(20);
    while group.distribution()?.unassigned > 0 && Instant::now() < deadline {
        for reader in &mut event_readers {
            reader.read_next_event(Duration::from_millis(50))?;
        }
    }

    let stamped = Stamped {
        inner: writers,
        epoch: Instant::now(),
        sent: AtomicU64::new(0),
    };
    let shared = Shared {
        epoch: stamped.epoch,
        measure_from_ns: (workload.warmup * 1e9) as u64,
        measure_to_ns: ((workload.warmup + workload.seconds) * 1e9) as u64,
        delivered: AtomicU64::new(0),
        stopped: OnceLock::new(),
        failed: AtomicBool::new(false),
        total: Mutex::new(Delivered {
            events: 0,
            payload_bytes: 0,
            seconds: workload.seconds,
            latency: Latencies::new(),
            undelivered: 0,
        }),
    };
    let (measured, read) = std::thread::scope(|scope| {
        let handles: Vec<_> = event_readers
            .into_iter()
            .map(|reader| {
                let (shared, sent) = (&shared, &stamped.sent);
                scope.spawn(move || read_tail(reader, shared, sent))
            })
            .collect();
        let measured = crate::harness::run(&stamped, lanes, workload, runtime, progress, label);
        let _ = shared.stopped.set(Instant::now());
        let read: anyhow::Result<()> = handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a reader thread panicked")))
        });
        (measured, read)
    });
    let measured = measured?;
    read?;
    let mut delivered = shared
        .total
        .into_inner()
        .expect("no reader panicked holding it");
    delivered.undelivered = stamped
        .sent
        .load(Ordering::Relaxed)
        .saturating_sub(shared.delivered.load(Ordering::Relaxed));
    Ok((measured, delivered))
}

/// What reader threads share.
struct Shared {
    epoch: Instant,
    measure_from_ns: u64,
    measure_to_ns: u64,
    /// Events delivered to any reader (warm-up included).
    delivered: AtomicU64,
    /// When the writers were done.
    stopped: OnceLock<Instant>,
    failed: AtomicBool,
    total: Mutex<Delivered>,
}

/// One reader: until every event sent has been delivered (or the drain
/// ran out), records each event due in the window.
fn read_tail(mut reader: EventReader, shared: &Shared, sent: &AtomicU64) -> anyhow::Result<()> {
    let mut latency = Latencies::new();
    let (mut events, mut bytes) = (0u64, 0u64);
    let result = loop {
        if let Some(stopped) = shared.stopped.get() {
            let all = shared.delivered.load(Ordering::Relaxed) >= sent.load(Ordering::Relaxed);
            if all || stopped.elapsed() > DRAIN || shared.failed.load(Ordering::Relaxed) {
                break Ok(());
            }
        }
        let event = match reader.read_next_event(Duration::from_millis(100)) {
            Ok(Some(EventRead::Event(event))) => event,
            Ok(_) => continue,
            Err(e) => break Err(anyhow::Error::from(e).context("reading the stream")),
        };
        let now = Instant::now();
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        let Some(stamp) = event.payload.get(..STAMP_BYTES) else {
            continue;
        };
        let stamp = u64::from_le_bytes(stamp.try_into().expect("8 bytes"));
        if stamp < shared.measure_from_ns {
            continue;
        }
        let intended = shared.epoch + Duration::from_nanos(stamp);
        latency.record(now.saturating_duration_since(intended));
        if stamp < shared.measure_to_ns {
            events += 1;
            bytes += event.payload.len() as u64;
        }
    };
    if result.is_err() {
        shared.failed.store(true, Ordering::Relaxed);
    }
    let _ = reader.close();
    let mut total = shared.total.lock().expect("no reader panicked holding it");
    total.events += events;
    total.payload_bytes += bytes;
    total.latency.add(&latency);
    result
}

/// The Spate stream driver, stamping each payload with its intended send
/// time. Its owner tears the stream driver down.
struct Stamped<'a> {
    inner: &'a dyn Driver,
    epoch: Instant,
    sent: AtomicU64,
}

impl Stamped<'_> {
    /// A copy of `payload` with `intended` in its first 8 bytes.
    fn stamp(&self, payload: &[u8], intended: Instant) -> Vec<u8> {
        let mut stamped = payload.to_vec();
        let ns = intended.saturating_duration_since(self.epoch).as_nanos() as u64;
        if stamped.len() >= STAMP_BYTES {
            stamped[..STAMP_BYTES].copy_from_slice(&ns.to_le_bytes());
        }
        stamped
    }
}

impl Driver for Stamped<'_> {
    fn connect(_setup: &Setup<'_>) -> anyhow::Result<Self> {
        anyhow::bail!("made by spate-bench read around the stream driver")
    }

    fn send(&self, lane: usize, payload: &[u8]) -> AckFuture {
        self.send_at(lane, payload, Instant::now())
    }

    fn send_at(&self, lane: usize, payload: &[u8], intended: Instant) -> AckFuture {
        let stamped = self.stamp(payload, intended);
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.inner.send(lane, &stamped)
    }

    /// A transaction's events all carry its intended start.
    fn send_events_at(&self, lane: usize, events: &[&[u8]], intended: Instant) -> AckFuture {
        let stamped: Vec<Vec<u8>> = events.iter().map(|e| self.stamp(e, intended)).collect();
        let stamped: Vec<&[u8]> = stamped.iter().map(Vec::as_slice).collect();
        self.sent.fetch_add(events.len() as u64, Ordering::Relaxed);
        self.inner.send_events_at(lane, &stamped, intended)
    }

    fn durability(&self) -> String {
        self.inner.durability()
    }

    fn teardown(self: Box<Self>, _keep: bool) {}
}
