//! `spate tier status|scrub|repair` on a tier written by the tier library:
//! one directory wiped (a replaced disk), scrub finds it (exit 1), repair
//! rebuilds it bit-exact (exit 0), and scrub is clean again (exit 0).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use spate_tier::fs::real::RealDir;
use spate_tier::{Tier, TierConfig};

const DIRS: usize = 6;

fn spate(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(args)
        .output()
        .expect("spate runs")
}

/// Six tier directories holding two segments written 4+2.
fn build_tier(name: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("spate-tools-tier-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    let dirs: Vec<PathBuf> = (0..DIRS).map(|i| root.join(format!("d{i}"))).collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("tier directory");
    }
    let config = TierConfig {
        k: 4,
        m: 2,
        cell_size: 4096,
        parallel_writes: false,
        ..TierConfig::default()
    };
    let real = dirs
        .iter()
        .map(|d| RealDir::new(d).expect("a directory"))
        .collect();
    let mut tier = Tier::open(real, config).expect("opens");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    tier.append("s/one/0", 0, &data).expect("stored");
    tier.append("s/two/0", 0, &data[..20_000]).expect("stored");
    dirs
}

fn args(command: &[&str], dirs: &[PathBuf]) -> Vec<String> {
    let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
    for dir in dirs {
        args.push("--tier-dir".into());
        args.push(dir.display().to_string());
    }
    args.push("--json".into());
    args
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// Every file of `dir` and its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| {
            let path = e.expect("entry").path();
            let name = path
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("a file"))
        })
        .collect()
}

#[test]
fn a_wiped_directory_is_found_by_scrub_and_rebuilt_by_repair() {
    let dirs = build_tier("wipe");
    let status = spate(&args(&["tier", "status", "--ec", "4+2"], &dirs));
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    let status = json(&status);
    assert_eq!(status["segments"], 2);
    assert_eq!(status["dirs"].as_array().map(Vec::len), Some(DIRS));

    let clean = spate(&args(&["tier", "scrub"], &dirs));
    assert_eq!(clean.status.code(), Some(0), "{clean:?}");
    assert_eq!(json(&clean)["damage_count"], 0);

    // The disk behind directory 2 is replaced: an empty directory.
    let before = files(&dirs[2]);
    assert!(!before.is_empty());
    std::fs::remove_dir_all(&dirs[2]).expect("wiped");
    std::fs::create_dir(&dirs[2]).expect("replaced");

    let damaged = spate(&args(&["tier", "scrub"], &dirs));
    assert_eq!(damaged.status.code(), Some(1), "{damaged:?}");
    let report = json(&damaged);
    assert!(report["damage_count"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(report["damage_per_dir"][2], report["damage_count"]);
    assert_eq!(report["unrecoverable"].as_array().map(Vec::len), Some(0));

    let repaired = spate(&args(&["tier", "repair"], &dirs));
    assert_eq!(repaired.status.code(), Some(0), "{repaired:?}");
    let repair = json(&repaired);
    assert!(
        repair["dirs"][2]["shards_rebuilt"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert_eq!(repair["dirs"][0]["shards_rebuilt"], 0);
    assert_eq!(files(&dirs[2]), before, "rebuilt bit-exact");

    let again = spate(&args(&["tier", "scrub"], &dirs));
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert_eq!(json(&again)["damage_count"], 0);
}

#[test]
fn a_missing_directory_or_bad_code_cannot_run() {
    let dirs = build_tier("missing");
    let mut gone = dirs.clone();
    gone[5] = dirs[5].with_file_name("nowhere");
    let out = spate(&args(&["tier", "scrub"], &gone));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tier directory 5"));
    let out = spate(&args(&["tier", "status", "--ec", "4+3"], &dirs));
    assert_eq!(out.status.code(), Some(2), "7 shards need 7 directories");
    let out = spate(&args(&["tier", "status", "--ec", "four"], &dirs));
    assert_eq!(out.status.code(), Some(2));
}
