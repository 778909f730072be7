//! The Redis and NATS drivers against real servers. These need
//! `redis-server` and `nats-server` (2.10 or later for
//! `sync_interval: always`), so they only run with `SPATE_PEER_TESTS=1`;
//! otherwise each prints why it skipped. `NATS_SERVER` names the nats-server
//! binary when it is not the one on PATH. Asserts nothing about timing.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn enabled(test: &str) -> bool {
    let on = std::env::var("SPATE_PEER_TESTS").is_ok_and(|v| v == "1");
    if !on {
        println!(
            "skipping {test}: set SPATE_PEER_TESTS=1 to run it (needs redis-server and nats-server)"
        );
    }
    on
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("spate-bench-{name}-{}", std::process::id()));
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

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until `port` accepts connections (a liveness guard, not a timing
/// expectation).
fn wait_for(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited: {status}");
        }
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn compare(driver: &str, target_flag: &str, target: &str, floor: &Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_spate-bench"))
        .args([
            "compare",
            "--drivers",
            driver,
            target_flag,
            target,
            "--json",
        ])
        .args(["--seconds", "1", "--warmup", "0.2", "--rate", "200"])
        .args([
            "--producers",
            "2",
            "--segments",
            "3",
            "--event-bytes",
            "1KiB",
        ])
        .arg("--floor-dir")
        .arg(floor)
        .output()
        .expect("running spate-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}\n{stdout}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn check(json: &Value, driver: &str) -> String {
    let result = &json["results"][driver];
    assert_eq!(result["driver"], driver, "{json}");
    assert!(result["events"].as_u64().is_some_and(|n| n > 0), "{json}");
    assert!(result["latency_us"]["p99"].as_f64().is_some(), "{json}");
    result["config"]["durability"]
        .as_str()
        .expect("durability")
        .to_string()
}

#[test]
fn redis_streams_with_appendfsync_always() {
    if !enabled("redis_streams_with_appendfsync_always") {
        return;
    }
    let dir = TempDir::new("redis");
    let port = free_port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(&dir.0)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts (apt-get install redis-server)");
    wait_for(port, &mut child);
    let _server = Server(child);
    let json = compare("redis", "--redis", &format!("127.0.0.1:{port}"), &dir.0);
    let durability = check(&json, "redis");
    assert!(durability.contains("appendfsync=always"), "{durability}");
}

#[test]
fn nats_jetstream_with_file_storage() {
    if !enabled("nats_jetstream_with_file_storage") {
        return;
    }
    let dir = TempDir::new("nats");
    let port = free_port();
    let bin = std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
    let config = dir.0.join("nats.conf");
    let store = dir.0.join("store");
    let write_config = |sync: bool| {
        let sync = if sync {
            "  sync_interval: always\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n{sync}}}\n",
                store.display()
            ),
        )
        .expect("the config");
    };
    write_config(true);
    // Servers before 2.10 refuse sync_interval: run without it then.
    let check_config = Command::new(&bin)
        .arg("-t")
        .arg("-c")
        .arg(&config)
        .output()
        .expect("nats-server runs (apt-get install nats-server, or NATS_SERVER=path)");
    if !check_config.status.success() {
        println!(
            "{bin} does not take sync_interval ({}); testing without it",
            String::from_utf8_lossy(&check_config.stderr).trim()
        );
        write_config(false);
    }
    let mut child = Command::new(&bin)
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nats-server starts");
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    }
    wait_for(port, &mut child);
    let _server = Server(child);
    let json = compare("nats", "--nats", &format!("127.0.0.1:{port}"), &dir.0);
    let durability = check(&json, "nats");
    assert!(durability.contains("JetStream"), "{durability}");
}
