//! Running the node: one pinned glommio executor per core. The only module
//! that knows about glommio.
//!
//! Start-up, in order: the superblock, an O_DIRECT check of the journal
//! directory, every listening socket bound (so a port in use fails before
//! anything starts), then each core recovers its journal and replays its
//! containers before it serves. The main thread waits for SIGINT or SIGTERM
//! (or a core's fatal error), then stops every core: stop accepting, let the
//! journal acknowledge what it holds, close.

mod checkpoint;
mod core;
mod dispatch;
mod flusher;
mod hot_files;
mod load;
mod metrics;
mod notify;
#[cfg(test)]
mod power_cuts;
mod readback;
mod rebuild;
mod recent;
mod server;
mod signals;
mod startup;
mod storage;
mod streams;
mod tier_service;

use std::net::TcpListener as StdListener;
use std::os::fd::IntoRawFd;
use std::sync::mpsc;

use glommio::{LocalExecutorBuilder, Placement};

use crate::config::Settings;
use crate::superblock::Superblock;
pub use startup::StartError;

/// Why the node stopped, for the exit code.
pub enum Stopped {
    /// A signal asked for it.
    Asked,
    /// A core hit a fatal error (its journal failed).
    Fatal(String),
}

/// Messages from cores to the main thread.
pub(crate) enum CoreEvent {
    Ready {
        core: usize,
        summary: String,
    },
    StartFailed {
        core: usize,
        error: String,
    },
    Fatal {
        core: usize,
        error: String,
    },
    Stopped {
        core: usize,
        summary: String,
    },
    /// SIGINT or SIGTERM arrived.
    Signal,
}

/// The node's tier, if it has directories; says which way it goes.
fn start_tier(settings: &Settings) -> Result<Option<tier_service::TierHandle>, StartError> {
    if settings.chunk_roll_bytes.is_none() {
        tracing::info!("--no-flush: all data stays in the journal");
        return Ok(None);
    }
    if settings.tier_dirs.is_empty() {
        tracing::info!(
            "no --tier-dir: flushed data stays in hot chunk files on the data disk (not erasure-coded)"
        );
        return Ok(None);
    }
    let (k, m) = settings.ec;
    let config = spate_tier::TierConfig {
        k,
        m,
        ..spate_tier::TierConfig::default()
    };
    let scrub = tier_service::ScrubSettings {
        bytes_per_s: settings.scrub_bytes_per_s,
        every: settings.scrub_every,
    };
    let tier = tier_service::start(&settings.tier_dirs, config, scrub).map_err(StartError::Tier)?;
    tracing::info!(
        dirs = settings.tier_dirs.len(),
        ec = %format!("{k}+{m}"),
        "closed hot chunk files go to the erasure-coded tier"
    );
    Ok(Some(tier))
}

pub fn run(settings: Settings) -> Result<Stopped, StartError> {
    let superblock =
        Superblock::load_or_init(&settings.data_dir, settings.cores, settings.containers)?;
    check_journal_dir(&settings)?;
    let started = std::time::Instant::now();
    let listeners = bind_all(&settings)?;
    let metrics_listener = settings.metrics.map(metrics::bind).transpose()?;
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().map_or(0, |a| a.port()))
        .collect();
    signals::block_termination_signals();
    let (events, inbox) = mpsc::channel();
    let tier = start_tier(&settings)?;
    let plan = startup::Plan::new(&settings, &superblock, ports.clone()).with_tier(tier);
    let (stops, handles) = spawn_cores(&plan, listeners, &events)?;
    let waiting = wait_until_ready(&inbox, settings.cores)?;
    if let Some(error) = waiting {
        stops.iter().for_each(|s| {
            let _ = s.send(());
        });
        join(handles);
        return Err(StartError::Core(error));
    }
    for (core, port) in ports.iter().enumerate() {
        let mut addr = settings.listen;
        addr.set_port(*port);
        println!("spate-node: core {core} listening on {addr}");
    }
    if let Some(listener) = metrics_listener {
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: settings.metrics.unwrap_or(settings.listen),
            source,
        })?;
        let watched = metrics::Watched {
            dirs: vec![
                ("data", settings.data_dir.clone()),
                ("journal", settings.journal_dir.clone()),
            ],
        };
        metrics::spawn(listener, plan.scrapers(), watched, started)?;
        println!("spate-node: metrics on http://{addr}/metrics");
    }
    signals::forward_to(events);
    let stopped = wait_for_stop(&inbox);
    tracing::info!("stopping: draining every core");
    stops.iter().for_each(|s| {
        let _ = s.send(());
    });
    let mut reported = 0;
    while reported < settings.cores {
        match inbox.recv() {
            Ok(CoreEvent::Stopped { core, summary }) => {
                tracing::info!(core, "stopped: {summary}");
                reported += 1;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    join(handles);
    Ok(stopped)
}

fn check_journal_dir(settings: &Settings) -> Result<(), StartError> {
    std::fs::create_dir_all(&settings.journal_dir).map_err(|source| StartError::JournalDir {
        path: settings.journal_dir.clone(),
        source,
    })?;
    spate_journal::direct::probe_direct_io(&settings.journal_dir).map_err(StartError::DirectIo)
}

fn bind_all(settings: &Settings) -> Result<Vec<StdListener>, StartError> {
    (0..settings.cores)
        .map(|core| bind(settings.core_listen(core)))
        .collect()
}

/// How long a port held by something else is tried again before giving up.
const BIND_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Binds `addr`. A node killed a moment ago can still hold its port: its
/// io_uring is torn down after the process exits, and a pending accept keeps
/// the listening socket open until then. So a port in use is tried again
/// for a few seconds before it is reported.
fn bind(addr: std::net::SocketAddr) -> Result<StdListener, StartError> {
    let deadline = std::time::Instant::now() + BIND_PATIENCE;
    loop {
        match StdListener::bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(source) => return Err(StartError::Bind { addr, source }),
        }
    }
}

type Spawned = (Vec<flume::Sender<()>>, Vec<glommio::ExecutorJoinHandle<()>>);

fn spawn_cores(
    plan: &startup::Plan,
    listeners: Vec<StdListener>,
    events: &mpsc::Sender<CoreEvent>,
) -> Result<Spawned, StartError> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let (mut stops, mut handles) = (Vec::new(), Vec::new());
    for (core, listener) in listeners.into_iter().enumerate() {
        let (stop, stopped) = flume::bounded(1);
        let fd = listener.into_raw_fd();
        let (core_plan, events) = (plan.for_core(core), events.clone());
        let handle = LocalExecutorBuilder::new(Placement::Fixed(core % cpus))
            .name(&format!("spate-core-{core}"))
            .spin_before_park(plan.spin())
            .spawn(move || startup::core_main(core_plan, fd, stopped, events))
            .map_err(|e| StartError::Executor(e.to_string()))?;
        stops.push(stop);
        handles.push(handle);
    }
    Ok((stops, handles))
}

/// Waits until every core is ready; returns the first start-up error.
fn wait_until_ready(
    inbox: &mpsc::Receiver<CoreEvent>,
    cores: usize,
) -> Result<Option<String>, StartError> {
    let mut ready = 0;
    while ready < cores {
        match inbox.recv() {
            Ok(CoreEvent::Ready { core, summary }) => {
                tracing::info!(core, "ready: {summary}");
                ready += 1;
            }
            Ok(CoreEvent::StartFailed { core, error }) => {
                return Ok(Some(format!("core {core}: {error}")));
            }
            Ok(CoreEvent::Fatal { core, error }) => {
                return Ok(Some(format!("core {core}: {error}")));
            }
            Ok(CoreEvent::Stopped { .. } | CoreEvent::Signal) => {}
            Err(_) => {
                return Err(StartError::Core(
                    "every core stopped before it was ready".into(),
                ));
            }
        }
    }
    Ok(None)
}

fn wait_for_stop(inbox: &mpsc::Receiver<CoreEvent>) -> Stopped {
    loop {
        match inbox.recv() {
            Ok(CoreEvent::Fatal { core, error }) => {
                tracing::error!(core, "{error}");
                return Stopped::Fatal(format!("core {core}: {error}"));
            }
            Ok(CoreEvent::Signal) => {
                tracing::info!("signal received");
                return Stopped::Asked;
            }
            Ok(_) => {}
            Err(_) => return Stopped::Asked,
        }
    }
}

fn join(handles: Vec<glommio::ExecutorJoinHandle<()>>) {
    for handle in handles {
        if handle.join().is_err() {
            tracing::error!("a core's executor ended with an error");
        }
    }
}
