//! Node settings: command-line flags, an optional TOML file, and defaults sized
//! from the machine.
//!
//! A flag given on the command line wins over the file; the file wins over the
//! default. Every setting is checked before anything starts, and a bad one
//! stops the node with a message that says which and why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `spate-node`: the Spate storage node.
///
/// The same struct reads the `--config` TOML file (same names, snake_case):
/// one list of settings for both sources.
#[derive(Debug, Default, clap::Parser, Deserialize)]
#[command(name = "spate-node", version, about)]
#[serde(default, deny_unknown_fields)]
pub struct Args {
    /// Directory holding segment state (created and initialised if empty).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Directory for the per-core journals (default: DATA_DIR/journal).
    #[arg(long)]
    pub journal_dir: Option<PathBuf>,
    /// Address of core 0; core N listens on the next port up (PORT + N).
    /// Port 0 gives every core an ephemeral port.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Cores to run on (default: every core of the machine). Fixed when the
    /// data directory is initialised.
    #[arg(long)]
    pub cores: Option<usize>,
    /// Containers (shards of segments) when initialising a data directory
    /// (default: 4 per core).
    #[arg(long)]
    pub containers: Option<u32>,
    /// Memory for segment data across all cores, MiB (default: a quarter of RAM).
    #[arg(long)]
    pub cache_mib: Option<u64>,
    /// Size of each journal file, MiB.
    #[arg(long)]
    pub journal_file_mib: Option<u64>,
    /// Journal files per core: bounds the bytes a core holds that the
    /// flusher has not moved to hot chunk files yet.
    #[arg(long)]
    pub journal_files: Option<u32>,
    /// A segment's hot chunk file is closed and a new one started once it
    /// holds this many MiB (DATA_DIR/chunks/core-N).
    #[arg(long)]
    pub chunk_roll_mib: Option<u64>,
    /// Runs of a segment's data shorter than this many KiB wait in the
    /// journal for more, while the journal has room (0: flush everything at
    /// once; small runs make reads of history smaller).
    #[arg(long)]
    pub flush_min_kib: Option<u64>,
    /// A tier directory (repeat once per failure domain: an HDD mount, an
    /// NFS export): closed hot chunk files are stored there erasure-coded.
    /// The order is the tier's; keep it across restarts.
    #[arg(long = "tier-dir", value_name = "DIR")]
    #[serde(rename = "tier_dirs")]
    pub tier_dir: Vec<PathBuf>,
    /// The tier's erasure code, K+M: K data and M parity cells per stripe
    /// (default 4+2); needs at least K+M tier directories.
    #[arg(long, value_name = "K+M")]
    pub ec: Option<String>,
    /// MiB of hot chunk files the node keeps on its data disk once the tier
    /// holds them too (default 16384); past it the oldest local copies go.
    #[arg(long)]
    pub hot_budget_mib: Option<u64>,
    /// MiB/s the background scrubber reads from the tier at most, verifying
    /// every cell (default 32; 0 turns it off).
    #[arg(long)]
    pub scrub_mib_per_s: Option<u64>,
    /// Hours between two scrub passes over the whole tier (default 24).
    #[arg(long)]
    pub scrub_every_hours: Option<f64>,
    /// Keep all data in the journal (no flusher): the journal must then
    /// hold everything alive. For journal-only benchmarks and tests.
    #[arg(long)]
    pub no_flush: bool,
    /// Microseconds an idle core keeps polling for completions before it
    /// sleeps: trades CPU for latency (a sleeping core wakes up late).
    #[arg(long)]
    pub spin_us: Option<u64>,
    /// Seconds over which auto-scaling averages each segment's append rates;
    /// a segment also lives at least this long before it is split or merged.
    #[arg(long)]
    pub scale_window_secs: Option<u64>,
    /// Seconds between retention cycles: each records a stream cut at the
    /// tail of every stream with a retention policy and truncates as far as
    /// the policy's minimum allows.
    #[arg(long)]
    pub retention_interval_secs: Option<u64>,
    /// Serve Prometheus metrics over HTTP at http://ADDR/metrics (off
    /// unless given). Port 0 picks a free port; the node prints the address.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<SocketAddr>,
    /// A TOML file with any of the settings above (same names, snake_case).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

/// Resolved, checked settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub journal_dir: PathBuf,
    pub listen: SocketAddr,
    pub cores: usize,
    pub containers: u32,
    pub cache_bytes: u64,
    pub journal_file_bytes: u64,
    pub journal_files: u32,
    /// Hot chunk files roll at this size; `None`: no flusher.
    pub chunk_roll_bytes: Option<u64>,
    /// Shorter runs wait for more data while the journal has room.
    pub flush_min_bytes: u64,
    /// The tier's directories (none: data stays in hot chunk files).
    pub tier_dirs: Vec<PathBuf>,
    /// The tier's erasure code (K, M).
    pub ec: (u8, u8),
    /// Local hot chunk bytes kept once the tier holds them, node-wide.
    pub hot_budget_bytes: u64,
    /// The tier scrubber's rate (0: off) and pause between passes.
    pub scrub_bytes_per_s: u64,
    pub scrub_every: std::time::Duration,
    pub spin_us: u64,
    pub scale_window_ms: u64,
    pub retention_interval_ms: u64,
    /// Where the metrics page is served, if anywhere.
    pub metrics: Option<SocketAddr>,
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--data-dir is required (or data_dir in the --config file)")]
    NoDataDir,
    #[error("reading config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9870";
const CONTAINERS_PER_CORE: u32 = 4;
/// Measured here: 100 µs of polling before sleeping cut the median append
/// latency from about 260 to about 200 µs; longer spins made it worse.
const DEFAULT_SPIN_US: u64 = 100;
const MIB: u64 = 1 << 20;
/// As Pravega's controller: rates over minutes, not seconds, so a short
/// burst does not split a segment.
const DEFAULT_SCALE_WINDOW_SECS: u64 = 300;
const DEFAULT_RETENTION_INTERVAL_SECS: u64 = 300;
/// Large enough that a catch-up read of a segment is a few long sequential
/// reads; small enough that a rolled file is one unit for the tier later.
const DEFAULT_CHUNK_ROLL_MIB: u64 = 64;
/// A run of at least 1 MiB makes a catch-up read one long extent.
const DEFAULT_FLUSH_MIN_KIB: u64 = 1024;
const DEFAULT_HOT_BUDGET_MIB: u64 = 16 << 10;
/// A slow, steady pass: a few percent of an HDD's bandwidth.
const DEFAULT_SCRUB_MIB_PER_S: u64 = 32;

/// `K+M`, as `--ec` takes it.
fn parse_ec(text: &str) -> Result<(u8, u8), ConfigError> {
    let bad = || ConfigError::Invalid {
        setting: "--ec",
        message: format!("{text:?}: expected K+M, e.g. 4+2"),
    };
    let (k, m) = text.split_once('+').ok_or_else(bad)?;
    Ok((
        k.trim().parse().map_err(|_| bad())?,
        m.trim().parse().map_err(|_| bad())?,
    ))
}

impl Settings {
    pub fn resolve(args: Args) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => Args::default(),
        };
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .ok_or(ConfigError::NoDataDir)?;
        let journal_dir = args
            .journal_dir
            .or(file.journal_dir)
            .unwrap_or_else(|| data_dir.join("journal"));
        let machine = Machine::read();
        let cores = args.cores.or(file.cores).unwrap_or(machine.cores);
        let settings = Self {
            listen: args.listen.or(file.listen).unwrap_or_else(default_listen),
            cores,
            containers: args
                .containers
                .or(file.containers)
                .unwrap_or(CONTAINERS_PER_CORE * cores as u32),
            cache_bytes: args
                .cache_mib
                .or(file.cache_mib)
                .map_or(machine.memory / 4, |m| m * MIB),
            journal_file_bytes: args
                .journal_file_mib
                .or(file.journal_file_mib)
                .unwrap_or(128)
                * MIB,
            journal_files: args.journal_files.or(file.journal_files).unwrap_or(64),
            chunk_roll_bytes: (!(args.no_flush || file.no_flush)).then(|| {
                args.chunk_roll_mib
                    .or(file.chunk_roll_mib)
                    .unwrap_or(DEFAULT_CHUNK_ROLL_MIB)
                    .saturating_mul(MIB)
            }),
            flush_min_bytes: args
                .flush_min_kib
                .or(file.flush_min_kib)
                .unwrap_or(DEFAULT_FLUSH_MIN_KIB)
                .saturating_mul(1024),
            tier_dirs: if args.tier_dir.is_empty() {
                file.tier_dir
            } else {
                args.tier_dir
            },
            ec: parse_ec(args.ec.as_deref().or(file.ec.as_deref()).unwrap_or("4+2"))?,
            hot_budget_bytes: args
                .hot_budget_mib
                .or(file.hot_budget_mib)
                .unwrap_or(DEFAULT_HOT_BUDGET_MIB)
                .saturating_mul(MIB),
            scrub_bytes_per_s: args
                .scrub_mib_per_s
                .or(file.scrub_mib_per_s)
                .unwrap_or(DEFAULT_SCRUB_MIB_PER_S)
                .saturating_mul(MIB),
            scrub_every: std::time::Duration::try_from_secs_f64(
                args.scrub_every_hours
                    .or(file.scrub_every_hours)
                    .unwrap_or(24.0)
                    * 3600.0,
            )
            .map_err(|_| ConfigError::Invalid {
                setting: "--scrub-every-hours",
                message: "must be a positive number of hours".into(),
            })?,
            spin_us: args.spin_us.or(file.spin_us).unwrap_or(DEFAULT_SPIN_US),
            scale_window_ms: args
                .scale_window_secs
                .or(file.scale_window_secs)
                .unwrap_or(DEFAULT_SCALE_WINDOW_SECS)
                .saturating_mul(1000),
            retention_interval_ms: args
                .retention_interval_secs
                .or(file.retention_interval_secs)
                .unwrap_or(DEFAULT_RETENTION_INTERVAL_SECS)
                .saturating_mul(1000),
            metrics: args.metrics.or(file.metrics),
            data_dir,
            journal_dir,
        };
        settings.validate(&machine)?;
        Ok(settings)
    }

    fn validate(&self, machine: &Machine) -> Result<(), ConfigError> {
        let invalid = |setting, message: String| Err(ConfigError::Invalid { setting, message });
        if self.cores == 0 || self.cores > spate_wire::MAX_CORES {
            return invalid(
                "--cores",
                format!(
                    "{} is not between 1 and {}",
                    self.cores,
                    spate_wire::MAX_CORES
                ),
            );
        }
        if self.cores > machine.cores {
            return invalid(
                "--cores",
                format!("{} asked, this machine has {}", self.cores, machine.cores),
            );
        }
        if self.containers < self.cores as u32
            || self.containers as usize > spate_wire::MAX_CONTAINERS
        {
            return invalid(
                "--containers",
                format!(
                    "{} must be at least the core count and at most {}",
                    self.containers,
                    spate_wire::MAX_CONTAINERS
                ),
            );
        }
        if self.cache_bytes < 16 * MIB {
            return invalid("--cache-mib", "must be at least 16".into());
        }
        // A file holds its header block and at least one largest record
        // (a 16 MiB frame's worth).
        if self.journal_file_bytes < 32 * MIB {
            return invalid("--journal-file-mib", "must be at least 32".into());
        }
        if self.journal_files < 4 {
            // One being written, the spare, and the reserve that keeps
            // truncates and deletes possible when data fills the rest.
            return invalid("--journal-files", "must be at least 4".into());
        }
        if self.chunk_roll_bytes.is_some_and(|b| b < 4 * MIB) {
            return invalid("--chunk-roll-mib", "must be at least 4".into());
        }
        if !self.tier_dirs.is_empty() && self.chunk_roll_bytes.is_none() {
            return invalid(
                "--tier-dir",
                "the tier stores hot chunk files; it needs the flusher (drop --no-flush)".into(),
            );
        }
        let (k, m) = self.ec;
        if !self.tier_dirs.is_empty() && self.tier_dirs.len() < usize::from(k) + usize::from(m) {
            return invalid(
                "--tier-dir",
                format!(
                    "--ec {k}+{m} needs at least {} tier directories, {} given",
                    usize::from(k) + usize::from(m),
                    self.tier_dirs.len()
                ),
            );
        }
        if self.scale_window_ms == 0 {
            return invalid("--scale-window-secs", "must be at least 1".into());
        }
        if self.retention_interval_ms == 0 {
            return invalid("--retention-interval-secs", "must be at least 1".into());
        }
        if self.listen.port() != 0 && usize::from(self.listen.port()) + self.cores > 65_536 {
            return invalid(
                "--listen",
                format!("ports {}+{} run past 65535", self.listen.port(), self.cores),
            );
        }
        Ok(())
    }

    /// The address core `core` listens on.
    pub fn core_listen(&self, core: usize) -> SocketAddr {
        let mut addr = self.listen;
        if addr.port() != 0 {
            addr.set_port(addr.port() + core as u16);
        }
        addr
    }
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .expect("the default listen address parses")
}

fn read_file(path: &Path) -> Result<Args, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::ParseFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// What the machine offers, for defaults.
struct Machine {
    cores: usize,
    memory: u64,
}

impl Machine {
    fn read() -> Self {
        let mut system = sysinfo::System::new();
        system.refresh_memory();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            cores,
            memory: system.total_memory().max(64 * MIB),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_off_unless_asked_and_the_file_can_ask() {
        let dir = std::env::temp_dir().join(format!("spate-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("node.toml");
        std::fs::write(&file, "data_dir = \"/d\"\nmetrics = \"127.0.0.1:9100\"\n").expect("file");
        let from_file = Settings::resolve(Args {
            config: Some(file),
            cores: Some(1),
            ..Args::default()
        })
        .expect("valid");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(from_file.metrics, "127.0.0.1:9100".parse().ok());
        let off = Settings::resolve(Args {
            data_dir: Some("/d".into()),
            cores: Some(1),
            ..Args::default()
        })
        .expect("valid");
        assert_eq!(off.metrics, None);
    }
}
