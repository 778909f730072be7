//! Bad settings stop the node at once, with a message and a non-zero exit.

use std::process::Command;

fn run_node(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_spate-node"))
        .args(args)
        .output()
        .expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_missing_data_directory_is_refused() {
    let (code, stderr) = run_node(&[
        "--data-dir",
        "/nonexistent/spate",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn a_port_in_use_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = std::env::temp_dir().join(format!("spate-node-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (code, stderr) = run_node(&[
        "--data-dir",
        dir.to_str().expect("utf-8"),
        "--listen",
        &addr,
        "--cores",
        "1",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn the_core_count_of_a_data_directory_is_fixed() {
    let dir = std::env::temp_dir().join(format!("spate-node-cores-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.to_str().expect("utf-8");
    let superblock = "format = 1\nnode_id = 7\ncontainers = 4\ncores = 1\n";
    std::fs::write(dir.join("superblock.toml"), superblock).expect("superblock");
    let (code, stderr) = run_node(&[
        "--data-dir",
        path,
        "--listen",
        "127.0.0.1:0",
        "--cores",
        "2",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("initialised with 1 cores"), "{stderr}");
}

#[test]
fn unknown_settings_in_the_config_file_are_refused() {
    let file = std::env::temp_dir().join(format!("spate-node-config-{}.toml", std::process::id()));
    std::fs::write(&file, "data_dir = \"/tmp\"\ncahce_mib = 5\n").expect("config");
    let (code, stderr) = run_node(&["--config", file.to_str().expect("utf-8")]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cahce_mib"), "{stderr}");
}

#[test]
fn a_metrics_port_in_use_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = std::env::temp_dir().join(format!("spate-node-metrics-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (code, stderr) = run_node(&[
        "--data-dir",
        dir.to_str().expect("utf-8"),
        "--listen",
        "127.0.0.1:0",
        "--cores",
        "1",
        "--metrics",
        &addr,
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot serve metrics on"), "{stderr}");
}
