//! `spate completions SHELL` prints a script that knows the subcommands.

use std::process::Command;

#[test]
fn completions_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_spate"))
            .args(["completions", shell])
            .output()
            .expect("spate runs");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["journal", "node", "tier", "scrub", "repair"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["completions", "cmd.exe"])
        .output()
        .expect("spate runs");
    assert_eq!(bad.status.code(), Some(2));
}
