//! `spate-bench compare` and `append` against a real `spate-node` process,
//! briefly and with small settings: the JSON has every figure the design
//! brief names, and `--report` writes a page that parses as HTML and embeds
//! the same JSON. Asserts nothing about timing.

use std::process::Command;

use scraper::{Html, Selector};
use serde_json::Value;

mod support;

use support::{Node, TempDir, field, number, spate_bench};

/// The keys of the design brief's JSON, and the ones `append` adds.
fn assert_append_report(report: &Value) {
    assert_eq!(field(report, "workload"), "append");
    assert_eq!(field(report, "driver"), "spate");
    assert!(number(report, "events") > 0.0, "{report}");
    for path in [
        "seconds",
        "throughput.events_per_s",
        "throughput.mb_per_s",
        "latency_us.p50",
        "latency_us.p90",
        "latency_us.p99",
        "latency_us.p999",
        "latency_us.p9999",
        "latency_us.max",
        "latency_samples",
        "send_delay_us.p99",
        "floor.sync_write_4k_us.p50",
        "floor.sync_write_4k_us.p99",
        "floor.sync_write_4k_us.p999",
        "floor.seq_write_mb_per_s",
        "floor.seq_read_mb_per_s",
        "ratio.p50",
        "ratio.p99",
        "ratio.throughput_vs_seq_write",
        "config.segments",
        "config.producers",
        "config.mean_event_bytes",
        "config.rate",
    ] {
        assert!(number(report, path) >= 0.0, "{path}");
    }
    let series = field(report, "series")
        .as_array()
        .expect("series is a list");
    assert!(!series.is_empty(), "one entry per second");
    assert_eq!(field(&series[0], "t"), 0);
    let distribution = field(report, "latency_distribution")
        .as_array()
        .expect("a list");
    assert_eq!(
        distribution.last().map(|p| number(p, "percentile")),
        Some(100.0)
    );
}

#[test]
fn compare_on_the_spate_driver_prints_one_object_and_writes_a_report() {
    let node = Node::start();
    let floor = TempDir::new("compare-floor");
    let report_dir = TempDir::new("compare-report");
    let json = spate_bench(
        &[
            "compare",
            "--drivers",
            "spate",
            "--node",
            &node.addr,
            "--json",
            "--seconds",
            "1",
            "--warmup",
            "0.2",
            "--rate",
            "200",
            "--producers",
            "2",
            "--segments",
            "3",
            "--event-bytes",
            "100..2000",
        ],
        &[("--floor-dir", &floor.0), ("--report", &report_dir.0)],
    );
    assert_eq!(field(&json, "workload"), "compare");
    assert_eq!(field(&json, "drivers"), &serde_json::json!(["spate"]));
    assert!(json.get("errors").is_none(), "{json}");
    let spate = field(&json, "results.spate");
    assert_append_report(spate);
    assert_eq!(number(spate, "config.rate"), 200.0);
    assert_eq!(field(spate, "config.event_bytes"), "100..2000");
    assert_eq!(field(&json, "ratios.baseline"), "spate");
    assert_eq!(number(&json, "ratios.drivers.spate.p99"), 1.0);
    assert!(number(&json, "floor.seq_write_mb_per_s") > 0.0);

    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(report_dir.0.join("report.json")).expect("report.json"),
    )
    .expect("report.json parses");
    assert_eq!(written, json, "report.json is what --json printed");
    let html = std::fs::read_to_string(report_dir.0.join("report.html")).expect("report.html");
    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "report.html: {:?}", doc.errors);
    let data = Selector::parse("script[type=\"application/json\"]").expect("selector");
    let embedded: Value = serde_json::from_str(
        &doc.select(&data)
            .next()
            .expect("a data block")
            .text()
            .collect::<String>(),
    )
    .expect("the embedded JSON parses");
    assert_eq!(embedded, json, "the page embeds the report");
    assert_eq!(
        doc.select(&Selector::parse("svg").expect("selector"))
            .count(),
        3
    );
    for forbidden in ["http://", "https://", "src="] {
        assert!(!html.contains(forbidden), "report.html has {forbidden}");
    }
}

#[test]
fn append_at_max_rate_runs_a_builtin_workload_with_overrides() {
    let node = Node::start();
    let floor = TempDir::new("append-floor");
    let json = spate_bench(
        &[
            "append",
            "--node",
            &node.addr,
            "--workload",
            "max-rate-100b",
            "--window",
            "64",
            "--seconds",
            "0.5",
            "--warmup",
            "0.1",
            "--json",
        ],
        &[("--floor-dir", &floor.0)],
    );
    assert_append_report(&json);
    assert_eq!(number(&json, "config.rate"), 0.0, "max rate");
    assert_eq!(number(&json, "config.window"), 64.0);
    assert_eq!(field(&json, "config.name"), "max-rate-100b*");
    assert_eq!(number(&json, "config.segments"), 8.0, "from the built-in");
}

#[test]
fn workloads_lists_the_builtins() {
    let output = Command::new(env!("CARGO_BIN_EXE_spate-bench"))
        .args(["workloads", "--json"])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let list: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|w| w.get("name").and_then(Value::as_str))
        .collect();
    for name in ["omb-1t-100p-1kb", "max-rate-100b", "fixed-1kb-1000"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_spate-bench"))
        .args(["workloads", "--show", "omb-1t-100p-1kb"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&output.stdout).contains("segments = 100"));
}

#[test]
fn append_to_a_stream_with_routing_keys_reports_the_same_figures() {
    let node = Node::start();
    let floor = TempDir::new("stream-floor");
    let json = spate_bench(
        &[
            "append",
            "--node",
            &node.addr,
            "--stream",
            "bench/keyed",
            "--keys",
            "64",
            "--segments",
            "4",
            "--rate",
            "max",
            "--window",
            "64",
            "--seconds",
            "0.5",
            "--warmup",
            "0.1",
            "--json",
        ],
        &[("--floor-dir", &floor.0)],
    );
    assert_append_report(&json);
    assert_eq!(field(&json, "config.stream"), "bench/keyed");
    assert_eq!(number(&json, "config.keys"), 64.0);
}
