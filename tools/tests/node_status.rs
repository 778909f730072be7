//! Commands that talk to a running node: `spate node status` against a node
//! started with `--metrics` (the JSON parses and shows the appends made;
//! rates are not asserted, they depend on timing; counts are), and `spate
//! tier compact --now` against a node with tier directories.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use spate_client::{AppendOutcome, Client, ClientOptions};

/// `spate-node`, built next to `spate` by cargo (a workspace test run
/// builds it; `cargo test -p spate-tools` alone builds it here).
fn node_bin() -> PathBuf {
    let spate = Path::new(env!("CARGO_BIN_EXE_spate"));
    let bin = spate.with_file_name("spate-node");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "spate-node", "--bin", "spate-node"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building spate-node failed");
    }
    assert!(bin.exists(), "no spate-node at {}", bin.display());
    bin
}

/// A node on a fresh directory, killed on drop.
struct Node {
    child: Child,
    dir: PathBuf,
    core0: SocketAddr,
    metrics: String,
}

impl Node {
    fn start(name: &str) -> Node {
        Self::start_with(name, &[])
    }

    fn start_with(name: &str, extra: &[String]) -> Node {
        // Not /tmp: it may be tmpfs, which refuses O_DIRECT.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("spate-tools-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test directory");
        let mut child = Command::new(node_bin())
            .args(["--data-dir", dir.to_str().expect("utf-8 path")])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--cores",
                "1",
                "--cache-mib",
                "64",
            ])
            .args(["--journal-file-mib", "32", "--journal-files", "8"])
            .args(["--metrics", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spate-node starts");
        let stdout = child.stdout.take().expect("piped");
        let (mut core0, mut metrics) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("a line");
            if let Some(addr) = line.split("listening on ").nth(1) {
                core0 = addr.trim().parse().ok();
            }
            if let Some(url) = line.split("metrics on http://").nth(1) {
                metrics = Some(url.trim().trim_end_matches("/metrics").to_string());
            }
            if core0.is_some() && metrics.is_some() {
                break;
            }
        }
        Node {
            child,
            dir,
            core0: core0.expect("the node listened"),
            metrics: metrics.expect("the node served metrics"),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(args)
        .env_remove("SPATE_METRICS")
        .output()
        .expect("spate runs")
}

#[test]
fn node_status_json_shows_the_appends() {
    let node = Node::start("status");
    let client = Client::connect(node.core0, ClientOptions::default()).expect("connects");
    client.create_segment("t/s/0").wait().expect("created");
    let writer = client.segment_writer("t/s/0", 5).expect("writer");
    let acks: Vec<_> = (0..25).map(|i| writer.append(vec![i as u8; 40])).collect();
    for ack in acks {
        assert!(matches!(
            ack.wait().expect("acknowledged"),
            AppendOutcome::Appended(_)
        ));
    }

    let out = spate(&[
        "node",
        "status",
        "--metrics",
        &node.metrics,
        "--interval-ms",
        "200",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(status["cores"], 1);
    assert_eq!(status["total"]["appended_events"], 25);
    assert_eq!(status["total"]["appended_bytes"], 1000);
    assert_eq!(status["total"]["segments"], 1);
    assert_eq!(status["per_core"][0]["core"], 0);
    assert!(status["machine"]["cpus"].as_u64().is_some_and(|c| c >= 1));

    // The table names the same figures.
    let table = spate(&[
        "node",
        "status",
        "--metrics",
        &node.metrics,
        "--interval-ms",
        "100",
    ]);
    assert_eq!(table.status.code(), Some(0));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("appends/s") && text.contains("total"),
        "{text}"
    );
}

#[test]
fn node_status_without_a_node_says_what_to_do() {
    // A port nothing listens on: bind one and let it go.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = free.local_addr().expect("addr").to_string();
    drop(free);
    let out = spate(&["node", "status", "--metrics", &addr]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no metrics at") && err.contains("--metrics"),
        "{err}"
    );
    let none = spate(&["node", "status"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("SPATE_METRICS"));
}

#[test]
fn tier_compact_now_moves_the_data_into_the_tier() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("spate-tools-tier-dirs");
    let _ = std::fs::remove_dir_all(&root);
    let dirs: Vec<PathBuf> = (0..3).map(|i| root.join(format!("d{i}"))).collect();
    let mut extra = vec!["--ec".to_string(), "2+1".into()];
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("tier dir");
        extra.extend(["--tier-dir".into(), dir.display().to_string()]);
    }
    let node = Node::start_with("compact", &extra);
    let client = Client::connect(node.core0, ClientOptions::default()).expect("connects");
    client.create_segment("t/c/0").wait().expect("created");
    let writer = client.segment_writer("t/c/0", 5).expect("writer");
    let acks: Vec<_> = (0..8)
        .map(|i| writer.append(vec![i as u8; 256 << 10]))
        .collect();
    for ack in acks {
        assert!(matches!(
            ack.wait().expect("acknowledged"),
            AppendOutcome::Appended(_)
        ));
    }
    let addr = node.core0.to_string();
    let out = spate(&["tier", "compact", "--now", "--node", &addr, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(done["has_tier"], true);
    // The flusher may have moved the data before the request came.
    assert!(
        done["cores"][0]["flushed_bytes"].as_u64().is_some(),
        "{done}"
    );
    assert!(
        done["cores"][0]["tiered_bytes"].as_u64() >= Some(2 << 20),
        "{done}"
    );
    assert!(
        done["cores"][0]["dropped_files"].as_u64() >= Some(1),
        "{done}"
    );
    let mut status_args = vec!["tier", "status", "--json"];
    let dir_args: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    for dir in &dir_args {
        status_args.extend(["--tier-dir", dir.as_str()]);
    }
    let status = spate(&status_args);
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    let tier: serde_json::Value = serde_json::from_slice(&status.stdout).expect("one JSON object");
    assert_eq!(tier["healthy"], true, "{tier}");
    assert_eq!(
        tier["segments"], 1,
        "the node's one file is one object: {tier}"
    );
    assert!(tier["data_bytes"].as_u64() >= Some(2 << 20), "{tier}");
    let without = spate(&["tier", "compact", "--node", &addr]);
    assert_eq!(without.status.code(), Some(2), "--now is required");
    drop(node);
    let _ = std::fs::remove_dir_all(&root);
}
