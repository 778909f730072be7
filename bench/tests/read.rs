//! `spate-bench read` against a real `spate-node` process, briefly: both
//! modes print one JSON object with the design brief's keys and the ones
//! reads add. Asserts nothing about timing.

use serde_json::Value;

mod support;

use support::{Node, TempDir, field, number, spate_bench};

fn assert_read_report(report: &Value, workload: &str) {
    assert_eq!(field(report, "workload"), workload);
    assert!(number(report, "events") > 0.0, "{report}");
    for path in [
        "seconds",
        "throughput.events_per_s",
        "throughput.mb_per_s",
        "read_mb_per_s",
        "latency_us.p50",
        "latency_us.p90",
        "latency_us.p99",
        "latency_us.p999",
        "latency_us.p9999",
        "latency_us.max",
        "floor.sync_write_4k_us.p50",
        "floor.sync_write_4k_us.p99",
        "floor.seq_write_mb_per_s",
        "floor.seq_read_mb_per_s",
        "ratio.p50",
        "ratio.p99",
        "ratio.throughput_vs_seq_write",
        "ratio.read_vs_seq_read",
        "config.segments",
        "config.readers",
    ] {
        assert!(number(report, path) >= 0.0, "{path}");
    }
    assert!(number(report, "read_mb_per_s") > 0.0, "{report}");
}

#[test]
fn tail_reads_report_delivery_latency_beside_ack_latency() {
    let node = Node::start();
    let floor = TempDir::new("read-tail-floor");
    let json = spate_bench(
        &[
            "read",
            "--node",
            &node.addr,
            "--stream",
            "bench/tail",
            "--segments",
            "2",
            "--event-bytes",
            "1024",
            "--rate",
            "200",
            "--seconds",
            "1",
            "--warmup",
            "0.2",
            "--json",
        ],
        &[("--floor-dir", &floor.0)],
    );
    assert_read_report(&json, "read");
    assert_eq!(field(&json, "config.mode"), "tail");
    assert_eq!(number(&json, "config.rate"), 200.0);
    assert!(number(&json, "ack_latency_us.p99") > 0.0, "{json}");
    assert!(number(&json, "ratio.tail_p99_vs_ack_p99") > 0.0, "{json}");
    assert!(number(&json, "undelivered") >= 0.0, "{json}");
    // Every event due in the second was delivered (200 ± the edges).
    assert!(number(&json, "events") >= 150.0, "{json}");
}

#[test]
fn catch_up_reads_the_prefilled_stream_with_a_group_and_with_segment_readers() {
    let node = Node::start();
    let floor = TempDir::new("read-catchup-floor");
    for via in ["group", "segments"] {
        let json = spate_bench(
            &[
                "read",
                "--node",
                &node.addr,
                "--stream",
                &format!("bench/catchup-{via}"),
                "--segments",
                "3",
                "--event-bytes",
                "1024",
                "--from-start",
                "--prefill-mib",
                "4",
                "--via",
                via,
                "--json",
            ],
            &[("--floor-dir", &floor.0)],
        );
        assert_read_report(&json, "read-catchup");
        assert_eq!(field(&json, "config.mode"), "catch-up");
        assert_eq!(field(&json, "config.via"), via);
        assert_eq!(number(&json, "events"), number(&json, "prefill.events"));
        assert!(number(&json, "prefill.mb") >= 4.0, "{json}");
    }
}
