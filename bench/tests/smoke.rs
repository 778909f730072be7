//! Runs the real `spate-bench` binary briefly with small settings and checks
//! the shape of its JSON. Asserts nothing about timing.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// A fresh directory under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("spate-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn field<'a>(json: &'a Value, path: &str) -> &'a Value {
    let mut value = json;
    for key in path.split('.') {
        value = value
            .get(key)
            .unwrap_or_else(|| panic!("missing {path} in {json}"));
    }
    value
}

fn number(json: &Value, path: &str) -> f64 {
    let value = field(json, path);
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {value}"))
}

#[test]
fn journal_latency_run_prints_one_complete_json_object() {
    let dir = TempDir::new("smoke");
    let output = Command::new(env!("CARGO_BIN_EXE_spate-bench"))
        .args([
            "journal",
            "--mode",
            "latency",
            "--json",
            "--seconds",
            "1",
            "--warmup",
            "0.2",
        ])
        .args(["--rate", "200", "--record-bytes", "512", "--sync", "auto"])
        .args(["--file-mib", "16", "--max-files", "4"])
        .args(["--floor-samples", "50", "--floor-seq-mib", "16"])
        .arg("--dir")
        .arg(&dir.0)
        .output()
        .unwrap_or_else(|e| panic!("running spate-bench: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "spate-bench failed: {stderr}\n{stdout}"
    );
    let json: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}"));

    assert_eq!(field(&json, "workload"), "journal-latency");
    assert!(number(&json, "events") > 0.0);
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
        "floor.sync_write_4k_us.p50",
        "floor.sync_write_4k_us.p99",
        "floor.sync_write_4k_us.p999",
        "floor.dsync_write_4k_us.p50",
        "floor.dsync_write_4k_us.p99",
        "floor.dsync_write_4k_us.p999",
        "floor.seq_write_mb_per_s",
        "floor.seq_read_mb_per_s",
        "ratio.p50",
        "ratio.p99",
        "ratio.throughput_vs_seq_write",
        "config.record_bytes",
    ] {
        assert!(number(&json, path) >= 0.0, "{path}");
    }
    let sync = field(&json, "config.sync");
    assert!(
        sync == "dsync" || sync == "fdatasync",
        "config.sync is {sync}"
    );
    let left = std::fs::read_dir(&dir.0).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the run removes its journal and probe files");
}
