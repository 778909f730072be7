//! `spate-node`: the Spate storage node.

use std::process::ExitCode;

use clap::Parser;
use spate_node::config::{Args, Settings};
use spate_node::runtime::{self, Stopped};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    raise_descriptor_limit();
    let settings = match Settings::resolve(Args::parse()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("spate-node: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime::run(settings) {
        Ok(Stopped::Asked) => {
            eprintln!("spate-node: stopped");
            ExitCode::SUCCESS
        }
        Ok(Stopped::Fatal(reason)) => {
            eprintln!("spate-node: stopped on a fatal error: {reason}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("spate-node: {e}");
            ExitCode::from(2)
        }
    }
}

/// Raises the soft limit on open files to the hard one. Each connection
/// holds two descriptors (its socket, and a duplicate for its writer task):
/// a default soft limit of 1,024 would refuse clients with resets long
/// before the node's own connection limit answers `TooManyConnections`.
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes `limit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let soft = limit.rlim_cur;
    if soft >= limit.rlim_max {
        return;
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: setrlimit only reads `limit`.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        tracing::warn!(
            soft,
            "could not raise the open-file limit; connections past it are refused by the kernel"
        );
    }
}
