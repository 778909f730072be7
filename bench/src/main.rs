//! `spate-bench`: Spate's load generator.
//!
//! Every run measures the device floor of its directory first, with the
//! journal's own I/O path, and reports its figures as ratios of it.

mod append;
mod compare;
mod driver;
mod floor;
mod harness;
mod html;
mod pacing;
mod progress;
mod read;
mod report;
mod spec;
mod stamp;
mod stats;
mod tally;
mod txn;
mod workload;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use spate_journal::direct::{DirectOptions, DirectStorage, FloorOptions, RingFlags, SyncMode};
use spate_journal::{Journal, JournalConfig};

use floor::FloorReport;
use report::{Report, RunConfig};
use workload::{Mode, WorkloadOptions};

/// At max rate the harness allocates a few small objects per event on one
/// thread and frees them on another; glibc's malloc was a quarter of the
/// bench's CPU there, and the bench's CPU is what a run on one machine
/// shares with the system under test. The same allocator serves every
/// driver.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "spate-bench",
    version,
    about = "Spate's load generator and device probe"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Journal latency (open loop) or throughput on DIR, with the device floor of DIR.
    Journal(JournalArgs),
    /// Only the device floor of DIR.
    Floor(CommonArgs),
    /// A workload against one system (--driver spate|redis|nats), open
    /// loop at its rate (or as fast as acknowledged at --rate max), with the
    /// device floor of --floor-dir.
    Append(append::AppendArgs),
    /// The same workload on several systems in turn, in one table.
    Compare(compare::CompareArgs),
    /// Reads through a reader group: at the tail while writing at --rate
    /// (latency from intended send to delivery, beside the ack latency), or
    /// --from-start (catch-up MB/s against the floor's sequential read).
    Read(read::ReadArgs),
    /// Transactions on a stream, open loop at --rate transactions/s:
    /// begin, --txn-events writes, commit; latency from each transaction's
    /// intended start to its commit, beside the commit call alone.
    Txn(txn::TxnArgs),
    /// The built-in workloads (--show NAME prints one as TOML).
    Workloads(WorkloadsArgs),
}

#[derive(Args)]
struct WorkloadsArgs {
    /// Print this built-in workload as TOML (a start for a file of one's own).
    #[arg(long, value_name = "NAME")]
    show: Option<String>,
    /// One JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CommonArgs {
    /// Directory on the device under test (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// Print one JSON object on stdout instead of a summary.
    #[arg(long)]
    json: bool,
    /// Floor latency samples per sync mode.
    #[arg(long, default_value_t = 2000)]
    floor_samples: usize,
    /// Most MiB the floor's sequential write and read move.
    #[arg(long, default_value_t = 512)]
    floor_seq_mib: u64,
    /// io_uring taskrun flags.
    #[arg(long, value_enum, default_value_t = RingArg::Coop)]
    ring: RingArg,
}

#[derive(Args)]
struct JournalArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds run before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    #[arg(long, value_enum, default_value_t = Mode::Latency)]
    mode: Mode,
    /// Payload bytes per record.
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Events per second offered in latency mode.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// How writes become durable; `auto` takes the faster floor of this run.
    #[arg(long, value_enum, default_value_t = SyncArg::Auto)]
    sync: SyncArg,
    /// Size of each journal file.
    #[arg(long, default_value_t = 128)]
    file_mib: u64,
    #[arg(long, default_value_t = 16)]
    max_files: u32,
    /// Group-commit write size bound.
    #[arg(long, default_value_t = 1024)]
    max_write_kib: u32,
    #[arg(long, default_value_t = 4)]
    writes_in_flight: u16,
    /// Payload MiB between checkpoints (files below a durable one recycle).
    #[arg(long, default_value_t = 64)]
    checkpoint_mib: u64,
    /// One progress line per second on stderr.
    #[arg(long)]
    progress: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SyncArg {
    Dsync,
    Fdatasync,
    Auto,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RingArg {
    /// No taskrun flags.
    None,
    /// COOP_TASKRUN + TASKRUN_FLAG.
    Coop,
    /// COOP_TASKRUN + SINGLE_ISSUER + DEFER_TASKRUN.
    Defer,
}

impl RingArg {
    fn flags(self) -> RingFlags {
        RingFlags {
            coop_taskrun: self != Self::None,
            defer_taskrun: self == Self::Defer,
        }
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Journal(args) => journal(&args),
        Command::Append(args) => append::main(&args),
        Command::Compare(args) => compare::main(&args),
        Command::Read(args) => read::main(&args),
        Command::Txn(args) => txn::main(&args),
        Command::Workloads(args) => workloads(&args),
        Command::Floor(args) => {
            let floor = measure_floor(&args)?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string(&serde_json::json!({ "floor": floor }))?
                );
            } else {
                println!("{}", floor.human());
            }
            Ok(())
        }
    }
}

fn measure_floor(args: &CommonArgs) -> anyhow::Result<FloorReport> {
    fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let opts = FloorOptions {
        latency_samples: args.floor_samples,
        seq_bytes: args.floor_seq_mib << 20,
        ring_flags: args.ring.flags(),
        ..FloorOptions::default()
    };
    FloorReport::measure(&args.dir, &opts)
}

fn workloads(args: &WorkloadsArgs) -> anyhow::Result<()> {
    if let Some(name) = &args.show {
        let Some((_, text)) = spec::BUILTINS.iter().find(|(n, _)| n == name) else {
            bail!("no built-in workload {name:?} (spate-bench workloads lists them)");
        };
        print!("{text}");
        return Ok(());
    }
    let all = spec::BUILTINS
        .iter()
        .map(|(name, _)| spec::Workload::builtin(name).unwrap_or_else(|| bail!("{name}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.json {
        println!("{}", serde_json::to_string(&all)?);
        return Ok(());
    }
    println!(
        "{:<20} {:>9} {:>8} {:>22} {:>8} {:>8} {:>12} {:>10}  description",
        "name",
        "producers",
        "segments",
        "event bytes",
        "rate",
        "seconds",
        "consumers",
        "txn events"
    );
    for w in &all {
        println!(
            "{:<20} {:>9} {:>8} {:>22} {:>8} {:>8} {:>12} {:>10}  {}",
            w.name,
            w.producers,
            w.segments,
            w.event_bytes.to_string(),
            match w.rate_per_s() {
                Some(r) => r.to_string(),
                None => "max".into(),
            },
            w.seconds,
            match w.consumers {
                0 => "-".to_string(),
                n => format!("{n} {}", w.consumer_mode.name()),
            },
            match w.txn_events {
                0 => "-".to_string(),
                n => n.to_string(),
            },
            w.description
        );
    }
    println!(
        "\nRun one with --workload NAME; flags override its fields (spate-bench append --help)."
    );
    Ok(())
}

fn journal(args: &JournalArgs) -> anyhow::Result<()> {
    let mut floor = measure_floor(&args.common)?;
    let sync = match args.sync {
        SyncArg::Dsync => SyncMode::Dsync,
        SyncArg::Fdatasync => SyncMode::Fdatasync,
        SyncArg::Auto => floor.faster_sync(),
    };
    if args.mode == Mode::Latency {
        // At most two seconds of paced writes.
        let samples = args
            .common
            .floor_samples
            .min((args.rate * 2.0) as usize)
            .max(10);
        let flags = args.common.ring.flags();
        floor.measure_paced(&args.common.dir, sync, args.rate, samples, flags)?;
    }
    let journal_dir = FreshDir::create(args.common.dir.join("journal"))?;
    let options = DirectOptions {
        sync,
        ring_flags: args.common.ring.flags(),
        ..Default::default()
    };
    let storage = DirectStorage::open(&journal_dir.0, options)?;
    let ring = storage.ring_flags();
    let config = journal_config(args)?;
    let workload = WorkloadOptions {
        mode: args.mode,
        seconds: args.seconds,
        warmup: args.warmup,
        record_bytes: args.record_bytes,
        rate: args.rate,
        checkpoint_bytes: checkpoint_bytes(args, &config),
        progress: args.progress,
    };
    let (mut journal, _) = Journal::open(storage, config.clone()).context("opening the journal")?;
    let measured = workload::run(&mut journal, &workload)?;
    drop(journal);
    let run_config = RunConfig {
        mode: args.mode,
        record_bytes: args.record_bytes,
        sync: sync.name(),
        sync_requested: match args.sync {
            SyncArg::Auto => "auto",
            _ => sync.name(),
        },
        rate: (args.mode == Mode::Latency).then_some(args.rate),
        warmup_s: args.warmup,
        file_bytes: config.file_bytes,
        max_files: config.max_files,
        max_write_bytes: config.max_write_bytes,
        max_writes_in_flight: config.max_writes_in_flight,
        checkpoint_bytes: workload.checkpoint_bytes,
        coop_taskrun: ring.coop_taskrun,
        defer_taskrun: ring.defer_taskrun,
        dir: args.common.dir.display().to_string(),
    };
    let report = Report::new(&measured, floor, sync, run_config);
    if args.common.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.human());
    }
    Ok(())
}

fn journal_config(args: &JournalArgs) -> anyhow::Result<JournalConfig> {
    let config = JournalConfig {
        journal_id: u64::from(std::process::id()),
        file_bytes: args.file_mib << 20,
        max_record_bytes: u32::try_from(args.record_bytes.max(4096)).context("--record-bytes")?,
        max_write_bytes: args.max_write_kib << 10,
        max_writes_in_flight: args.writes_in_flight,
        max_files: args.max_files,
        ..JournalConfig::default()
    };
    config.validate()?;
    Ok(config)
}

/// Checkpoints come often enough that released files recycle well before the
/// journal runs out of them.
fn checkpoint_bytes(args: &JournalArgs, config: &JournalConfig) -> u64 {
    let capacity = config.file_bytes * u64::from(config.max_files);
    (args.checkpoint_mib << 20).min(capacity / 4).max(1)
}

/// A directory this run creates and removes when done. It refuses to reuse a
/// non-empty one: that could be someone's data.
struct FreshDir(PathBuf);

impl FreshDir {
    fn create(path: PathBuf) -> anyhow::Result<Self> {
        if is_non_empty_dir(&path)? {
            bail!(
                "{} exists and is not empty; remove it or pick another --dir",
                path.display()
            );
        }
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for FreshDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            eprintln!("warning: could not remove {}: {e}", self.0.display());
        }
    }
}

fn is_non_empty_dir(path: &Path) -> anyhow::Result<bool> {
    match fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
