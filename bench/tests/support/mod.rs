//! What the tests against a real `spate-node` share: temporary
//! directories, the node process, running `spate-bench` and reading its
//! JSON.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A fresh directory under the temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        // Tests run side by side in one process: a counter keeps them apart.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("spate-bench-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `spate-node` with one core on an ephemeral loopback port.
pub struct Node {
    child: Child,
    pub addr: String,
    _dir: TempDir,
}

impl Node {
    pub fn start() -> Self {
        let dir = TempDir::new("node");
        let log = std::fs::File::create(dir.0.join("node.log")).expect("a log file");
        let mut child = Command::new(node_binary())
            .arg("--data-dir")
            .arg(&dir.0)
            .args(["--listen", "127.0.0.1:0", "--cores", "1"])
            .args([
                "--cache-mib",
                "64",
                "--journal-file-mib",
                "32",
                "--journal-files",
                "8",
            ])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spate-node starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let log = std::fs::read_to_string(dir.0.join("node.log")).unwrap_or_default();
                panic!("the node exited before it listened:\n{log}");
            };
            if let Some(addr) = line.split("listening on ").nth(1) {
                break addr.trim().to_string();
            }
        };
        // Keep draining its stdout so its prints never block.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `spate-node` binary: `SPATE_NODE_BIN`, else the one cargo built next
/// to `spate-bench` (a workspace build or test builds both), else built now.
pub fn node_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SPATE_NODE_BIN") {
        return PathBuf::from(path);
    }
    let bench = Path::new(env!("CARGO_BIN_EXE_spate-bench"));
    let dir = bench.parent().expect("the binary's directory");
    let node = dir.join("spate-node");
    if node.is_file() {
        return node;
    }
    // `cargo test -p spate-bench` alone does not build other packages'
    // binaries: build it into the same target directory and profile.
    let target_dir = dir.parent().expect("the target directory");
    let mut build = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    build
        .args([
            "build",
            "-p",
            "spate-node",
            "--bin",
            "spate-node",
            "--target-dir",
        ])
        .arg(target_dir);
    if dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    eprintln!("building spate-node for this test: {build:?}");
    let status = build.status().expect("running cargo build");
    assert!(status.success(), "cargo build -p spate-node failed");
    assert!(node.is_file(), "no spate-node at {}", node.display());
    node
}

pub fn spate_bench(args: &[&str], dirs: &[(&str, &Path)]) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spate-bench"));
    command.args(args);
    for (flag, path) in dirs {
        command.arg(flag).arg(path);
    }
    let output = command.output().expect("running spate-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "spate-bench {args:?} failed: {stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}\n{stderr}"))
}

pub fn field<'a>(json: &'a Value, path: &str) -> &'a Value {
    let mut value = json;
    for key in path.split('.') {
        value = value
            .get(key)
            .unwrap_or_else(|| panic!("missing {path} in {json}"));
    }
    value
}

pub fn number(json: &Value, path: &str) -> f64 {
    let value = field(json, path);
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {value}"))
}
