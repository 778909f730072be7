//! Workloads with consumers against a real `spate-node` process, briefly:
//! a workload file with `consumers` runs through `append`, and the JSON
//! gains the consumer side (tail: delivery latency; catch-up: read MB/s
//! and its ratio to the floor's sequential read). Drivers that cannot
//! consume say so. Asserts nothing about timing.

use std::process::Command;

use serde_json::Value;

mod support;

use support::{Node, TempDir, field, number, spate_bench};

/// A workload file in `dir` with `consumers` readers in `mode`.
fn workload_file(dir: &TempDir, stream: &str, mode: &str) -> std::path::PathBuf {
    let path = dir.0.join(format!("{mode}.toml"));
    let text = format!(
        "description = \"consumers test\"\n\
         producers = 2\n\
         segments = 3\n\
         event_bytes = \"100..2000\"\n\
         rate = 300\n\
         seconds = 1\n\
         warmup = 0.2\n\
         stream = \"{stream}\"\n\
         keys = 16\n\
         consumers = 2\n\
         consumer_mode = \"{mode}\"\n"
    );
    std::fs::write(&path, text).expect("write the workload file");
    path
}

fn assert_consumer_figures(json: &Value, mode: &str) {
    assert_eq!(field(json, "workload"), "append");
    assert_eq!(field(json, "config.consumers"), 2);
    assert_eq!(field(json, "config.consumer_mode"), mode);
    assert_eq!(field(json, "consumers.mode"), mode);
    assert_eq!(field(json, "consumers.readers"), 2);
    for path in [
        "events",
        "latency_us.p99",
        "ratio.p99",
        "read_mb_per_s",
        "ratio.read_vs_seq_read",
        "consumers.seconds",
        "consumers.throughput.events_per_s",
        "consumers.throughput.mb_per_s",
        "consumers.latency_us.p50",
        "consumers.latency_us.p90",
        "consumers.latency_us.p99",
        "consumers.latency_us.p999",
        "consumers.latency_us.max",
        "consumers.latency_samples",
        "consumers.ratio.read_vs_seq_read",
    ] {
        assert!(number(json, path) >= 0.0, "{path}");
    }
    assert!(number(json, "consumers.events") > 0.0, "{json}");
    assert!(number(json, "read_mb_per_s") > 0.0, "{json}");
    assert_eq!(
        number(json, "read_mb_per_s"),
        number(json, "consumers.throughput.mb_per_s")
    );
}

#[test]
fn a_workload_file_with_tail_consumers_reports_delivery_latency() {
    let node = Node::start();
    let dir = TempDir::new("consumers-tail");
    let file = workload_file(&dir, "bench/consumers-tail", "tail");
    let json = spate_bench(
        &["append", "--node", &node.addr, "--json"],
        &[("--workload", &file), ("--floor-dir", &dir.0)],
    );
    assert_consumer_figures(&json, "tail");
    assert!(number(&json, "consumers.ratio.tail_p99_vs_ack_p99") > 0.0);
    assert!(number(&json, "consumers.undelivered") >= 0.0);
    // The readers got every event due in the window that was acked in it
    // (they may also get the late ones, which `events` does not count).
    assert!(
        number(&json, "consumers.events") >= number(&json, "events"),
        "{json}"
    );
}

#[test]
fn a_workload_file_with_catch_up_consumers_reads_what_was_written() {
    let node = Node::start();
    let dir = TempDir::new("consumers-catchup");
    let file = workload_file(&dir, "bench/consumers-catchup", "catch-up");
    let json = spate_bench(
        &["append", "--node", &node.addr, "--json"],
        &[("--workload", &file), ("--floor-dir", &dir.0)],
    );
    assert_consumer_figures(&json, "catch-up");
    assert!(number(&json, "consumers.stream_mb") > 0.0, "{json}");
    // A fresh stream: everything written (warm-up, window and late acks)
    // is what the consumers read from its head.
    assert!(
        number(&json, "consumers.events") >= number(&json, "events"),
        "{json}"
    );
    assert!(
        json.get("consumers")
            .and_then(|c| c.get("undelivered"))
            .is_none()
    );
}

#[test]
fn drivers_that_cannot_consume_say_so() {
    let dir = TempDir::new("consumers-redis");
    let file = workload_file(&dir, "bench/never", "tail");
    let output = Command::new(env!("CARGO_BIN_EXE_spate-bench"))
        .args(["append", "--driver", "redis", "--redis", "127.0.0.1:1"])
        .arg("--workload")
        .arg(&file)
        .arg("--floor-dir")
        .arg(&dir.0)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the redis driver cannot consume"),
        "{stderr}"
    );
}
