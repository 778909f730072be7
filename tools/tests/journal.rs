//! `spate journal verify|dump` on real journal directories: a clean one, a
//! damaged one, one never started, and a directory that is not a journal.
//! Exit codes are part of the interface: 0 healthy, 1 damaged, 2 cannot run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use spate_journal::direct::{DirectOptions, DirectStorage, slot_path};
use spate_journal::{Journal, JournalConfig, RecordKind};

fn spate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(args)
        .output()
        .expect("spate runs")
}

fn fresh_dir(name: &str) -> PathBuf {
    // Not /tmp: it may be tmpfs, which refuses O_DIRECT.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("spate-tools-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test directory");
    dir
}

fn config() -> JournalConfig {
    JournalConfig {
        journal_id: 77,
        file_bytes: 1 << 20,
        max_record_bytes: 64 << 10,
        max_write_bytes: 64 << 10,
        max_files: 4,
        ..JournalConfig::default()
    }
}

/// A journal with `records` data records and a checkpoint in the middle.
fn write_journal(dir: &Path, records: usize) {
    let storage = DirectStorage::open(dir, DirectOptions::default()).expect("O_DIRECT here");
    let (mut journal, _) = Journal::open(storage, config()).expect("opens");
    for i in 0..records {
        if i == records / 2 {
            journal
                .checkpoint(b"not a node checkpoint")
                .expect("checkpoint");
        }
        journal
            .append(RecordKind::Data, &[i as u8; 300])
            .expect("append");
        journal.flush().expect("durable");
    }
    journal.close().expect("closes");
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_clean_journal_verifies_and_dumps_every_record() {
    let dir = fresh_dir("clean");
    write_journal(&dir, 20);
    let dir = dir.to_str().expect("utf-8");
    let verify = spate(&["journal", "verify", dir, "--json"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    let report: serde_json::Value = serde_json::from_str(text(&verify).trim()).expect("JSON");
    assert_eq!(report["ok"], true);
    assert_eq!(report["records"], 21, "20 data records and the checkpoint");
    let dump = spate(&["journal", "dump", dir, "--json"]);
    assert_eq!(dump.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = text(&dump)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 21);
    assert_eq!(lines[10]["kind"], "checkpoint");
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| l["lsn"] == i as u64 + 1)
    );
    let human = spate(&["journal", "verify", dir]);
    assert!(
        text(&human).contains(": ok: 1 files in the chain"),
        "{}",
        text(&human)
    );
}

#[test]
fn damage_to_acknowledged_records_exits_1_and_says_where() {
    let dir = fresh_dir("damaged");
    write_journal(&dir, 10);
    // Flip a payload byte of the second record (its own block: each durable
    // write starts on a fresh 4 KiB block).
    let path = slot_path(&dir, 0);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[2 * 4096 + 60] ^= 1;
    std::fs::write(&path, bytes).expect("write");
    let verify = spate(&["journal", "verify", dir.to_str().expect("utf-8")]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    let out = text(&verify);
    assert!(
        out.contains("DAMAGED") && out.contains("00000000.journal"),
        "{out}"
    );
}

#[test]
fn empty_and_foreign_directories() {
    let dir = fresh_dir("never-started");
    std::fs::write(slot_path(&dir, 0), vec![0u8; 1 << 20]).expect("a prepared file");
    let verify = spate(&["journal", "verify", dir.to_str().expect("utf-8")]);
    assert_eq!(verify.status.code(), Some(0));
    assert!(text(&verify).contains("empty"), "{}", text(&verify));
    let not_a_journal = fresh_dir("nothing");
    let verify = spate(&["journal", "verify", not_a_journal.to_str().expect("utf-8")]);
    assert_eq!(verify.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&verify.stderr).contains("holds no journal files"));
}
