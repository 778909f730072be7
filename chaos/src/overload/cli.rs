//! `spate-overload`'s flags. The defaults are the numbers; CI runs
//! them as they are (`ci/overload`).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// spate-overload: abuse a spate-node (idle connections, slow readers, a
/// 2 GiB frame header, a client that never reads, many segments, more
/// connections than allowed) and check that it keeps serving a well-behaved
/// client within its memory bound.
#[derive(Debug, Clone, Parser)]
#[command(name = "spate-overload", version, about)]
pub struct Args {
    /// The spate-node binary (default: next to this executable).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// Run only these cases (repeat the flag; default: all, in order).
    #[arg(long = "case", value_enum)]
    pub cases: Vec<Case>,
    /// Node cores.
    #[arg(long, default_value_t = 2)]
    pub cores: usize,
    /// The node's read cache, MiB.
    #[arg(long, default_value_t = 64)]
    pub cache_mib: u64,
    /// Size of the big segment the readers read, MiB; above the cache, so
    /// that part of it is read back from the journal.
    #[arg(long, default_value_t = 96)]
    pub big_mib: u64,
    /// Idle connections.
    #[arg(long, default_value_t = 1000)]
    pub idle: usize,
    /// Long-poll readers at segment tails.
    #[arg(long, default_value_t = 500)]
    pub pollers: usize,
    /// Readers of big ranges that drain their sockets slowly.
    #[arg(long, default_value_t = 500)]
    pub range_readers: usize,
    /// Largest reads each range reader keeps outstanding.
    #[arg(long, default_value_t = 2)]
    pub reads_each: usize,
    /// Segments created, appended to and read back.
    #[arg(long, default_value_t = 10_000)]
    pub segments: usize,
    /// Rounds the well-behaved client must complete while each abuse holds.
    #[arg(long, default_value_t = 20)]
    pub rounds: u64,
    /// Seconds the well-behaved client may take for those rounds before
    /// the node counts as no longer serving it. A liveness guard, far above
    /// any normal pace.
    #[arg(long, default_value_t = 60)]
    pub patience_secs: u64,
    /// The node's open-file limit (it needs two descriptors per connection).
    #[arg(long, default_value_t = 16_384)]
    pub open_files: u64,
    /// RSS at which the harness kills the node to protect the machine
    /// (reported as a failure), MiB.
    #[arg(long, default_value_t = 4096)]
    pub memory_cap_mib: u64,
    /// Where to put the run's files (default: under the system's temporary
    /// directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the run's files even when every case passed.
    #[arg(long)]
    pub keep: bool,
}

/// The cases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Case {
    /// Connections opened, handshaken, then silent.
    IdleConnections,
    /// Long-poll readers at tails, and range readers that drain slowly.
    SlowReaders,
    /// Frame headers claiming 2 GiB and more; stalled large frames.
    HugeFrame,
    /// A client that pipelines requests and never reads a reply.
    NeverReads,
    /// Many segments created, appended to, read back.
    ManySegments,
    /// More connections than the node's limit.
    ConnectionLimit,
}

impl Case {
    /// Every case, in order.
    pub const ALL: [Case; 6] = [
        Case::IdleConnections,
        Case::SlowReaders,
        Case::HugeFrame,
        Case::NeverReads,
        Case::ManySegments,
        Case::ConnectionLimit,
    ];

    /// Its name in the output (and on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Case::IdleConnections => "idle-connections",
            Case::SlowReaders => "slow-readers",
            Case::HugeFrame => "huge-frame",
            Case::NeverReads => "never-reads",
            Case::ManySegments => "many-segments",
            Case::ConnectionLimit => "connection-limit",
        }
    }
}
