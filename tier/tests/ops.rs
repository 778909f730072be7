//! Truncation, deletion, orphan collection, the append rules, and the real
//! file system backend.

mod common;

use common::{bytes, config, reopen, shards, sim_tier};
use spate_tier::format::names::{segment_key, shard_file};
use spate_tier::fs::TierFs;
use spate_tier::fs::real::RealDir;
use spate_tier::{CommitError, ReadError, Scope, Tier};

#[test]
fn truncate_drops_whole_stripes_below_the_offset() {
    let (sim, mut tier) = sim_tier(6, config(4, 2, 256), 1);
    let data = bytes(4000, 1);
    tier.append("s", 0, &data).expect("append");
    let report = tier.truncate("s", 2500).expect("truncate");
    // Stripes of 1024: 0..1024 and 1024..2048 go, 2048..3072 holds 2500.
    assert_eq!((report.stripes_dropped, report.files_removed), (2, 12));
    assert_eq!((0..6).map(|d| shards(&sim, d).len()).sum::<usize>(), 2 * 6);
    assert!(matches!(
        tier.read("s", 2499, 1),
        Err(ReadError::Truncated { start: 2500, .. })
    ));
    assert_eq!(
        tier.read("s", 2500, 1500).expect("reads").data,
        data[2500..]
    );
    // Truncating lower again does nothing; past the end empties.
    assert_eq!(tier.truncate("s", 100).expect("no-op").stripes_dropped, 0);
    tier.truncate("s", 9000).expect("truncate all");
    let manifest = tier.manifest("s").expect("loads").expect("still there");
    assert_eq!(
        (manifest.start, manifest.end, manifest.stripes.len()),
        (9000, 9000, 0)
    );
    // Appends go on from there, and the stripe numbers never repeat.
    let report = tier.append("s", 9000, &bytes(10, 2)).expect("append");
    assert_eq!(report.stripes, vec![4]);
    assert!(matches!(
        tier.truncate("nope", 1),
        Err(CommitError::NotFound { .. })
    ));
}

#[test]
fn delete_leaves_a_tombstone_and_a_name_can_come_back() {
    let (sim, mut tier) = sim_tier(6, config(4, 2, 256), 2);
    tier.append("s", 0, &bytes(3000, 1)).expect("append");
    tier.append("t", 0, &bytes(10, 2)).expect("append");
    let report = tier.delete("s").expect("delete");
    assert_eq!((report.stripes_dropped, report.files_removed), (3, 18));
    assert!(matches!(
        tier.read("s", 0, 1),
        Err(ReadError::NotFound { .. })
    ));
    assert_eq!(tier.segments().0, vec!["t".to_owned()]);
    assert_eq!(tier.delete("s").expect("again").stripes_dropped, 0);
    let tier = reopen(&sim, config(4, 2, 256));
    assert!(tier.manifest("s").expect("loads").is_none());
    let mut tier = tier;
    let report = tier.append("s", 50, &bytes(100, 3)).expect("a new life");
    assert_eq!(
        report.stripes,
        vec![3],
        "stripe numbers continue past the old life"
    );
    assert_eq!(tier.read("s", 50, 100).expect("reads").data, bytes(100, 3));
}

#[test]
fn orphans_are_collected_and_nothing_else() {
    let (sim, mut tier) = sim_tier(6, config(4, 2, 256), 3);
    tier.append("s", 0, &bytes(2000, 1)).expect("append");
    let key = segment_key("s");
    let d0 = sim.dir(0);
    // A shard of a stripe never committed, a temporary file, a shard of a
    // segment with no manifest, and a file that is not the tier's.
    for name in [
        shard_file(&key, 9, 0),
        format!("{}.tmp", shard_file(&key, 2, 1)),
        shard_file(&segment_key("ghost"), 0, 0),
        "README".to_owned(),
    ] {
        d0.create(&name).expect("create");
        d0.write(&name, 0, b"junk").expect("write");
    }
    // A committed shard under the wrong directory's name is an orphan too.
    let manifest = tier.manifest("s").expect("loads").expect("exists");
    let entry = &manifest.stripes[0];
    let elsewhere = (0..6u8).find(|d| !entry.dirs.contains(d)).map(usize::from);
    assert!(elsewhere.is_none(), "6 directories, 6 shards: all used");
    let before: usize = (0..6).map(|d| shards(&sim, d).len()).sum();
    let report = tier.collect_orphans();
    assert_eq!(report.removed, 3, "{report:?}");
    assert_eq!(report.unknown, vec![(0, "README".to_owned())]);
    assert_eq!(
        (0..6).map(|d| shards(&sim, d).len()).sum::<usize>(),
        before - 2
    );
    assert_eq!(
        tier.read("s", 0, 2000).expect("intact").data,
        bytes(2000, 1)
    );
    // A directory that cannot be listed makes "no manifest anywhere"
    // unknowable: such shards stay.
    d0.create(&shard_file(&segment_key("ghost"), 0, 0))
        .expect("create");
    sim.set_offline(5, true);
    let report = tier.collect_orphans();
    assert_eq!((report.removed, report.kept_unsure), (0, 1), "{report:?}");
    assert_eq!(report.unlisted_dirs, vec![5]);
}

#[test]
fn appends_must_be_contiguous_and_named() {
    let (_sim, mut tier) = sim_tier(6, config(4, 2, 256), 4);
    tier.append("s", 10, &bytes(100, 1))
        .expect("a new segment starts anywhere");
    assert!(matches!(
        tier.append("s", 111, b"x"),
        Err(CommitError::NotContiguous { end: 110, .. })
    ));
    assert!(matches!(
        tier.append("s", 110, b""),
        Err(CommitError::Empty)
    ));
    assert!(matches!(
        tier.append("", 0, b"x"),
        Err(CommitError::InvalidName { .. })
    ));
    let long = "x".repeat(256);
    assert!(matches!(
        tier.append(&long, 0, b"x"),
        Err(CommitError::InvalidName { .. })
    ));
    let name = "scope/stream/with#odd.chars-and_more".repeat(7);
    tier.append(&name, 0, b"ok")
        .expect("255 bytes of any name is fine");
    assert_eq!(tier.read(&name, 0, 2).expect("reads").data, b"ok");
}

#[test]
fn geometry_changes_apply_to_new_stripes_only() {
    let (sim, mut tier) = sim_tier(8, config(4, 2, 256), 5);
    tier.append("s", 0, &bytes(3000, 1)).expect("append");
    let mut tier = Tier::open(sim.dirs(), config(5, 3, 512)).expect("opens");
    tier.append("s", 3000, &bytes(6000, 2)).expect("append");
    let manifest = tier.manifest("s").expect("loads").expect("exists");
    assert_eq!(manifest.stripes[0].geometry.k, 4);
    assert_eq!(manifest.stripes.last().expect("stripes").geometry.k, 5);
    let mut all = bytes(3000, 1);
    all.extend(bytes(6000, 2));
    assert_eq!(tier.read("s", 0, 9000).expect("reads").data, all);
    assert_eq!(
        tier.scrub(Scope::All, None, &mut |_| {})
            .expect("scrubs")
            .damage_count,
        0
    );
}

/// Fresh directories under the system's temporary directory.
struct TempDirs(Vec<std::path::PathBuf>);

impl TempDirs {
    fn new(tag: &str, count: usize) -> Self {
        let base = std::env::temp_dir().join(format!("spate-tier-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dirs: Vec<_> = (0..count).map(|i| base.join(format!("d{i}"))).collect();
        for dir in &dirs {
            std::fs::create_dir_all(dir).expect("temp dir");
        }
        Self(dirs)
    }

    fn open(&self) -> Vec<RealDir> {
        self.0
            .iter()
            .map(|p| RealDir::new(p).expect("exists"))
            .collect()
    }
}

impl Drop for TempDirs {
    fn drop(&mut self) {
        if let Some(base) = self.0.first().and_then(|p| p.parent()) {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

#[test]
fn real_directories_round_trip_rot_and_repair() {
    let temp = TempDirs::new("real", 6);
    let config = spate_tier::TierConfig {
        cell_size: 4096,
        ..config(4, 2, 4096)
    };
    let data = bytes(100_000, 9);
    let mut tier = Tier::open(temp.open(), config).expect("opens");
    tier.append("scope/stream/0", 0, &data).expect("append");
    drop(tier);

    // Rot on the real disk: flip a byte of one shard, delete another.
    let key = segment_key("scope/stream/0");
    let flipped = temp.0[1].join(shard_file(&key, 2, 0));
    let dir1: Vec<_> = std::fs::read_dir(&temp.0[1])
        .expect("lists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "shard"))
        .collect();
    let victim = if dir1.contains(&flipped) {
        flipped
    } else {
        dir1[0].clone()
    };
    let mut bytes_on_disk = std::fs::read(&victim).expect("reads");
    bytes_on_disk[4096 + 7] ^= 0xff;
    std::fs::write(&victim, bytes_on_disk).expect("writes");
    for entry in std::fs::read_dir(&temp.0[4]).expect("lists") {
        std::fs::remove_file(entry.expect("entry").path()).expect("removes");
    }

    let mut tier = Tier::open(temp.open(), config).expect("opens");
    let out = tier
        .read("scope/stream/0", 0, data.len())
        .expect("degraded read");
    assert_eq!(out.data, data);
    assert!(!out.damage.is_empty());
    for dir in [1, 4] {
        tier.repair(dir, None, &mut |_| {}).expect("repairs");
    }
    // A rate limit only paces; a generous one changes nothing.
    let scrub = tier
        .scrub(Scope::All, Some(1 << 40), &mut |_| {})
        .expect("scrubs");
    assert_eq!(scrub.damage_count, 0, "{:?}", scrub.damage);
    tier.truncate("scope/stream/0", 50_000).expect("truncate");
    tier.delete("scope/stream/0").expect("delete");
    assert_eq!(tier.collect_orphans().removed, 0);
    let left: usize = temp
        .0
        .iter()
        .map(|d| std::fs::read_dir(d).expect("lists").count())
        .sum();
    assert_eq!(left, 6, "only the tombstone manifests remain");
}
