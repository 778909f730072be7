//! `spate-bench txn` against a real `spate-node` process, briefly: it
//! prints one JSON object with the design brief's keys and the
//! transactions' own, reads back what it committed with `--verify`, and a
//! workload file with `txn_events` runs through `append` too. Asserts
//! nothing about timing.

use std::process::Command;

use serde_json::Value;

mod support;

use support::{Node, TempDir, field, number, spate_bench};

fn assert_txn_report(report: &Value, txn_events: f64) {
    assert_eq!(field(report, "workload"), "txn");
    assert_eq!(field(report, "driver"), "spate");
    for path in [
        "events",
        "seconds",
        "throughput.events_per_s",
        "throughput.mb_per_s",
        "txns",
        "txns_per_s",
        "latency_us.p50",
        "latency_us.p90",
        "latency_us.p99",
        "latency_us.p999",
        "latency_us.p9999",
        "latency_us.max",
        "late_commits",
        "commit_latency_us.p50",
        "commit_latency_us.p99",
        "commit_latency_us.max",
        "begin_latency_us.p50",
        "flush_latency_us.p50",
        "send_delay_us.p99",
        "floor.sync_write_4k_us.p50",
        "floor.sync_write_4k_us.p99",
        "floor.seq_write_mb_per_s",
        "floor.seq_read_mb_per_s",
        "ratio.p50",
        "ratio.p99",
        "ratio.throughput_vs_seq_write",
        "ratio.commit_p50_vs_floor_p50",
        "ratio.commit_p99_vs_floor_p99",
        "config.producers",
        "config.segments",
        "config.rate",
        "config.lease_ms",
    ] {
        assert!(number(report, path) >= 0.0, "{path}");
    }
    assert_eq!(number(report, "config.txn_events"), txn_events);
    // Every transaction due in the window committed, in it or after it.
    assert!(number(report, "latency_samples") > 0.0, "{report}");
    assert!(number(report, "commit_latency_us.max") > 0.0, "{report}");
    assert_eq!(
        number(report, "events"),
        number(report, "txns") * txn_events,
        "{report}"
    );
    assert!(
        !field(report, "series")
            .as_array()
            .expect("a list")
            .is_empty()
    );
}

#[test]
fn txn_reports_commit_latency_and_reads_back_what_it_committed() {
    let node = Node::start();
    let floor = TempDir::new("txn-floor");
    let json = spate_bench(
        &[
            "txn",
            "--node",
            &node.addr,
            "--stream",
            "bench/txn",
            "--segments",
            "2",
            "--event-bytes",
            "512",
            "--txn-events",
            "5",
            "--rate",
            "10",
            "--producers",
            "2",
            "--seconds",
            "1",
            "--warmup",
            "0.2",
            "--verify",
            "--json",
        ],
        &[("--floor-dir", &floor.0)],
    );
    assert_txn_report(&json, 5.0);
    assert_eq!(number(&json, "config.rate"), 10.0);
    assert_eq!(field(&json, "config.stream"), "bench/txn");
    assert_eq!(field(&json, "verify.matches"), true, "{json}");
    let committed = number(&json, "verify.committed_events");
    assert_eq!(committed, number(&json, "verify.read_events"));
    // Warm-up and late commits are read back too.
    assert!(committed >= number(&json, "events"), "{json}");
    assert_eq!(committed % 5.0, 0.0, "whole transactions only");
}

#[test]
fn a_workload_file_with_transactions_runs_through_append_with_consumers() {
    let node = Node::start();
    let dir = TempDir::new("txn-file");
    let file = dir.0.join("txns.toml");
    std::fs::write(
        &file,
        "producers = 2\n\
         segments = 3\n\
         event_bytes = \"64..512\"\n\
         rate = 10\n\
         seconds = 1\n\
         warmup = 0.2\n\
         stream = \"bench/txn-file\"\n\
         keys = 8\n\
         txn_events = 4\n\
         consumers = 1\n",
    )
    .expect("write the workload file");
    let json = spate_bench(
        &["append", "--node", &node.addr, "--json"],
        &[("--workload", &file), ("--floor-dir", &dir.0)],
    );
    assert_txn_report(&json, 4.0);
    assert_eq!(field(&json, "config.name"), "txns");
    assert_eq!(number(&json, "config.keys"), 8.0);
    assert_eq!(field(&json, "consumers.mode"), "tail");
    assert!(number(&json, "consumers.latency_samples") > 0.0, "{json}");
    assert!(number(&json, "read_mb_per_s") >= 0.0, "{json}");
}

#[test]
fn transactions_need_a_stream_and_are_not_compared() {
    let dir = TempDir::new("txn-refused");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_spate-bench"))
            .args(args)
            .arg("--floor-dir")
            .arg(&dir.0)
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run(&["txn", "--txn-events", "3"]);
    assert!(stderr.contains("--stream"), "{stderr}");
    let stderr = run(&[
        "compare",
        "--drivers",
        "spate",
        "--stream",
        "bench/x",
        "--txn-events",
        "3",
    ]);
    assert!(stderr.contains("spate-bench txn"), "{stderr}");
    let stderr = run(&[
        "append",
        "--driver",
        "nats",
        "--stream",
        "bench/x",
        "--txn-events",
        "3",
    ]);
    assert!(
        stderr.contains("the nats driver has no transactions"),
        "{stderr}"
    );
}
