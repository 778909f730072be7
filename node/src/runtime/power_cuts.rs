//! Simulated power cuts of a whole core: its containers, read cache,
//! checkpoints and journal release, on the journal's simulated disk (torn
//! 512 B sectors, lost unsynced writes, completions in any order).
//!
//! Each seed drives one core with a random workload of appends (some
//! batched), truncates, and short-lived segments that are deleted, cuts the
//! power at random moments, recovers exactly as the node starts (journal
//! recovery, then `rebuild`), and checks after every cut that:
//! - every acknowledged append is there, bit-exact, and each segment holds
//!   a prefix of what was sent, in order (nothing invented, nothing
//!   reordered, no gap);
//! - writer states match what survived (so a resend is deduplicated);
//! - an acknowledged truncate or delete held;
//! - data evicted from memory reads back from the journal (verified).
//!
//! `SPATE_SIM_SEEDS=N` runs more seeds; `SPATE_SIM_SEED=N` replays one.

use std::num::NonZeroU32;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_journal::readback::{aligned_span, payload_at};
use spate_journal::sim::{Faults, SimDisk};
use spate_journal::{AlignedBuf, Journal, JournalConfig, Storage};
use spate_wire::{
    Append, AppendBatch, BatchEvent, CreateSegment, Delete, GetWriterState, Reply, Request,
    Truncate, container_for,
};

use super::core::{CoreState, Started};
use super::notify::Notify;
use super::rebuild::rebuild;
use crate::container::{ContainerId, ContainerLimits, MIN_MAX_RECORD_BYTES, Piece, ReadOutcome};

const CONTAINERS: u32 = 2;
const DATA_SEGMENTS: usize = 4;
const STEPS: usize = 400;

fn journal_config() -> JournalConfig {
    JournalConfig {
        journal_id: 5,
        file_bytes: 256 << 10,
        max_record_bytes: 64 << 10,
        max_write_bytes: 64 << 10,
        max_writes_in_flight: 2,
        max_queued_bytes: 512 << 10,
        max_files: 8,
    }
}

fn limits() -> ContainerLimits {
    ContainerLimits {
        // Small, so most data is evicted and read back from the journal.
        data_budget_bytes: 24 << 10,
        max_record_bytes: MIN_MAX_RECORD_BYTES,
        ..ContainerLimits::default()
    }
}

fn owned() -> Vec<ContainerId> {
    (0..CONTAINERS).collect()
}

fn container_of(segment: &str) -> ContainerId {
    container_for(segment, NonZeroU32::new(CONTAINERS).expect("non-zero"))
}

/// What one data segment was sent and what of it was acknowledged.
#[derive(Default)]
struct Sent {
    /// Payloads in event-number order (event number = index).
    events: Vec<Vec<u8>>,
    /// Events acknowledged: a prefix of `events`.
    acked: usize,
    /// The start offset an acknowledged truncate set.
    truncated_to: u64,
    /// Start offsets of truncates sent (acknowledged or not).
    truncates_sent: Vec<u64>,
}

impl Sent {
    fn end_of(&self, events: usize) -> u64 {
        self.events[..events].iter().map(|e| e.len() as u64).sum()
    }
}

struct Waiting {
    reply: flume::Receiver<Reply>,
    on_ack: OnAck,
}

enum OnAck {
    Appended { segment: usize, up_to: usize },
    Truncated { segment: usize, to: u64 },
    Deleted { name: String },
    Nothing,
}

struct Run {
    rng: SmallRng,
    state: CoreState<SimDisk>,
    sent: Vec<Sent>,
    waiting: Vec<Waiting>,
    deleted: Vec<String>,
    temp_serial: u64,
    acks: u64,
    cuts: u64,
}

fn data_name(i: usize) -> String {
    format!("sim/data/{i}")
}

fn payload(rng: &mut SmallRng, segment: usize, event: usize) -> Vec<u8> {
    let len = rng.random_range(1..1500);
    (0..len)
        .map(|b| (b as u8) ^ (segment as u8).wrapping_mul(31) ^ (event as u8))
        .collect()
}

fn open(disk: SimDisk) -> CoreState<SimDisk> {
    let (journal, recovered) = Journal::open(disk, journal_config()).expect("journal recovers");
    let containers = rebuild(&recovered, &owned(), &limits()).expect("containers rebuild");
    CoreState::new(0, containers, journal, Notify::default(), 64)
}

impl Run {
    fn execute(&mut self, request: Request, on_ack: OnAck) {
        let container = container_of(request.segment().expect("a segment request"));
        match self.state.execute(container, request, 1_700_000_000_000) {
            Started::Done(reply) => self.settle(reply, on_ack),
            Started::Durable(reply) => self.waiting.push(Waiting { reply, on_ack }),
        }
    }

    fn settle(&mut self, reply: Reply, on_ack: OnAck) {
        let ok = matches!(
            reply,
            Reply::Appended(_) | Reply::Truncated(_) | Reply::Deleted(_) | Reply::SegmentCreated(_)
        );
        if !ok {
            return;
        }
        self.acks += 1;
        match on_ack {
            OnAck::Appended { segment, up_to } => {
                let sent = &mut self.sent[segment];
                sent.acked = sent.acked.max(up_to);
            }
            OnAck::Truncated { segment, to } => {
                let sent = &mut self.sent[segment];
                sent.truncated_to = sent.truncated_to.max(to);
            }
            OnAck::Deleted { name } => self.deleted.push(name),
            OnAck::Nothing => {}
        }
    }

    /// Moves the journal on and collects the replies that became ready.
    fn advance(&mut self) {
        assert!(self.state.advance(), "the simulated disk has no faults");
        let mut still = Vec::new();
        for waiting in std::mem::take(&mut self.waiting) {
            match waiting.reply.try_recv() {
                Ok(reply) => self.settle(reply, waiting.on_ack),
                Err(flume::TryRecvError::Empty) => still.push(waiting),
                Err(flume::TryRecvError::Disconnected) => {}
            }
        }
        self.waiting = still;
    }

    fn append(&mut self) {
        let segment = self.rng.random_range(0..DATA_SEGMENTS);
        let first = self.sent[segment].events.len();
        let count = if self.rng.random_bool(0.3) {
            self.rng.random_range(2..6)
        } else {
            1
        };
        let events: Vec<BatchEvent> = (first..first + count)
            .map(|event| BatchEvent {
                event_number: event as i64,
                payload: payload(&mut self.rng, segment, event),
            })
            .collect();
        self.sent[segment]
            .events
            .extend(events.iter().map(|e| e.payload.clone()));
        let request = if count == 1 {
            let event = events.into_iter().next().expect("one event");
            Request::Append(Append {
                segment: data_name(segment),
                writer_id: segment as u128 + 1,
                event_number: event.event_number,
                payload: event.payload,
            })
        } else {
            Request::AppendBatch(AppendBatch {
                segment: data_name(segment),
                writer_id: segment as u128 + 1,
                events,
            })
        };
        let up_to = first + count;
        self.execute(request, OnAck::Appended { segment, up_to });
    }

    fn truncate(&mut self) {
        let segment = self.rng.random_range(0..DATA_SEGMENTS);
        let sent = &self.sent[segment];
        if sent.acked == 0 {
            return;
        }
        let event = self.rng.random_range(0..=sent.acked);
        let to = sent.end_of(event);
        let current = sent.truncates_sent.iter().copied().max().unwrap_or(0);
        if to <= current {
            return;
        }
        self.sent[segment].truncates_sent.push(to);
        let request = Request::Truncate(Truncate {
            segment: data_name(segment),
            start_offset: to,
        });
        self.execute(request, OnAck::Truncated { segment, to });
    }

    /// A segment that lives a few steps: created, written, deleted.
    fn short_lived(&mut self) {
        self.temp_serial += 1;
        let name = format!("sim/temp/{}-{}", self.cuts, self.temp_serial);
        let create = Request::CreateSegment(CreateSegment {
            segment: name.clone(),
        });
        self.execute(create, OnAck::Nothing);
        let data = vec![7u8; self.rng.random_range(1000..8000)];
        let append = Request::Append(Append {
            segment: name.clone(),
            writer_id: 99,
            event_number: 0,
            payload: data,
        });
        self.execute(append, OnAck::Nothing);
        let delete = Request::Delete(Delete {
            segment: name.clone(),
        });
        self.execute(delete, OnAck::Deleted { name });
    }

    fn power_cut(&mut self) {
        let state = std::mem::replace(&mut self.state, open(SimDisk::new(0, Faults::default())));
        let mut disk = state.into_journal().into_storage();
        disk.crash();
        self.state = open(disk);
        self.waiting.clear();
        self.cuts += 1;
        self.check();
    }

    /// Checks what survived against what was sent and acknowledged, and
    /// forgets what was sent but lost (the writer resends from there).
    fn check(&mut self) {
        for segment in 0..DATA_SEGMENTS {
            let name = data_name(segment);
            let (start, length, data) = self.read_all(&name);
            let sent = &self.sent[segment];
            let mut survived = 0;
            while survived < sent.events.len() && sent.end_of(survived) < length {
                survived += 1;
            }
            assert_eq!(
                sent.end_of(survived),
                length,
                "{name}: length {length} is not at an event boundary of what was sent"
            );
            assert!(
                survived >= sent.acked,
                "{name}: {} events acknowledged, {survived} survived",
                sent.acked
            );
            let all: Vec<u8> = sent.events[..survived].concat();
            assert!(
                data == all[start as usize..],
                "{name}: bytes differ from what was sent"
            );
            assert!(
                start >= sent.truncated_to,
                "{name}: acknowledged truncate to {} undone (start {start})",
                sent.truncated_to
            );
            assert!(
                start == 0 || sent.truncates_sent.contains(&start),
                "{name}: start {start} was never asked for"
            );
            self.check_writer(&name, segment, survived);
            let sent = &mut self.sent[segment];
            sent.events.truncate(survived);
            sent.acked = survived;
            sent.truncated_to = start;
            sent.truncates_sent.retain(|&t| t <= start);
        }
        for name in &self.deleted {
            let container = &self.state.containers[&container_of(name)];
            assert!(
                matches!(
                    container.read(name, 0, 1),
                    ReadOutcome::Reply(Reply::NoSuchSegment(_))
                ),
                "{name}: an acknowledged delete was undone"
            );
        }
    }

    fn check_writer(&mut self, name: &str, segment: usize, survived: usize) {
        let request = Request::GetWriterState(GetWriterState {
            segment: name.to_string(),
            writer_id: segment as u128 + 1,
        });
        let Started::Done(Reply::WriterState(state)) =
            self.state.execute(container_of(name), request, 0)
        else {
            panic!("{name}: no writer state");
        };
        let expected = survived.checked_sub(1).map(|e| e as i64);
        assert_eq!(state.last_event_number, expected, "{name}: writer state");
    }

    /// The segment's start, length and bytes, reading evicted data back
    /// from the simulated disk as the node does.
    fn read_all(&mut self, name: &str) -> (u64, u64, Vec<u8>) {
        let container = &self.state.containers[&container_of(name)];
        let info = container.snapshot().expect("all data located");
        let segment = info
            .segments
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is gone"));
        let (start, length) = (segment.start_offset, segment.length);
        let data = match container.read(name, start, u32::MAX) {
            ReadOutcome::Reply(Reply::ReadData(read)) => read.data,
            ReadOutcome::Load(plan) => self.load(&plan.pieces),
            ReadOutcome::AtTail => Vec::new(),
            ReadOutcome::Reply(other) => panic!("{name}: {other:?}"),
        };
        (start, length, data)
    }

    fn load(&mut self, pieces: &[Piece]) -> Vec<u8> {
        let max = journal_config().max_record_bytes;
        let mut out = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Memory(bytes) => out.extend_from_slice(bytes),
                Piece::Hot { .. } => unreachable!("nothing is flushed here"),
                Piece::Journal { at, start, len } => {
                    let journal = &mut self.state.journal;
                    let slot = journal
                        .slot_of(at.location.file_seq)
                        .expect("the file holding live data was kept");
                    let (offset, span) = aligned_span(at.location, at.payload_len);
                    let mut buf = AlignedBuf::new(span);
                    journal
                        .storage_mut()
                        .read_at(slot, offset, &mut buf)
                        .expect("read");
                    let payload = payload_at(buf.as_slice(), offset, at.location, max)
                        .expect("the record reads back intact");
                    out.extend_from_slice(&payload[*start as usize..(*start + *len) as usize]);
                }
            }
        }
        out
    }
}

fn run_seed(seed: u64) -> (u64, u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let faults = Faults {
        garble_per_mille: 20,
        ..Faults::default()
    };
    let state = open(SimDisk::new(seed, faults));
    let mut run = Run {
        rng: SmallRng::seed_from_u64(seed ^ 0x5eed),
        state,
        sent: (0..DATA_SEGMENTS).map(|_| Sent::default()).collect(),
        waiting: Vec::new(),
        deleted: Vec::new(),
        temp_serial: 0,
        acks: 0,
        cuts: 0,
    };
    for segment in 0..DATA_SEGMENTS {
        let create = Request::CreateSegment(CreateSegment {
            segment: data_name(segment),
        });
        run.execute(create, OnAck::Nothing);
    }
    while !run.state.is_idle() {
        run.advance();
    }
    for _ in 0..STEPS {
        match rng.random_range(0..100) {
            0..70 => run.append(),
            70..80 => run.truncate(),
            80..85 => run.short_lived(),
            _ => {}
        }
        for _ in 0..rng.random_range(0..4) {
            run.advance();
        }
        if rng.random_bool(0.02) {
            run.power_cut();
        }
    }
    run.power_cut();
    (run.cuts, run.acks)
}

#[test]
fn simulated_power_cuts_of_a_core_lose_no_acknowledged_data() {
    let seeds: Vec<u64> = match std::env::var("SPATE_SIM_SEED") {
        Ok(one) => vec![one.parse().expect("SPATE_SIM_SEED is a number")],
        Err(_) => {
            let n = std::env::var("SPATE_SIM_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(250);
            (0..n).collect()
        }
    };
    let (mut cuts, mut acks) = (0, 0);
    for &seed in &seeds {
        let result = std::panic::catch_unwind(|| run_seed(seed));
        match result {
            Ok((c, a)) => {
                cuts += c;
                acks += a;
            }
            Err(panic) => {
                eprintln!("seed {seed} failed; replay with SPATE_SIM_SEED={seed}");
                std::panic::resume_unwind(panic);
            }
        }
    }
    println!(
        "core power cuts: {} seeds, {cuts} cuts, {acks} acknowledged mutations, none lost",
        seeds.len()
    );
}

/// A core whose journal never catches up (more is always queued than it
/// takes) still writes checkpoints, and so releases what deleted segments
/// held. Checkpoints once waited for an empty queue; under a sustained full
/// load it never emptied, nothing was released, and appends got
/// `StorageFull` although nearly everything written had been deleted.
#[test]
fn a_journal_that_is_always_busy_still_checkpoints_and_releases() {
    let roomy = ContainerLimits {
        data_budget_bytes: 64 << 20,
        ..limits()
    };
    let disk = SimDisk::new(1, Faults::default());
    let (journal, recovered) = Journal::open(disk, journal_config()).expect("journal opens");
    let containers = rebuild(&recovered, &owned(), &roomy).expect("containers");
    let mut state = CoreState::new(0, containers, journal, Notify::default(), 64);
    let mut refused = 0;
    let mut waiting = Vec::new();
    let payload = vec![7u8; 4000];
    // 40 rounds of about 600 KB through 2 MiB of journal files: only
    // releases make room.
    for round in 0..40 {
        let segment = format!("busy/{round}");
        let container = container_of(&segment);
        let mut requests = vec![Request::CreateSegment(CreateSegment {
            segment: segment.clone(),
        })];
        requests.extend((0..150).map(|event| {
            Request::Append(Append {
                segment: segment.clone(),
                writer_id: 1,
                event_number: event,
                payload: payload.clone(),
            })
        }));
        requests.push(Request::Delete(Delete { segment }));
        for request in requests {
            match state.execute(container, request, 1_700_000_000_000) {
                Started::Done(Reply::Error(e)) => {
                    assert_eq!(
                        e.status,
                        spate_wire::StatusCode::StorageFull.code(),
                        "{e:?}"
                    );
                    refused += 1;
                }
                Started::Done(_) => {}
                Started::Durable(reply) => waiting.push(reply),
            }
        }
        // One pass per round: the queue is never empty when it ends.
        assert!(state.advance(), "the journal failed");
    }
    // Bounded: a journal that cannot release never becomes idle.
    for _ in 0..100_000 {
        if state.is_idle() {
            break;
        }
        assert!(state.advance(), "the journal failed");
    }
    assert!(state.is_idle(), "the journal never took everything queued");
    assert_eq!(refused, 0, "appends refused for a full journal");
    for reply in waiting {
        let reply = reply.try_recv().expect("acknowledged");
        assert!(!matches!(reply, Reply::Error(_)), "{reply:?}");
    }
}
