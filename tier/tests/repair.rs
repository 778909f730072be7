//! Repair rebuilds what a directory should hold, bit-exact; scrub and status
//! report the damage before and nothing after.

mod common;

use common::{bytes, config, image, reopen, sim_tier};
use spate_tier::fs::sim::SimFs;
use spate_tier::{DamageKind, Place, Scope};

const DIRS: usize = 6;

/// Three segments, full and partial stripes, one truncated, one deleted.
fn populated() -> SimFs {
    let (sim, mut tier) = sim_tier(DIRS, config(4, 2, 256), 31);
    tier.append("a/0", 0, &bytes(5000, 1)).expect("append");
    tier.append("a/0", 5000, &bytes(777, 2)).expect("append");
    tier.append("b/1", 100, &bytes(3000, 3)).expect("append");
    tier.truncate("b/1", 1200).expect("truncate");
    tier.append("c/2", 0, &bytes(2048, 4)).expect("append");
    tier.delete("c/2").expect("delete");
    sim
}

#[test]
fn repair_restores_a_wiped_directory_bit_exact() {
    for dir in 0..DIRS {
        let sim = populated();
        let before = image(&sim, DIRS);
        sim.wipe(dir);
        let mut tier = reopen(&sim, config(4, 2, 256));
        // Reads go on around the loss, and say where it is.
        let out = tier.read("a/0", 0, 5777).expect("degraded read");
        assert_eq!(out.data[..5000], bytes(5000, 1)[..]);
        assert!(out.damage.iter().all(|d| d.dir == dir));
        let scrub = tier.scrub(Scope::All, None, &mut |_| {}).expect("scrubs");
        assert!(scrub.damage_count > 0 && scrub.damage.iter().all(|d| d.dir == dir));
        assert!(scrub.unrecoverable.is_empty());

        let mut events = 0;
        let report = tier
            .repair(dir, None, &mut |_| events += 1)
            .expect("repairs");
        assert!(
            report.shards_rebuilt > 0 && report.manifests_written == 3,
            "{report:?}"
        );
        assert!(report.unrecoverable.is_empty() && report.lost_manifests.is_empty());
        assert_eq!(events, report.shards_checked);
        assert_eq!(
            image(&sim, DIRS),
            before,
            "directory {dir} rebuilt bit-exact"
        );

        let tier = reopen(&sim, config(4, 2, 256));
        let clean = tier.scrub(Scope::All, None, &mut |_| {}).expect("scrubs");
        assert_eq!(clean.damage_count, 0, "{:?}", clean.damage);
    }
}

#[test]
fn repair_fixes_rot_and_stale_copies_and_leaves_the_rest() {
    let sim = populated();
    let before = image(&sim, DIRS);
    let dir = 2;
    let files = sim.files(dir);
    let shard = files
        .iter()
        .find(|f| f.ends_with(".shard"))
        .expect("a shard");
    let manifest = files
        .iter()
        .find(|f| f.ends_with(".manifest"))
        .expect("a manifest");
    assert!(sim.flip(dir, shard, 4096 + 10, 0x04));
    assert!(sim.truncate(dir, manifest, 10));
    let mut tier = reopen(&sim, config(4, 2, 256));
    let scrub = tier.scrub(Scope::All, None, &mut |_| {}).expect("scrubs");
    let kinds: Vec<_> = scrub
        .damage
        .iter()
        .map(|d| (d.dir, d.place, d.kind.clone()))
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(
        kinds
            .iter()
            .any(|(_, p, k)| *p == Place::Manifest && matches!(k, DamageKind::BadHeader(_)))
    );
    assert!(
        kinds
            .iter()
            .any(|(_, p, k)| matches!(p, Place::Shard { .. }) && *k == DamageKind::Checksum)
    );
    let status = tier.status();
    assert!(status.dirs[dir].damage_found >= 2);
    assert_eq!(
        status.dirs.iter().map(|d| d.damage_found).sum::<u64>(),
        status.dirs[dir].damage_found
    );

    let report = tier.repair(dir, None, &mut |_| {}).expect("repairs");
    assert_eq!(
        (report.shards_rebuilt, report.manifests_written),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(image(&sim, DIRS), before);
}

#[test]
fn repair_reports_what_cannot_be_rebuilt() {
    let sim = populated();
    // Wipe three directories of a 4+2 tier: every stripe lost three shards.
    for dir in [0, 1, 2] {
        sim.wipe(dir);
    }
    let mut tier = reopen(&sim, config(4, 2, 256));
    let report = tier.repair(0, None, &mut |_| {}).expect("repair runs");
    assert!(!report.unrecoverable.is_empty());
    assert_eq!(report.shards_rebuilt, 0);
    // What it could restore it did: the manifest copies.
    assert_eq!(report.manifests_written, 3);
}

#[test]
fn status_counts_what_each_directory_holds() {
    let sim = populated();
    let tier = reopen(&sim, config(4, 2, 256));
    let status = tier.status();
    assert_eq!(status.segments, 2);
    // a/0: 5000 → 5 stripes (4 full, 1 partial) + 777 → 1; b/1 after
    // truncating at 1200: stripes from offset 1124.
    assert_eq!(status.data_bytes, 5777 + (3100 - 1124));
    let shards: u64 = status.dirs.iter().map(|d| d.stripes).sum();
    assert_eq!(shards, status.stripes * 6);
    assert!(
        status
            .dirs
            .iter()
            .all(|d| d.reachable && d.stripes == status.stripes)
    );
    let files: usize = (0..DIRS).map(|d| common::shards(&sim, d).len()).sum();
    assert_eq!(files as u64, shards);
}
