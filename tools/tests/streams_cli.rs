//! `spate` driven as a user would, against a real node: scopes and streams,
//! write from a pipe and read back to a pipe byte-identical, `--json` that
//! parses, and clear errors with a non-zero exit for bad input.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// A node on a temporary directory and ephemeral ports.
struct Node {
    child: Child,
    dir: PathBuf,
    addr: String,
}

impl Node {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("spate-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test directory");
        let mut child = Command::new(node_binary())
            .args([
                "--data-dir",
                dir.to_str().expect("utf-8"),
                "--listen",
                "127.0.0.1:0",
            ])
            .args([
                "--cores",
                "2",
                "--cache-mib",
                "64",
                "--journal-file-mib",
                "32",
            ])
            .args(["--journal-files", "8"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spate-node starts");
        let stdout = child.stdout.take().expect("piped");
        let (found, addr) = std::sync::mpsc::channel();
        // Keep reading the node's stdout for its whole life: a closed pipe
        // would fail its next line.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = found.send(addr.trim().to_string());
                }
            }
        });
        let addr = addr.recv().expect("the node listens");
        Node { child, dir, addr }
    }

    fn spate(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spate"))
            .args(args)
            .env("SPATE_NODE", &self.addr)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spate runs");
        let mut stdin = child.stdin.take().expect("piped");
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().expect("spate exits");
        feeder.join().expect("fed");
        output
    }

    fn ok(&self, args: &[&str], input: &[u8]) -> Vec<u8> {
        let output = self.spate(args, input);
        assert!(
            output.status.success(),
            "spate {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `spate-node`, built beside `spate` (a workspace test run builds it; a
/// run of this crate alone builds it here).
fn node_binary() -> PathBuf {
    let spate = PathBuf::from(env!("CARGO_BIN_EXE_spate"));
    let node = spate.with_file_name("spate-node");
    if !node.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-p", "spate-node", "--bin", "spate-node"])
            .status()
            .expect("cargo runs");
        assert!(built.success(), "building spate-node");
    }
    node
}

#[test]
fn write_from_a_pipe_and_read_back_byte_identical() {
    let node = Node::start("pipe");
    node.ok(&["scope", "create", "cli"], b"");
    node.ok(&["stream", "create", "cli/lines", "--segments", "1"], b"");
    let input: String = (0..2000)
        .map(|i| format!("line {i} {}\n", "x".repeat(i % 97)))
        .collect();
    node.ok(&["write", "cli/lines"], input.as_bytes());
    let read = node.ok(&["read", "cli/lines", "--from-start"], b"");
    assert_eq!(String::from_utf8(read).expect("utf-8"), input);

    // Binary events, length-prefixed both ways.
    node.ok(&["stream", "create", "cli/binary", "--segments", "4"], b"");
    let mut framed = Vec::new();
    for i in 0..300u32 {
        let event: Vec<u8> = (0..i % 50).map(|b| (b as u8) ^ (i as u8)).collect();
        framed.extend_from_slice(&(event.len() as u32).to_be_bytes());
        framed.extend_from_slice(&event);
    }
    node.ok(
        &[
            "write",
            "cli/binary",
            "--length-prefixed",
            "--key",
            "one-key",
        ],
        &framed,
    );
    let read = node.ok(&["read", "cli/binary", "--length-prefixed"], b"");
    assert_eq!(read, framed);

    // The tail cut from describe reads nothing more; JSON parses.
    let json = node.ok(&["stream", "describe", "cli/binary", "--json"], b"");
    let described: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(described["segments"].as_array().expect("segments").len(), 4);
    let tail = described["tail_cut"].as_str().expect("a cut");
    let rest = node.ok(&["read", "cli/binary", "--from", tail], b"");
    assert!(rest.is_empty());
    let scopes = node.ok(&["scope", "list", "--json"], b"");
    let scopes: Vec<String> = serde_json::from_slice(&scopes).expect("JSON");
    assert_eq!(scopes, ["cli"]);
}

#[test]
fn bad_input_says_what_is_wrong_and_exits_non_zero() {
    let node = Node::start("errors");
    node.ok(&["scope", "create", "cli"], b"");
    node.ok(&["stream", "create", "cli/s", "--segments", "2"], b"");
    let cases: [(&[&str], &[u8], &str); 5] = [
        (&["read", "cli/nope"], b"", "no such stream"),
        (
            &["read", "cli/s", "--from", "garbage"],
            b"",
            "not a stream cut",
        ),
        (
            &["read", "cli/s", "--from", "other/s@0:0,1:0"],
            b"",
            "another stream",
        ),
        (
            &["write", "cli/s", "--length-prefixed"],
            &[0, 0, 0, 9, 1, 2],
            "ends inside event 0",
        ),
        (&["stream", "create", "nope/s"], b"", "no scope nope"),
    ];
    for (args, input, message) in cases {
        let output = node.spate(args, input);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "spate {args:?}: {stderr}");
        assert!(stderr.contains(message), "spate {args:?} said {stderr:?}");
    }
    // No node address at all.
    let output = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["scope", "list"])
        .env_remove("SPATE_NODE")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--node"));
}

#[test]
fn readers_of_one_group_share_the_stream_and_the_group_remembers() {
    let node = Node::start("group");
    node.ok(&["scope", "create", "cli"], b"");
    node.ok(&["stream", "create", "cli/shared", "--segments", "4"], b"");
    let lines: Vec<String> = (0..400).map(|i| format!("event {i:04}")).collect();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    node.ok(
        &["write", "cli/shared", "--key-field", "1"],
        input.as_bytes(),
    );

    // Two processes of one group at once: between them every event once.
    let spawn = |reader: &str| {
        Command::new(env!("CARGO_BIN_EXE_spate"))
            .args(["read", "cli/shared", "--group", "g", "--reader", reader])
            .env("SPATE_NODE", &node.addr)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spate runs")
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let mut read: Vec<String> = Vec::new();
    for child in [a, b] {
        let output = child.wait_with_output().expect("spate exits");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        read.extend(
            String::from_utf8(output.stdout)
                .expect("utf-8")
                .lines()
                .map(String::from),
        );
    }
    read.sort();
    assert_eq!(read, lines, "every event exactly once across the group");

    // The group goes on where it stopped: only the new events.
    node.ok(
        &["write", "cli/shared", "--key-field", "1"],
        b"later 1\nlater 2\n",
    );
    let more = node.ok(&["read", "cli/shared", "--group", "g"], b"");
    let mut more: Vec<&str> = std::str::from_utf8(&more).expect("utf-8").lines().collect();
    more.sort();
    assert_eq!(more, ["later 1", "later 2"]);

    let refused = node.spate(&["read", "cli/shared", "--reader", "a"], b"");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--group"));
}
