//! Command line: the loop's flags, and the hidden worker subcommands the
//! loop re-executes itself with.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// spate-crash-loop: kill -9 a spate-node (and its writers and readers) over
/// and over, and check that every acknowledged event survives, exactly once
/// and in order.
#[derive(Debug, Parser)]
#[command(name = "spate-crash-loop", version, about)]
pub struct Cli {
    /// Internal: run as a worker process of a loop.
    #[command(subcommand)]
    pub worker: Option<Worker>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The loop's settings.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Kill-restart-verify iterations.
    #[arg(long, env = "CRASH_ITERATIONS", default_value_t = 50)]
    pub iterations: u32,
    /// The spate-node binary (default: next to this executable).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// Writer processes; each appends to every segment under its own
    /// exactly-once writer id.
    #[arg(long, default_value_t = 3)]
    pub writers: u32,
    /// Reader processes; each follows every segment from offset 0.
    #[arg(long, default_value_t = 2)]
    pub readers: u32,
    /// Segments per epoch.
    #[arg(long, default_value_t = 4)]
    pub segments: u32,
    /// Node cores.
    #[arg(long, default_value_t = 2)]
    pub cores: usize,
    /// Iterations per epoch: each epoch starts a fresh node on an empty
    /// data directory, which bounds each verification's reading.
    #[arg(long, default_value_t = 10)]
    pub epoch: u32,
    /// Longest a round runs before its kill, in milliseconds (the moment
    /// is drawn from 20 ms up to this).
    #[arg(long, default_value_t = 700)]
    pub max_run_ms: u64,
    /// Average pause between a writer's bursts, in milliseconds: bounds
    /// the data volume per epoch.
    #[arg(long, default_value_t = 4)]
    pub pace_ms: u64,
    /// Seed for every random choice (default: from the clock; printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to put the run's files (default: a new directory under the
    /// system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the run's files even when everything passed.
    #[arg(long)]
    pub keep: bool,
    /// Seconds without progress (no new acknowledgement from some writer,
    /// or no answer to a verification read) before the loop calls the node
    /// stuck. A liveness guard, far above any normal pause.
    #[arg(long, default_value_t = 60)]
    pub stall_secs: u64,
}

/// A worker process's role.
#[derive(Debug, Clone, Subcommand)]
pub enum Worker {
    /// Appends events and logs SENT/ACKED.
    #[command(hide = true)]
    Writer(WorkerArgs),
    /// Follows segments from offset 0, checks and logs SEEN.
    #[command(hide = true)]
    Reader(WorkerArgs),
}

/// What a worker needs to know.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The epoch directory (logs go here).
    #[arg(long)]
    pub dir: PathBuf,
    /// The worker's index among its role.
    #[arg(long)]
    pub index: u32,
    /// Any core of the node.
    #[arg(long)]
    pub node: SocketAddr,
    /// A segment to work on (repeated).
    #[arg(long = "segment", required = true)]
    pub segments: Vec<String>,
    /// Seed for the worker's random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Average pause between bursts, in milliseconds (writers).
    #[arg(long, default_value_t = 4)]
    pub pace_ms: u64,
}
