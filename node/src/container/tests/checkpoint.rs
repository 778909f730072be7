//! Metadata checkpoints: a container restored from a snapshot taken at any
//! point, then fed the records that follow, ends in the same state as the
//! container that lived through it, data included (read back from the
//! journal stand-in). Damaged checkpoint bytes are typed errors.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_journal::RecordLocation;

use super::super::{Piece, Snapshot, decode_checkpoint, encode_checkpoint};
use super::replay::{advance_durability, random_request, small_limits};
use super::*;

const WORKLOADS: u64 = 300;
const STEPS: usize = 200;

/// What a client can observe of a segment: info, attributes, writers, data.
type Observed = BTreeMap<
    String,
    (
        u64,
        u64,
        bool,
        u64,
        Vec<(u128, i64)>,
        Vec<(u128, i64)>,
        Vec<u8>,
    ),
>;

struct Journal {
    /// Records by LSN (= mutation seq here).
    records: HashMap<u64, Vec<u8>>,
}

fn location(lsn: u64) -> RecordLocation {
    RecordLocation {
        lsn,
        file_seq: 1 + lsn / 100,
        offset: 4096 * (lsn % 100 + 1),
    }
}

impl Journal {
    fn load(&self, pieces: &[Piece]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Memory(bytes) => out.extend_from_slice(bytes),
                Piece::Hot { .. } => unreachable!("nothing is flushed here"),
                Piece::Journal { at, start, len } => {
                    let record = &self.records[&at.location.lsn];
                    assert_eq!(at.location, location(at.location.lsn));
                    out.extend_from_slice(&record[*start as usize..(*start + *len) as usize]);
                }
            }
        }
        out
    }

    fn observe(&self, c: &Container) -> Observed {
        let snapshot = c.snapshot().expect("every chunk has a location");
        let mut seen = BTreeMap::new();
        for s in &snapshot.segments {
            let data = match c.read(&s.name, s.start_offset, u32::MAX) {
                ReadOutcome::Reply(Reply::ReadData(d)) => d.data,
                ReadOutcome::Load(plan) => self.load(&plan.pieces),
                ReadOutcome::AtTail => Vec::new(),
                ReadOutcome::Reply(other) => panic!("read {}: {other:?}", s.name),
            };
            seen.insert(
                s.name.clone(),
                (
                    s.start_offset,
                    s.length,
                    s.sealed,
                    s.created_ms,
                    s.attributes.clone(),
                    s.writers.clone(),
                    data,
                ),
            );
        }
        seen
    }
}

#[test]
fn a_container_restored_from_any_checkpoint_and_replayed_matches_the_live_one() {
    let mut checkpoints_with_pending = 0;
    for seed in 0..WORKLOADS {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut c = Container::new(3, small_limits());
        let mut journal = Journal {
            records: HashMap::new(),
        };
        let checkpoint_at = rng.random_range(0..STEPS);
        let mut checkpoint: Option<(Vec<u8>, u64)> = None;
        for step in 0..STEPS {
            let request = random_request(&mut rng, &c);
            if let Execution::Journal { record, seq, .. } = c.execute(request, NOW + step as u64) {
                c.journaled(seq, location(seq), record.len() as u32);
                journal.records.insert(seq, record);
            }
            if rng.random_bool(0.3) {
                advance_durability(&mut rng, &mut c);
            }
            if step == checkpoint_at {
                // Through any mutation from the durable ones on: a busy
                // journal may not have taken the later ones yet.
                let through = rng.random_range(c.durable_seq..=c.last_seq);
                let snapshot = c
                    .snapshot_through(through)
                    .expect("every append was journaled");
                if c.durable_seq < through {
                    checkpoints_with_pending += 1;
                }
                checkpoint = Some((encode_checkpoint(&[snapshot]), through));
            }
        }
        let last = c.last_seq;
        c.mark_durable(last);
        let (bytes, covered) = checkpoint.expect("taken");
        let decoded = decode_checkpoint(&bytes).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let mut restored = Container::restore(3, small_limits(), &decoded[0])
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for seq in covered + 1..=last {
            restored
                .replay(&journal.records[&seq], Some(location(seq)))
                .unwrap_or_else(|e| panic!("seed {seed}, seq {seq}: {e}"));
        }
        assert_eq!(
            journal.observe(&restored),
            journal.observe(&c),
            "seed {seed}: restored from seq {covered}"
        );
        assert_eq!(restored.stats().last_seq, last, "seed {seed}");
    }
    assert!(
        checkpoints_with_pending > WORKLOADS / 10,
        "checkpoints taken with mutations pending: {checkpoints_with_pending}"
    );
}

#[test]
fn a_snapshot_needs_every_chunk_located() {
    let mut c = container();
    run(&mut c, create("s"));
    assert!(c.snapshot().is_some(), "no data: nothing to locate");
    run(&mut c, append("s", 1, 0, b"unlocated"));
    assert_eq!(c.snapshot(), None);
}

fn sample() -> Vec<u8> {
    let mut c = container();
    let mut lsn = 0;
    for request in [
        Request::from(create("a/b")),
        append("a/b", 9, 0, b"hello").into(),
        set_attribute("a/b", 5, 77, AttributeCondition::Always).into(),
        create("c").into(),
        seal("c").into(),
    ] {
        if let Execution::Journal { record, seq, .. } = c.execute(request, NOW) {
            lsn += 1;
            c.journaled(seq, location(lsn), record.len() as u32);
            c.mark_durable(seq);
        }
    }
    encode_checkpoint(&[c.snapshot().expect("located")])
}

#[test]
fn damaged_checkpoints_are_errors_never_panics() {
    let good = sample();
    let decoded = decode_checkpoint(&good).expect("round trip");
    assert_eq!(encode_checkpoint(&decoded), good);
    let mut rng = SmallRng::seed_from_u64(7);
    for _ in 0..20_000 {
        let mut bad = good.clone();
        match rng.random_range(0..3) {
            0 => {
                let i = rng.random_range(0..bad.len());
                bad[i] ^= 1 << rng.random_range(0..8);
            }
            1 => bad.truncate(rng.random_range(0..bad.len())),
            _ => bad.push(rng.random()),
        }
        if let Ok(snapshots) = decode_checkpoint(&bad) {
            for snapshot in &snapshots {
                let _ = Container::restore(snapshot.container, limits(), snapshot);
            }
        }
    }
    let random: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
    assert!(decode_checkpoint(&random).is_err());
}

#[test]
fn restore_refuses_chunks_that_do_not_tile_the_segment() {
    let decoded: Vec<Snapshot> = decode_checkpoint(&sample()).expect("decodes");
    let mut gap = decoded[0].clone();
    let segment = gap
        .segments
        .iter_mut()
        .find(|s| !s.chunks.is_empty())
        .expect("a segment with data");
    segment.length += 1;
    let error = Container::restore(7, limits(), &gap)
        .map(|_| ())
        .expect_err("refused");
    assert!(error.to_string().contains("length"), "{error}");
    assert!(
        Container::restore(8, limits(), &decoded[0]).is_err(),
        "wrong container"
    );
}

/// The controller's metadata segments never name journal records: their
/// data stays in memory, goes into each checkpoint whole, and so never
/// holds the journal's release back.
#[test]
fn segments_kept_in_memory_are_checkpointed_inline_and_never_evicted() {
    let mut c = container();
    let mut lsn = 0;
    let log = "_system/streams/shop/orders";
    let mut journal = |c: &mut Container, request: Request| {
        if let Execution::Journal { record, seq, .. } = c.execute(request, NOW) {
            lsn += 1;
            c.journaled(seq, location(lsn), record.len() as u32);
            c.mark_durable(seq);
        }
    };
    journal(&mut c, create(log).into());
    journal(&mut c, append(log, 1, 0, b"event one").into());
    journal(&mut c, create("shop/orders/0").into());
    journal(&mut c, append("shop/orders/0", 1, 0, b"data").into());
    journal(&mut c, append(log, 1, 1, b"event two").into());
    let snapshot = c.snapshot().expect("every chunk located or kept");
    // Only the data segment's record holds the journal back.
    assert_eq!(snapshot.oldest_lsn(), Some(4));
    let bytes = encode_checkpoint(std::slice::from_ref(&snapshot));
    assert_eq!(bytes[0], 3, "format version 3");
    let decoded = decode_checkpoint(&bytes).expect("decodes");
    assert_eq!(decoded, vec![snapshot]);
    let restored = Container::restore(7, limits(), &decoded[0]).expect("restores");
    // The log reads back from memory, with no journal at hand.
    let ReadOutcome::Reply(Reply::ReadData(data)) = restored.read(log, 0, 1024) else {
        panic!("the kept segment is resident");
    };
    assert_eq!(data.data, b"event oneevent two");
}

/// Checkpoints written before inline chunks existed (version 1) still
/// restore.
#[test]
fn version_1_checkpoints_still_decode() {
    let mut v1 = vec![1u8];
    v1.extend_from_slice(&1u32.to_le_bytes()); // one container
    v1.extend_from_slice(&7u32.to_le_bytes());
    v1.extend_from_slice(&2u64.to_le_bytes()); // last seq
    v1.extend_from_slice(&1u32.to_le_bytes()); // one segment
    v1.push(1);
    v1.push(b's');
    v1.push(0); // not sealed
    for value in [1u64, 0, 5, 2] {
        v1.extend_from_slice(&value.to_le_bytes()); // created, start, length, last seq
    }
    v1.extend_from_slice(&0u32.to_le_bytes()); // attributes
    v1.extend_from_slice(&0u32.to_le_bytes()); // writers
    v1.extend_from_slice(&1u32.to_le_bytes()); // one chunk
    for value in [0u64, 5, 2, 1, 8192] {
        v1.extend_from_slice(&value.to_le_bytes()); // offset, len, lsn, file seq, offset
    }
    v1.extend_from_slice(&40u32.to_le_bytes()); // payload length
    let decoded = decode_checkpoint(&v1).expect("version 1 decodes");
    assert_eq!(decoded[0].oldest_lsn(), Some(2));
    Container::restore(7, limits(), &decoded[0]).expect("restores");
}

/// A flushed chunk is named by its hot chunk file extent (kind 3), pinned
/// here byte for byte, and holds no journal record back.
#[test]
fn a_hot_chunk_is_checkpointed_by_its_file_extent() {
    use super::super::HotData;
    use super::super::snapshot::{ChunkRef, ChunkSource, SegmentSnapshot};
    let hot = HotData {
        file: 0x0102,
        file_offset: 8192,
        len: 5,
        crc: 0xAABB_CCDD,
    };
    let snapshot = Snapshot {
        container: 7,
        last_seq: 2,
        segments: vec![SegmentSnapshot {
            name: "s".into(),
            sealed: false,
            created_ms: 1,
            start_offset: 0,
            length: 5,
            last_seq: 2,
            attributes: vec![],
            writers: vec![],
            chunks: vec![ChunkRef {
                offset: 0,
                len: 5,
                source: ChunkSource::Hot(hot),
            }],
        }],
    };
    assert_eq!(
        snapshot.oldest_lsn(),
        None,
        "a hot chunk holds no record back"
    );
    let bytes = encode_checkpoint(std::slice::from_ref(&snapshot));
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&0u64.to_le_bytes());
    chunk.extend_from_slice(&5u64.to_le_bytes());
    chunk.push(3);
    chunk.extend_from_slice(&0x0102u64.to_le_bytes());
    chunk.extend_from_slice(&8192u64.to_le_bytes());
    chunk.extend_from_slice(&5u32.to_le_bytes());
    chunk.extend_from_slice(&0xAABB_CCDDu32.to_le_bytes());
    assert!(bytes.ends_with(&chunk), "kind 3: file, offset, len, crc");
    assert_eq!(
        decode_checkpoint(&bytes).expect("decodes"),
        vec![snapshot.clone()]
    );
    let restored = Container::restore(7, limits(), &snapshot).expect("restores");
    let ReadOutcome::Load(plan) = restored.read("s", 1, 3) else {
        panic!("a restored hot chunk is read back from its file");
    };
    assert_eq!(
        plan.pieces,
        vec![Piece::Hot {
            at: hot,
            start: 1,
            len: 3
        }]
    );
    // A version 2 checkpoint may not use kind 3.
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert!(decode_checkpoint(&v2).is_err());
}

/// Only segments kept in memory may carry their bytes inline: the node
/// writes no other, and could not checkpoint a restored one again (found by
/// the `node_checkpoint` fuzz target).
#[test]
fn restore_refuses_inline_chunks_outside_the_segments_kept_in_memory() {
    use super::super::snapshot::{ChunkRef, ChunkSource, SegmentSnapshot};
    let segment = |name: &str| SegmentSnapshot {
        name: name.into(),
        sealed: false,
        created_ms: 1,
        start_offset: 0,
        length: 3,
        last_seq: 1,
        attributes: vec![],
        writers: vec![],
        chunks: vec![ChunkRef {
            offset: 0,
            len: 3,
            source: ChunkSource::Inline(bytes::Bytes::from_static(b"abc")),
        }],
    };
    let snapshot = |name: &str| Snapshot {
        container: 7,
        last_seq: 1,
        segments: vec![segment(name)],
    };
    assert!(Container::restore(7, limits(), &snapshot("s/a/0")).is_err());
    let kept = Container::restore(7, limits(), &snapshot("_system/streams/s/a")).expect("kept");
    assert!(kept.snapshot().is_some(), "and checkpoints again");
}
