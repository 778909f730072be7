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
