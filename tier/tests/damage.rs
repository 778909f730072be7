//! Damaged shards: any ≤ m per stripe read back exactly, with the damage
//! reported; m + 1 fail with an explicit error and no bytes.

mod common;

use common::{bytes, config, sim_tier};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_tier::format::names::{segment_key, shard_file};
use spate_tier::fs::TierFs;
use spate_tier::fs::sim::{Fault, SimFs, SimOp};
use spate_tier::{DamageKind, Place, ReadError, Scope, Tier};

const SEGMENT: &str = "scope/stream/0.#epoch.0";
const DIRS: usize = 6;
/// Two full stripes and a partial one (4 × 256-byte cells per stripe).
const LEN: usize = 2 * 1024 + 300;

#[derive(Clone, Copy, Debug)]
enum Hurt {
    Delete,
    Truncate,
    FlipCell,
    FlipHeader,
    /// Another shard file's bytes under this shard's name (a misdirected
    /// write, or a stale file).
    Misplaced,
    Unreadable,
}

const HURTS: [Hurt; 6] = [
    Hurt::Delete,
    Hurt::Truncate,
    Hurt::FlipCell,
    Hurt::FlipHeader,
    Hurt::Misplaced,
    Hurt::Unreadable,
];

fn setup() -> (SimFs, Vec<u8>) {
    let (sim, mut tier) = sim_tier(DIRS, config(4, 2, 256), 3);
    let data = bytes(LEN, 11);
    tier.append(SEGMENT, 1000, &data).expect("append");
    (sim, data)
}

/// Directory and file name of shard `shard` of stripe `stripe`.
fn locate(sim: &SimFs, stripe: u64, shard: u8) -> (usize, String) {
    let tier = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
    let manifest = tier.manifest(SEGMENT).expect("loads").expect("exists");
    let entry = manifest
        .stripes
        .iter()
        .find(|e| e.stripe == stripe)
        .expect("stripe");
    (
        usize::from(entry.dirs[usize::from(shard)]),
        shard_file(&segment_key(SEGMENT), stripe, shard),
    )
}

fn hurt(sim: &SimFs, stripe: u64, shard: u8, how: Hurt) {
    let (dir, file) = locate(sim, stripe, shard);
    let len = sim.contents(dir, &file).expect("shard exists").len();
    match how {
        Hurt::Delete => assert!(sim.delete(dir, &file)),
        Hurt::Truncate => assert!(sim.truncate(dir, &file, len / 2)),
        Hurt::FlipCell => assert!(sim.flip(dir, &file, len - 1, 0x80)),
        Hurt::FlipHeader => assert!(sim.flip(dir, &file, 30, 0x01)),
        Hurt::Misplaced => {
            let other = sim
                .files(dir)
                .into_iter()
                .find(|f| f.ends_with(".shard") && *f != file)
                .expect("another shard in the directory");
            let bytes = sim.contents(dir, &other).expect("exists");
            let fs = sim.dir(dir);
            fs.create(&file).expect("create");
            fs.write(&file, 0, &bytes).expect("write");
            fs.sync(&file).expect("sync");
        }
        Hurt::Unreadable => sim.inject(
            dir,
            Fault::always(SimOp::Read, &file, std::io::ErrorKind::Other),
        ),
    }
}

fn expected_kind(how: Hurt, kind: &DamageKind) -> bool {
    match how {
        Hurt::Delete => *kind == DamageKind::Missing,
        Hurt::Truncate => matches!(kind, DamageKind::Short { .. }),
        Hurt::FlipCell => *kind == DamageKind::Checksum,
        Hurt::FlipHeader => matches!(kind, DamageKind::BadHeader(_)),
        Hurt::Misplaced => matches!(kind, DamageKind::WrongIdentity | DamageKind::Short { .. }),
        Hurt::Unreadable => matches!(kind, DamageKind::Unreadable(_)),
    }
}

/// Data cells of `stripe` that hold segment bytes (the partial last stripe
/// has cells of 128 bytes, and its fourth cell is all padding: no read needs
/// it).
fn data_cells(stripe: u64) -> u8 {
    if stripe < 2 { 4 } else { 3 }
}

/// Every subset of `0..n` with `size` members.
fn subsets(n: u8, size: usize) -> Vec<Vec<u8>> {
    (0u32..1 << n)
        .filter(|bits| bits.count_ones() as usize == size)
        .map(|bits| (0..n).filter(|i| bits & (1 << i) != 0).collect())
        .collect()
}

#[test]
fn up_to_m_damaged_shards_read_back_exactly() {
    let (base, data) = setup();
    let mut cases = 0;
    for size in 1..=2 {
        for subset in subsets(6, size) {
            for stripe in 0..3u64 {
                for rotate in 0..HURTS.len() {
                    let sim = base.fork();
                    let hurts: Vec<Hurt> = (0..subset.len())
                        .map(|j| HURTS[(j + rotate) % HURTS.len()])
                        .collect();
                    for (&shard, &how) in subset.iter().zip(&hurts) {
                        hurt(&sim, stripe, shard, how);
                    }
                    let tier = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
                    let out = tier
                        .read(SEGMENT, 1000, LEN)
                        .expect("≤ m damaged shards read");
                    assert_eq!(out.data, data, "subset {subset:?} of stripe {stripe}");
                    // A read meets the damage of the cells it needs; once it
                    // needs parity it checks every shard.
                    let touches_data = subset.iter().any(|&s| s < data_cells(stripe));
                    let reported: Vec<u8> = out
                        .damage
                        .iter()
                        .map(|d| match d.place {
                            Place::Shard { stripe: s, shard } => {
                                assert_eq!(s, stripe);
                                shard
                            }
                            other => panic!("unexpected damage place {other:?}"),
                        })
                        .collect();
                    if touches_data {
                        let mut sorted = reported.clone();
                        sorted.sort_unstable();
                        assert_eq!(sorted, subset, "damage reported");
                    } else {
                        assert!(reported.is_empty());
                    }
                    // Scrub finds all of it, of the right kind, in the
                    // directories that hold it.
                    let report = tier
                        .scrub(Scope::Segment(SEGMENT), None, &mut |_| {})
                        .expect("scrubs");
                    assert_eq!(report.damage.len(), subset.len(), "{report:?}");
                    for d in &report.damage {
                        let Place::Shard { shard, .. } = d.place else {
                            panic!()
                        };
                        let at = subset.iter().position(|&s| s == shard).expect("in subset");
                        assert!(expected_kind(hurts[at], &d.kind), "{hurts:?} {d}");
                        assert_eq!(d.dir, locate(&sim, stripe, shard).0);
                    }
                    assert!(report.unrecoverable.is_empty());
                    cases += 1;
                }
            }
        }
    }
    println!("{cases} damage cases read back exactly");
}

#[test]
fn more_than_m_damaged_shards_fail_explicitly() {
    let (base, data) = setup();
    for subset in subsets(6, 3) {
        for stripe in 0..3u64 {
            let sim = base.fork();
            for (j, &shard) in subset.iter().enumerate() {
                hurt(&sim, stripe, shard, HURTS[j % HURTS.len()]);
            }
            let tier = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
            if !subset.iter().any(|&s| s < data_cells(stripe)) {
                // Only padding and parity lost: every byte still verifies.
                let out = tier.read(SEGMENT, 1000, LEN).expect("needed cells intact");
                assert_eq!(out.data, data);
            } else {
                match tier.read(SEGMENT, 1000, LEN) {
                    Err(ReadError::Unrecoverable {
                        stripe: s, damage, ..
                    }) => {
                        assert_eq!(s, stripe);
                        assert_eq!(damage.len(), 3);
                    }
                    other => panic!("subset {subset:?} stripe {stripe}: {other:?}"),
                }
            }
            // The other stripes still read.
            for other in (0..3u64).filter(|&s| s != stripe) {
                let from = other as usize * 1024;
                let len = (LEN - from).min(1024);
                let out = tier
                    .read(SEGMENT, 1000 + from as u64, len)
                    .expect("other stripe");
                assert_eq!(out.data, data[from..from + len]);
            }
            let report = tier.scrub(Scope::All, None, &mut |_| {}).expect("scrubs");
            assert_eq!(report.unrecoverable, vec![(SEGMENT.to_owned(), stripe)]);
        }
    }
}

#[test]
fn random_ranges_under_random_damage() {
    let (base, data) = setup();
    let mut rng = SmallRng::seed_from_u64(5);
    for _ in 0..300 {
        let sim = base.fork();
        for stripe in 0..3u64 {
            let count = rng.random_range(0..=2);
            let mut shards: Vec<u8> = (0..6).collect();
            for _ in 0..count {
                let shard = shards.swap_remove(rng.random_range(0..shards.len()));
                hurt(&sim, stripe, shard, HURTS[rng.random_range(0..HURTS.len())]);
            }
        }
        let tier = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
        for _ in 0..10 {
            let from = rng.random_range(0..LEN);
            let len = rng.random_range(0..=LEN - from);
            let out = tier.read(SEGMENT, 1000 + from as u64, len).expect("reads");
            assert_eq!(out.data, data[from..from + len]);
        }
    }
}

#[test]
fn reads_survive_offline_directories() {
    let (sim, data) = setup();
    sim.set_offline(1, true);
    sim.set_offline(4, true);
    let tier = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
    let out = tier
        .read(SEGMENT, 1000, LEN)
        .expect("two directories down is within m");
    assert_eq!(out.data, data);
    assert!(out.damage.iter().all(|d| d.dir == 1 || d.dir == 4));
    sim.set_offline(2, true);
    let fresh = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
    assert!(matches!(
        fresh.read(SEGMENT, 1000, LEN),
        Err(ReadError::Unrecoverable { .. })
    ));
}

#[test]
fn reads_outside_the_data_are_refused() {
    let (sim, _) = setup();
    let tier = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
    assert!(matches!(
        tier.read(SEGMENT, 999, 1),
        Err(ReadError::Truncated { .. })
    ));
    assert!(matches!(
        tier.read(SEGMENT, 1000, LEN + 1),
        Err(ReadError::OutOfRange { .. })
    ));
    assert!(matches!(
        tier.read("nope", 0, 1),
        Err(ReadError::NotFound { .. })
    ));
    assert!(matches!(
        tier.read(SEGMENT, 1000, 2 << 20),
        Err(ReadError::TooLarge { .. })
    ));
    assert_eq!(
        tier.read(SEGMENT, 1000 + LEN as u64, 0)
            .expect("empty")
            .data,
        b""
    );
}

#[test]
fn concurrent_reads_under_damage_agree() {
    // Reads share the tier (manifest cache, codec) across threads, and each
    // read's shard fetches finish in whatever order the threads run.
    let (sim, data) = setup();
    hurt(&sim, 0, 1, Hurt::FlipCell);
    hurt(&sim, 1, 3, Hurt::Delete);
    hurt(&sim, 2, 0, Hurt::Truncate);
    let tier = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let (tier, data) = (&tier, &data);
            scope.spawn(move || {
                let mut rng = SmallRng::seed_from_u64(t);
                for _ in 0..200 {
                    let from = rng.random_range(0..LEN);
                    let len = rng.random_range(0..=LEN - from);
                    let out = tier.read(SEGMENT, 1000 + from as u64, len).expect("reads");
                    assert_eq!(out.data, data[from..from + len]);
                }
            });
        }
    });
    assert!(
        tier.status()
            .dirs
            .iter()
            .map(|d| d.damage_found)
            .sum::<u64>()
            > 0
    );
}
