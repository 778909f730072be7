//! The property that recovery rests on: replaying the journaled records
//! rebuilds exactly the state the live path produced, both at the end and
//! at any crash point (the durable prefix).
//!
//! Random workloads (seeded, so a failure replays) over a few segments,
//! writers and attribute keys, with durability advancing at random, so
//! requests are often validated against pending mutations.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::super::state::State;
use super::*;

const NAMES: [&str; 5] = ["a", "b", "a#t1", "b#t2", "c"];
const WORKLOADS: u64 = 400;
const STEPS: usize = 300;

struct Run {
    c: Container,
    records: Vec<Vec<u8>>,
    coverage: Coverage,
    /// The durable view and seq at a random point: what a crash then keeps.
    crash: Option<(State, MutationSeq)>,
}

#[test]
fn replay_rebuilds_the_live_state_at_the_end_and_at_a_crash_point() {
    let mut total = Coverage::default();
    for seed in 0..WORKLOADS {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut run = Run {
            c: Container::new(3, small_limits()),
            records: Vec::new(),
            coverage: Coverage::default(),
            crash: None,
        };
        let crash_at = rng.random_range(0..STEPS);
        for step in 0..STEPS {
            let request = random_request(&mut rng, &run.c);
            execute(&mut run, request);
            if rng.random_bool(0.3) {
                advance_durability(&mut rng, &mut run.c);
            }
            if step == crash_at {
                run.crash = Some((run.c.durable.clone(), run.c.durable_seq));
            }
        }
        let last = run.c.last_seq;
        run.c.mark_durable(last);
        check_end(seed, &mut run);
        check_crash_point(seed, &run);
        total.add(&run.coverage);
    }
    total.assert_meaningful();
}

/// How often the workloads reached each path, so that a change to the
/// generator cannot quietly make the property trivial.
#[derive(Default, Debug)]
struct Coverage {
    /// Journaled mutations by record kind byte (1..=7).
    kinds: [usize; 8],
    /// Answers that had to wait for a pending mutation.
    deferred: usize,
    /// Refusals and other immediate answers to mutations.
    immediate: usize,
}

impl Coverage {
    fn add(&mut self, other: &Coverage) {
        for (mine, theirs) in self.kinds.iter_mut().zip(other.kinds) {
            *mine += theirs;
        }
        self.deferred += other.deferred;
        self.immediate += other.immediate;
    }

    fn assert_meaningful(&self) {
        for kind in 1..=7 {
            assert!(self.kinds[kind] >= 20, "kind {kind} too rare: {self:?}");
        }
        assert!(self.deferred >= 100 && self.immediate >= 100, "{self:?}");
    }
}

pub(super) fn small_limits() -> ContainerLimits {
    ContainerLimits {
        data_budget_bytes: 2048,
        max_segments: 4,
        max_attributes_per_segment: 3,
        max_writers_per_segment: 3,
        max_record_bytes: MIN_MAX_RECORD_BYTES,
    }
}

fn execute(run: &mut Run, request: Request) {
    match run.c.execute(request, NOW + seq_time(run)) {
        Execution::Journal { record, seq, .. } => {
            assert_eq!(seq as usize, run.records.len() + 1, "seqs are consecutive");
            run.coverage.kinds[usize::from(record[13]).min(7)] += 1;
            run.records.push(record);
        }
        Execution::ReplyWhenDurable { seq, .. } => {
            assert!(run.c.durable_seq < seq && seq <= run.c.last_seq);
            run.coverage.deferred += 1;
        }
        Execution::Reply(_) => run.coverage.immediate += 1,
    }
}

/// A distinct creation time per mutation, so replay must carry it.
fn seq_time(run: &Run) -> u64 {
    run.records.len() as u64 * 1000
}

pub(super) fn advance_durability(rng: &mut SmallRng, c: &mut Container) {
    let (durable, last) = (c.durable_seq, c.last_seq);
    if durable < last {
        c.mark_durable(rng.random_range(durable + 1..=last));
    }
}

fn replay(records: &[Vec<u8>]) -> Container {
    let mut c = Container::new(3, small_limits());
    for (i, record) in records.iter().enumerate() {
        c.replay(record, None)
            .unwrap_or_else(|e| panic!("record {}: {e}", i + 1));
    }
    c
}

fn check_end(seed: u64, run: &mut Run) {
    let mut replayed = replay(&run.records);
    assert!(
        replayed.durable == run.c.durable,
        "seed {seed}: durable views differ"
    );
    assert!(
        replayed.live == run.c.live,
        "seed {seed}: live views differ"
    );
    assert_eq!(replayed.stats(), run.c.stats(), "seed {seed}");
    assert_eq!(observe(&mut replayed), observe(&mut run.c), "seed {seed}");
}

fn check_crash_point(seed: u64, run: &Run) {
    let Some((state, seq)) = &run.crash else {
        return;
    };
    let replayed = replay(&run.records[..*seq as usize]);
    assert!(
        replayed.durable == *state,
        "seed {seed}: crash at seq {seq} differs"
    );
}

/// Everything a client can see: info, data, attributes, writer states.
fn observe(c: &mut Container) -> Vec<Reply> {
    let mut seen = Vec::new();
    for name in NAMES {
        seen.push(run(c, get_info(name)));
        if let Some(data) = read_all(c, name) {
            seen.push(Reply::from(spate_wire::ReadData {
                offset: 0,
                data,
                end_of_segment: false,
                length: 0,
            }));
        }
        for key in 0..4 {
            seen.push(run(c, get_attribute(name, key)));
            seen.push(run(c, writer_state(name, key)));
        }
    }
    seen
}

pub(super) fn random_request(rng: &mut SmallRng, c: &Container) -> Request {
    let name = NAMES[rng.random_range(0..NAMES.len())];
    let writer = rng.random_range(0..4u128);
    match rng.random_range(0..100) {
        0..10 => create(name).into(),
        10..40 => append(
            name,
            writer,
            event_number(rng, c, name, writer),
            &payload(rng),
        )
        .into(),
        40..50 => {
            let first = event_number(rng, c, name, writer);
            let events: Vec<(i64, Vec<u8>)> = (0..rng.random_range(1..5))
                .map(|i| (first + i * 2, payload(rng)))
                .collect();
            let events: Vec<(i64, &[u8])> =
                events.iter().map(|(n, p)| (*n, p.as_slice())).collect();
            batch(name, writer, &events).into()
        }
        50..60 => {
            let length = live_length(c, name);
            let expected = if rng.random_bool(0.7) {
                length
            } else {
                rng.random_range(0..=length + 1)
            };
            let number = event_number(rng, c, name, writer);
            conditional(name, writer, number, expected, &payload(rng)).into()
        }
        60..66 => seal(name).into(),
        66..74 => truncate(name, rng.random_range(0..=live_length(c, name) + 1)).into(),
        74..80 => merge(name, NAMES[rng.random_range(0..NAMES.len())]).into(),
        80..85 => delete(name).into(),
        _ => {
            let key = rng.random_range(0..4);
            let condition = match rng.random_range(0..3) {
                0 => AttributeCondition::Always,
                1 => AttributeCondition::IfAbsent,
                _ => AttributeCondition::IfEquals(rng.random_range(0..3)),
            };
            set_attribute(name, key, rng.random_range(0..3), condition).into()
        }
    }
}

fn live_length(c: &Container, name: &str) -> u64 {
    c.live.get(name).map_or(0, |s| s.data.length())
}

/// Mostly the writer's next number (sometimes skipping), sometimes a
/// duplicate.
fn event_number(rng: &mut SmallRng, c: &Container, name: &str, writer: u128) -> i64 {
    let last = c
        .live
        .get(name)
        .and_then(|s| s.writers.get(&writer).copied());
    match last {
        Some(last) if rng.random_bool(0.2) => rng.random_range(0..=last),
        Some(last) => last + rng.random_range(1..3),
        None => rng.random_range(0..3),
    }
}

fn payload(rng: &mut SmallRng) -> Vec<u8> {
    (0..rng.random_range(0..48)).map(|_| rng.random()).collect()
}

#[test]
fn numbering_continues_after_replay() {
    let mut first = container();
    let mut records = Vec::new();
    for request in [create("s").into(), append("s", 1, 0, b"ab").into()] {
        if let Execution::Journal { record, seq, .. } = first.execute(request, NOW) {
            first.mark_durable(seq);
            records.push(record);
        }
    }
    let mut second = container();
    for record in &records {
        second
            .replay(record, None)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let stats = second.stats();
    assert_eq!(
        (stats.durable_seq, stats.last_seq, stats.data_bytes),
        (2, 2, 2)
    );
    let Execution::Journal { record, seq, .. } =
        second.execute(append("s", 1, 1, b"c").into(), NOW)
    else {
        panic!("expected a journaled append")
    };
    assert_eq!(seq, 3);
    records.push(record);
    second.mark_durable(seq);
    let mut third = container();
    for record in &records {
        third.replay(record, None).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(read_all(&mut third, "s").as_deref(), Some(&b"abc"[..]));
    assert!(third.durable == second.durable);
}
