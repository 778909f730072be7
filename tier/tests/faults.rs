//! Failing directories while committing: ENOSPC and EIO at every step fail
//! the change with a typed, retryable error and leave the previous state
//! intact, files and all; the change goes through once the cause is gone.

mod common;

use std::io::ErrorKind;

use common::{bytes, config, image, reopen, sim_tier};
use spate_tier::fs::sim::{Cut, Fault, SimFs, SimOp};
use spate_tier::{CommitError, Tier};

const DIRS: usize = 6;
const SEGMENT: &str = "scope/stream/7";
const OLD_LEN: usize = 1024 + 100;

fn base() -> (SimFs, Vec<u8>) {
    let (sim, mut tier) = sim_tier(DIRS, config(4, 2, 256), 21);
    let old = bytes(OLD_LEN, 1);
    tier.append(SEGMENT, 0, &old).expect("append");
    (sim, old)
}

fn new_bytes() -> Vec<u8> {
    bytes(2 * 1024 + 10, 2)
}

fn read_all(sim: &SimFs) -> Vec<u8> {
    let tier = reopen(sim, config(4, 2, 256));
    let manifest = tier.manifest(SEGMENT).expect("loads").expect("exists");
    let out = tier.read(SEGMENT, 0, manifest.end as usize).expect("reads");
    assert!(out.damage.is_empty());
    out.data
}

/// Fails the change as `fault` says, then checks the aftermath.
fn run(fault_dir: usize, fault: Fault) -> Result<(), CommitError> {
    let (sim, old) = base();
    let before = image(&sim, DIRS);
    sim.inject(fault_dir, fault.clone());
    let mut tier = reopen(&sim, config(4, 2, 256));
    let result = tier.append(SEGMENT, OLD_LEN as u64, &new_bytes());
    sim.clear_faults(fault_dir);
    let mut all = old.clone();
    all.extend(new_bytes());
    match &result {
        Ok(_) => assert_eq!(read_all(&sim), all),
        Err(error) => {
            assert!(error.is_retryable(), "{fault:?}: {error}");
            if fault.error == ErrorKind::StorageFull {
                assert!(matches!(error, CommitError::NoSpace(_)), "{error:?}");
            }
            // Nothing half-committed: every file as it was, no leftovers.
            assert_eq!(image(&sim, DIRS), before, "{fault:?}");
            assert_eq!(read_all(&sim), old);
            // The same tier retries once the cause is gone.
            tier.append(SEGMENT, OLD_LEN as u64, &new_bytes())
                .expect("retry goes through");
            assert_eq!(read_all(&sim), all);
        }
    }
    result.map(drop)
}

#[test]
fn every_failing_step_leaves_the_old_state_or_commits() {
    let mut failed = 0;
    let mut committed = 0;
    for error in [ErrorKind::StorageFull, ErrorKind::Other] {
        for op in [
            SimOp::Create,
            SimOp::Write,
            SimOp::Sync,
            SimOp::Rename,
            SimOp::SyncDir,
        ] {
            for dir in 0..DIRS {
                // Each directory sees a few of each operation per append:
                // fail each occurrence in turn.
                for skip in 0..8 {
                    let fault = Fault {
                        op,
                        name_contains: String::new(),
                        error,
                        skip,
                        times: 1,
                    };
                    match run(dir, fault) {
                        Ok(()) => committed += 1,
                        Err(_) => failed += 1,
                    }
                }
            }
        }
    }
    println!("{failed} failed commits left the old state, {committed} committed past the fault");
    assert!(failed > 100 && committed > 0);
}

#[test]
fn a_full_directory_fails_the_commit_and_keeps_the_old_state() {
    // Room for nothing, part of a shard, a shard, two shards and a
    // half, ... in each directory in turn: the write that hits the limit
    // lands partly, as on a real disk.
    let shard = 4096 + 256;
    for dir in 0..DIRS {
        for room in [
            0,
            100,
            shard - 1,
            shard + 10,
            2 * shard + 2000,
            3 * shard - 5,
        ] {
            let (sim, old) = base();
            let before = image(&sim, DIRS);
            let used: usize = before[dir].iter().map(|(_, b)| b.len()).sum();
            sim.set_capacity(dir, Some((used + room) as u64));
            let mut tier = reopen(&sim, config(4, 2, 256));
            match tier.append(SEGMENT, OLD_LEN as u64, &new_bytes()) {
                Err(CommitError::NoSpace(e)) => {
                    assert_eq!(e.dir, dir);
                    assert_eq!(image(&sim, DIRS), before, "dir {dir} room {room}");
                    assert_eq!(read_all(&sim), old);
                    sim.set_capacity(dir, None);
                    tier.append(SEGMENT, OLD_LEN as u64, &new_bytes())
                        .expect("retry after space is freed");
                }
                Ok(_) => panic!("dir {dir} room {room}: committed into a full directory"),
                Err(other) => panic!("dir {dir} room {room}: {other:?}"),
            }
        }
    }
}

#[test]
fn an_offline_directory_fails_the_commit() {
    let (sim, old) = base();
    let before = image(&sim, DIRS);
    sim.set_offline(3, true);
    let mut tier = reopen(&sim, config(4, 2, 256));
    let error = tier
        .append(SEGMENT, OLD_LEN as u64, &new_bytes())
        .expect_err("writes need every directory");
    assert!(
        matches!(error, CommitError::Io(ref e) if e.dir == 3),
        "{error:?}"
    );
    sim.set_offline(3, false);
    assert_eq!(image(&sim, DIRS), before);
    assert_eq!(read_all(&sim), old);
}

#[test]
fn unconfirmed_manifest_renames_are_indeterminate() {
    // Every directory sync after the shards' fails: the new manifest is
    // renamed everywhere, durable nowhere.
    for cut in [None, Some(Cut::DropUnsynced)] {
        let (sim, old) = base();
        for dir in 0..DIRS {
            sim.inject(
                dir,
                Fault {
                    skip: 1,
                    ..Fault::always(SimOp::SyncDir, "", ErrorKind::Other)
                },
            );
        }
        let mut tier = reopen(&sim, config(4, 2, 256));
        let error = tier
            .append(SEGMENT, OLD_LEN as u64, &new_bytes())
            .expect_err("no directory confirmed the manifest");
        assert!(matches!(error, CommitError::Indeterminate(_)), "{error:?}");
        assert!(!error.is_retryable());
        for dir in 0..DIRS {
            sim.clear_faults(dir);
        }
        let mut all = old.clone();
        all.extend(new_bytes());
        match cut {
            // The renames stand while the power stays on.
            None => assert_eq!(read_all(&sim), all),
            // Undone by a cut: the old state, whole.
            Some(cut) => {
                sim.power_cut(cut);
                assert_eq!(read_all(&sim), old);
            }
        }
        let mut tier = Tier::open(sim.dirs(), config(4, 2, 256)).expect("opens");
        tier.collect_orphans();
        assert_eq!(read_all(&sim), if cut.is_none() { all } else { old });
    }
}
