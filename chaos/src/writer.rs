//! The writer process: appends deterministic events to every segment under
//! one fixed writer id, and logs each one SENT before it goes and ACKED
//! after the node acknowledged it.
//!
//! It runs in sessions: a session connects, opens a segment writer per
//! segment (which asks the node for the writer's last event number, so
//! numbering resumes where a killed process or a failed session stopped)
//! and appends bursts until a call fails; then it starts over. A restarted
//! process does the same, and first checks the node's answer against its
//! own log: the node must still hold every event the log says it
//! acknowledged, and nothing the log never sent.

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_client::{AppendOutcome, Client, SegmentWriter};

use crate::cli::WorkerArgs;
use crate::connect;
use crate::event::{self, EventId};
use crate::ledger::{self, Entry, LedgerError, LogWriter};
use crate::worker::{self, Stop};

/// Most events in one burst: enough to make the client batch appends.
const MAX_BURST: usize = 24;

/// While this file exists in the epoch directory, writers hold their next
/// burst. The loop creates it while it verifies: writing on during a pass
/// would add data in proportion to how long the pass takes, so every pass
/// would read more than the one before and take longer still.
pub const PAUSE_FILE: &str = "pause";

/// What this writer knows about one segment.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    /// Highest number logged SENT.
    sent: Option<u64>,
    /// Highest number logged ACKED.
    acked: Option<u64>,
}

/// Runs until killed; returns only when it must stop.
pub fn run(args: &WorkerArgs) -> Stop {
    let path = args.dir.join(format!("writer-{}.log", args.index));
    let mut log = match LogWriter::open(&path) {
        Ok(log) => log,
        Err(error) => return Stop::Harness(error.to_string()),
    };
    let mut progress = match read_progress(&path, args.index) {
        Ok(progress) => progress,
        Err(error) => return Stop::Harness(error.to_string()),
    };
    let mut rng = SmallRng::seed_from_u64(args.seed);
    loop {
        let stop = session(args, &mut log, &mut progress, &mut rng);
        if let Some(stop) = stop {
            return worker::report(&mut log, stop);
        }
        // A failed session: the node is probably restarting.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log of a previous process with this index, if any.
fn read_progress(
    path: &std::path::Path,
    writer: u32,
) -> Result<HashMap<String, Progress>, LedgerError> {
    let mut progress: HashMap<String, Progress> = HashMap::new();
    for entry in ledger::read(path)? {
        match entry {
            Entry::Sent {
                writer: w,
                segment,
                number,
            } if w == writer => {
                let p = progress.entry(segment).or_default();
                p.sent = p.sent.max(Some(number));
            }
            Entry::Acked {
                writer: w,
                segment,
                number,
            } if w == writer => {
                let p = progress.entry(segment).or_default();
                p.acked = p.acked.max(Some(number));
            }
            _ => {}
        }
    }
    Ok(progress)
}

/// One connection's worth of appending. `None`: the session failed in a
/// way worth retrying.
fn session(
    args: &WorkerArgs,
    log: &mut LogWriter,
    progress: &mut HashMap<String, Progress>,
    rng: &mut SmallRng,
) -> Option<Stop> {
    let client = match connect::connect(args.node, None) {
        Ok(client) => client,
        Err(error) => return worker::classify(error, "connecting"),
    };
    let mut writers = Vec::new();
    for segment in &args.segments {
        match open(&client, segment, args.index, progress) {
            Ok(writer) => writers.push(writer),
            Err(stop) => return stop,
        }
    }
    let paused = args.dir.join(PAUSE_FILE);
    loop {
        if let Err(stop) = burst(args.index, &writers, log, progress, rng) {
            return stop;
        }
        let pause = rng.random_range(0..=2 * args.pace_ms);
        std::thread::sleep(Duration::from_millis(pause));
        while paused.exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Opens the segment's writer and checks where the node says it stands.
fn open(
    client: &Client,
    segment: &str,
    index: u32,
    progress: &HashMap<String, Progress>,
) -> Result<SegmentWriter, Option<Stop>> {
    let writer = client
        .segment_writer(segment, event::writer_id(index))
        .map_err(|error| worker::classify(error, &format!("opening a writer on {segment}")))?;
    let next = writer.next_event_number();
    let known = progress.get(segment).copied().unwrap_or_default();
    // The node's last event from this writer is next - 1 (none if 0).
    let last = u64::try_from(next - 1).ok();
    if let Some(acked) = known.acked
        && last < Some(acked)
    {
        return Err(Some(Stop::Violation(format!(
            "LOST {segment}: the node says writer {index}'s last event is {last:?}, but event \
             {acked} was acknowledged"
        ))));
    }
    if last > known.sent {
        return Err(Some(Stop::Violation(format!(
            "INVENTED {segment}: the node says writer {index}'s last event is {last:?}, but the \
             writer only ever sent up to {:?}",
            known.sent
        ))));
    }
    Ok(writer)
}

/// Sends a burst of events to random segments and waits for every ack.
fn burst(
    index: u32,
    writers: &[SegmentWriter],
    log: &mut LogWriter,
    progress: &mut HashMap<String, Progress>,
    rng: &mut SmallRng,
) -> Result<(), Option<Stop>> {
    let count = rng.random_range(1..=MAX_BURST);
    // Number each event first: the writer numbers appends in call order.
    let mut next: Vec<u64> = writers
        .iter()
        .map(|w| u64::try_from(w.next_event_number()).unwrap_or(0))
        .collect();
    let mut plan = Vec::with_capacity(count);
    for _ in 0..count {
        let s = rng.random_range(0..writers.len());
        plan.push((s, next[s]));
        next[s] += 1;
    }
    let sent: Vec<Entry> = plan
        .iter()
        .map(|&(s, number)| Entry::Sent {
            writer: index,
            segment: writers[s].segment().to_owned(),
            number,
        })
        .collect();
    log.write(&sent).map_err(harness)?;
    for &(s, number) in &plan {
        let p = progress.entry(writers[s].segment().to_owned()).or_default();
        p.sent = p.sent.max(Some(number));
    }
    let pending: Vec<_> = plan
        .iter()
        .map(|&(s, number)| {
            let id = EventId {
                writer: index,
                number,
            };
            writers[s].append(event::encode(writers[s].segment(), id))
        })
        .collect();
    let mut acked = Vec::new();
    let mut failure = None;
    for (&(s, number), completion) in plan.iter().zip(pending) {
        let segment = writers[s].segment();
        match completion.wait() {
            Ok(AppendOutcome::Appended(ack)) if u64::try_from(ack.event_number) == Ok(number) => {
                acked.push(Entry::Acked {
                    writer: index,
                    segment: segment.to_owned(),
                    number,
                });
            }
            Ok(AppendOutcome::Appended(ack)) => {
                failure.get_or_insert(Some(Stop::Violation(format!(
                    "NUMBERING {segment}: writer {index} sent event {number}, the ack says {}",
                    ack.event_number
                ))));
            }
            Ok(other) => {
                failure.get_or_insert(Some(Stop::Violation(format!(
                    "UNEXPECTED {segment}: appending writer {index} event {number}: {other:?} \
                     (the loop never seals or deletes)"
                ))));
            }
            Err(error) => {
                let context = format!("appending to {segment}");
                failure.get_or_insert(worker::classify(error, &context));
            }
        }
    }
    // The acks that did arrive are facts, whatever failed after them.
    log.write(&acked).map_err(harness)?;
    for entry in &acked {
        if let Entry::Acked {
            segment, number, ..
        } = entry
        {
            let p = progress.entry(segment.clone()).or_default();
            p.acked = p.acked.max(Some(*number));
        }
    }
    match failure {
        None => Ok(()),
        Some(stop) => Err(stop),
    }
}

fn harness(error: LedgerError) -> Option<Stop> {
    Some(Stop::Harness(error.to_string()))
}
