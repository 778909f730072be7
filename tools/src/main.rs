//! `spate`, the operator CLI.
//!
//! Exit codes scripts can rely on: 0 all is well (a torn journal tail, the
//! normal result of a crash, counts as well), 1 a check found damage (or a
//! repair left some), 2 the command could not run (bad arguments,
//! unreadable files, no node at the address).

mod completions;
mod journal;
mod node;
mod streams;
mod tier;
mod units;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "spate",
    version,
    about = "Operate and inspect Spate storage nodes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    node: streams::NodeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Offline inspection of journal directories (the node may be stopped
    /// or running; nothing is written).
    #[command(subcommand)]
    Journal(journal::JournalCommand),
    /// Scopes: create, list, delete.
    #[command(subcommand)]
    Scope(streams::ScopeCommand),
    /// Streams: create, list, describe, update, scale, truncate, seal, delete.
    #[command(subcommand)]
    Stream(streams::StreamCommand),
    /// Writes events from stdin (one per line, or length-prefixed).
    Write(streams::WriteArgs),
    /// Reads events to stdout (one per line, or length-prefixed).
    Read(streams::ReadArgs),
    /// A running node, through its metrics page (`spate-node --metrics`).
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Offline scrub, repair and status of the erasure-coded tier's
    /// directories.
    #[command(subcommand)]
    Tier(tier::TierCommand),
    /// Prints a shell completion script, e.g.
    /// `spate completions bash > /etc/bash_completion.d/spate`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// How a command ended, for the exit code.
pub enum Outcome {
    Healthy,
    Damaged,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Journal(command) => journal::run(command),
        Command::Scope(command) => streams::run_scope(&cli.node, command),
        Command::Stream(command) => streams::run_stream(&cli.node, command),
        Command::Write(args) => streams::run_write(&cli.node, args),
        Command::Read(args) => streams::run_read(&cli.node, args),
        Command::Node(command) => node::run(command),
        Command::Tier(command) => tier::run(command),
        Command::Completions { shell } => completions::run(shell),
    };
    match result {
        Ok(Outcome::Healthy) => ExitCode::SUCCESS,
        Ok(Outcome::Damaged) => ExitCode::from(1),
        Err(error) => {
            eprintln!("spate: {error:#}");
            ExitCode::from(2)
        }
    }
}
