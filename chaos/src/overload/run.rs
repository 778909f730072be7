//! The overload run: one node, the cases one after another, a report per
//! case and a last line with the totals.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::budget::{self, NodeSizes};
use super::cases::{self, Target};
use super::cli::{Args, Case};
use super::error::OverloadError;
use super::memory::{self, Bound, MIB, mib};
use super::probe::Probe;
use super::raw::RawConn;
use super::report::{Memory, print_case};
use super::watchdog::Watchdog;
use super::{names, pattern};
use crate::node::{self, NodeProcess, NodeSpec};

/// Bytes per append when the big segment is filled: the largest event, so
/// that a read of a few bytes of evicted data reads a whole 8 MiB record
/// back (the record's CRC covers all of it).
const FILL_EVENT_BYTES: usize = spate_wire::MAX_EVENT_BYTES;

/// How one case went.
#[derive(Debug)]
pub struct Verdict {
    /// The case.
    pub case: Case,
    /// Whether every check passed.
    pub passed: bool,
    /// Its peak RSS and bound.
    pub peak: u64,
    /// The bound it was held to.
    pub bound: u64,
}

/// Runs the cases `args` names; returns their verdicts.
pub fn run(args: &Args) -> Result<Vec<Verdict>, OverloadError> {
    raise_own_open_files(args.open_files)?;
    let bin = match &args.node_bin {
        Some(path) => path.clone(),
        None => node::default_bin()?,
    };
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("spate-overload-{}", std::process::id()))
    });
    let data_dir = dir.join("data");
    // The cases create their segments on an empty node: a directory left
    // from an earlier run would hold them already.
    if data_dir.exists() {
        return Err(OverloadError::Os {
            context: format!("{} exists; give a fresh --dir", data_dir.display()),
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    std::fs::create_dir_all(&data_dir).map_err(|source| OverloadError::Os {
        context: format!("creating {}", data_dir.display()),
        source,
    })?;
    let spec = NodeSpec {
        bin,
        data_dir,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        cores: args.cores,
        log: dir.join("node.log"),
        args: vec![
            "--cache-mib".into(),
            args.cache_mib.to_string(),
            "--journal-file-mib".into(),
            "32".into(),
            "--journal-files".into(),
            "16".into(),
        ],
        open_files: Some(args.open_files),
    };
    let mut node = NodeProcess::start(&spec)?;
    let pid = node.pid();
    let watchdog = Watchdog::start(pid, args.memory_cap_mib * MIB);
    let idle = memory::rss(pid)?.now;
    let mut admin = RawConn::connect(node.cores[0]).map_err(OverloadError::setup("connecting"))?;
    let hello = admin
        .handshake()
        .map_err(OverloadError::setup("the handshake"))?;
    let sizes = NodeSizes {
        cores: args.cores,
        cache_mib: args.cache_mib,
    };
    let base = budget::base(idle, sizes, &hello.limits);
    println!(
        "spate-overload: node pid {pid}, {} cores, cache {} MiB, open-file limit {}; log {}",
        args.cores,
        args.cache_mib,
        args.open_files,
        spec.log.display()
    );
    println!("base bound: {base}");
    let mut target = Target {
        cores: node.cores.clone(),
        hello,
        big: (names::big(), 0),
        rounds: args.rounds,
        patience: Duration::from_secs(args.patience_secs),
    };
    let started = Instant::now();
    target.big.1 = fill_big(&target, args.big_mib * MIB)?;
    println!(
        "filled {} with {} ({:.1} s)",
        target.big.0,
        mib(target.big.1),
        started.elapsed().as_secs_f64()
    );
    drop(admin);
    let cases: Vec<Case> = if args.cases.is_empty() {
        Case::ALL.to_vec()
    } else {
        Case::ALL
            .into_iter()
            .filter(|c| args.cases.contains(c))
            .collect()
    };
    let mut verdicts = Vec::new();
    for case in cases {
        let outcome = run_case(case, args, &target, &base, pid);
        // A node that died (or that the watchdog killed) makes the case's
        // calls fail: that is the finding, not a harness error.
        let death = match (watchdog.killed_at(), node.exited()) {
            (Some(rss), _) => Some(format!(
                "the node passed the harness's memory cap ({} > {} MiB) and was killed",
                mib(rss),
                args.memory_cap_mib
            )),
            (None, Some(status)) => Some(format!(
                "the node exited during the case ({status}); see {}",
                spec.log.display()
            )),
            (None, None) => None,
        };
        match (outcome, death) {
            (Ok(verdict), None) => verdicts.push(verdict),
            (outcome, Some(death)) => {
                if let Err(e) = outcome {
                    println!("case {}: stopped: {e}", case.name());
                }
                println!("case {}: FAIL: {death}", case.name());
                verdicts.push(Verdict {
                    case,
                    passed: false,
                    peak: watchdog.killed_at().unwrap_or(u64::MAX),
                    bound: 0,
                });
                break;
            }
            (Err(e), None) => return Err(e),
        }
    }
    let failed = verdicts.iter().any(|v| !v.passed) || verdicts.len() < args_cases(args);
    if failed || args.keep {
        println!("the run's files are kept in {}", dir.display());
    } else {
        drop(watchdog);
        drop(node);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(verdicts)
}

fn args_cases(args: &Args) -> usize {
    if args.cases.is_empty() {
        Case::ALL.len()
    } else {
        Case::ALL.iter().filter(|c| args.cases.contains(c)).count()
    }
}

/// One case: its own peak, its own probe.
fn run_case(
    case: Case,
    args: &Args,
    target: &Target,
    base: &Bound,
    pid: u32,
) -> Result<Verdict, OverloadError> {
    let started = Instant::now();
    let before = memory::rss(pid)?.now;
    memory::reset_peak(pid)?;
    let probe_segment = names::probe(case.name());
    let probe = Probe::start(target.core_of(&probe_segment), probe_segment);
    let result = match case {
        Case::IdleConnections => cases::idle::run(target, &probe, args.idle),
        Case::SlowReaders => cases::slow_readers::run(
            target,
            &probe,
            cases::slow_readers::Readers {
                pollers: args.pollers,
                ranges: args.range_readers,
                reads_each: args.reads_each,
            },
        )?,
        Case::HugeFrame => cases::huge_frame::run(target, &probe),
        Case::NeverReads => cases::unread::run(target, &probe)?,
        Case::ManySegments => cases::segments::run(target, &probe, args.segments)?,
        Case::ConnectionLimit => cases::connection_limit::run(target, &probe, 1),
    };
    let report = probe.stop(target.patience);
    // A node killed by the watchdog has no status any more: its peak is
    // unknown, and the run reports the kill.
    let after = memory::rss(pid).unwrap_or(memory::Rss {
        now: u64::MAX,
        peak: u64::MAX,
    });
    let bound = base.clone().plus_all(result.bound.clone());
    let passed =
        result.failures.is_empty() && report.failures.is_empty() && after.peak <= bound.total();
    let memory = Memory {
        before,
        after,
        base: base.total(),
        case: &result.bound,
        total: bound.total(),
    };
    print_case(case, &result, &report, &memory, started.elapsed(), passed);
    Ok(Verdict {
        case,
        passed,
        peak: after.peak,
        bound: bound.total(),
    })
}

/// Creates the big segment on its core and fills it with `bytes` of the
/// pattern; returns its length.
fn fill_big(target: &Target, bytes: u64) -> Result<u64, OverloadError> {
    let (big, _) = &target.big;
    let mut conn = RawConn::open(target.core_of(big))
        .map_err(OverloadError::setup("connecting to fill the big segment"))?;
    cases::create(&mut conn, big)?;
    let mut length = 0u64;
    let mut number = 0i64;
    while length < bytes {
        let mut payload = vec![0u8; FILL_EVENT_BYTES.min((bytes - length) as usize)];
        pattern::fill(length, &mut payload);
        length = cases::append(&mut conn, big, 2, number, payload)?;
        number += 1;
    }
    Ok(length)
}

/// Raises this process's open-file limit to `want` (within its hard limit,
/// or above it where privilege allows): the harness holds as many sockets
/// as the node.
fn raise_own_open_files(want: u64) -> Result<(), OverloadError> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit on a value on our stack.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(own_limit_error(want));
        }
        if limit.rlim_cur >= want {
            return Ok(());
        }
        limit.rlim_cur = want;
        limit.rlim_max = limit.rlim_max.max(want);
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(own_limit_error(want));
        }
    }
    Ok(())
}

fn own_limit_error(want: u64) -> OverloadError {
    OverloadError::Os {
        context: format!(
            "raising this process's open-file limit to {want} (pass a lower --open-files, or raise the hard limit)"
        ),
        source: std::io::Error::last_os_error(),
    }
}
