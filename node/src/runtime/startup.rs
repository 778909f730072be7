//! One core's life: recover its journal, replay its containers, serve until
//! told to stop, drain.

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::os::fd::{FromRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use glommio::net::TcpListener;
use spate_journal::{Journal, JournalConfig};
use spate_wire::Limits;

use super::CoreEvent;
use super::core::CoreState;
use super::dispatch::{CoreContext, Forwarded};
use super::flusher;
use super::hot_files::HotFiles;
use super::metrics::{self, CoreMetrics, ScrapeInbox, Scrapers};
use super::notify::Notify;
use super::rebuild::rebuild;
use super::server::{NodeFacts, accept_loop};
use super::storage::GlommioStorage;
use super::streams::{self, ControllerSettings, StreamService};
use super::tier_service::TierHandle;
use crate::config::Settings;
use crate::container::{ContainerId, ContainerLimits};
use crate::superblock::Superblock;

/// Records the journal may hold per container mutation beyond a frame.
const RECORD_OVERHEAD: u32 = 64 << 10;
/// Mutations a core may hold waiting for journal space before connections
/// stop reading.
const UNJOURNALED_LIMIT: usize = 4096;
/// Requests that may wait in a core's inbox from other cores.
const INBOX: usize = 1024;
/// How long a stopping core waits for its journal to acknowledge what it holds.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Superblock(#[from] crate::superblock::SuperblockError),
    #[error("journal directory {path}: {source}")]
    JournalDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    DirectIo(spate_journal::direct::DirectError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("starting a core: {0}")]
    Executor(String),
    #[error("{0}")]
    Core(String),
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
    #[error("{0}")]
    Tier(String),
}

/// Everything a core needs to start, shared by all cores.
#[derive(Clone)]
pub struct Plan {
    settings: Settings,
    node_id: u128,
    containers: NonZeroU32,
    container_cores: Vec<u16>,
    ports: Vec<u16>,
    inboxes: Vec<(flume::Sender<Forwarded>, flume::Receiver<Forwarded>)>,
    /// Where each core answers metrics scrapes, and the scraper's side.
    scrape_inboxes: Vec<ScrapeInbox>,
    scrapers: Scrapers,
    tier: Option<TierHandle>,
}

/// The part of a plan that moves onto one core's thread.
pub struct CorePlan {
    settings: Settings,
    node_id: u128,
    containers: NonZeroU32,
    container_cores: Vec<u16>,
    ports: Vec<u16>,
    inboxes: Vec<flume::Sender<Forwarded>>,
    inbox: flume::Receiver<Forwarded>,
    scrapes: ScrapeInbox,
    core: usize,
    tier: Option<TierHandle>,
}

impl Plan {
    pub fn new(settings: &Settings, superblock: &Superblock, ports: Vec<u16>) -> Self {
        let cores = settings.cores;
        let container_cores = (0..superblock.containers)
            .map(|c| (c as usize % cores) as u16)
            .collect();
        let (scrapers, scrape_inboxes) = metrics::channels(cores);
        Self {
            settings: settings.clone(),
            node_id: superblock.node_id,
            containers: NonZeroU32::new(superblock.containers)
                .expect("validated: at least one container"),
            container_cores,
            ports,
            inboxes: (0..cores).map(|_| flume::bounded(INBOX)).collect(),
            scrape_inboxes,
            scrapers,
            tier: None,
        }
    }

    /// The scraper's side of every core's metrics queue.
    pub fn scrapers(&self) -> Scrapers {
        self.scrapers.clone()
    }

    /// How long an idle core polls before it sleeps in the kernel.
    pub fn spin(&self) -> Duration {
        Duration::from_micros(self.settings.spin_us)
    }

    pub fn for_core(&self, core: usize) -> CorePlan {
        CorePlan {
            settings: self.settings.clone(),
            node_id: self.node_id,
            containers: self.containers,
            container_cores: self.container_cores.clone(),
            ports: self.ports.clone(),
            inboxes: self.inboxes.iter().map(|(tx, _)| tx.clone()).collect(),
            inbox: self.inboxes[core].1.clone(),
            scrapes: self.scrape_inboxes[core].clone(),
            core,
            tier: self.tier.clone(),
        }
    }

    /// Stores closed hot chunk files in `tier`, if any.
    pub fn with_tier(mut self, tier: Option<TierHandle>) -> Self {
        self.tier = tier;
        self
    }
}

impl CorePlan {
    fn limits(&self) -> Limits {
        Limits::default()
    }

    fn journal_config(&self) -> JournalConfig {
        JournalConfig {
            journal_id: (self.node_id as u64) ^ self.core as u64,
            file_bytes: self.settings.journal_file_bytes,
            max_record_bytes: self.limits().max_frame_bytes + RECORD_OVERHEAD,
            max_files: self.settings.journal_files,
            ..JournalConfig::default()
        }
    }

    fn owned_containers(&self) -> impl Iterator<Item = ContainerId> + '_ {
        (0..self.containers.get())
            .filter(|&c| usize::from(self.container_cores[c as usize]) == self.core)
    }

    fn container_limits(&self) -> ContainerLimits {
        ContainerLimits {
            data_budget_bytes: self.settings.cache_bytes / u64::from(self.containers.get()),
            max_record_bytes: self.journal_config().max_record_bytes as usize,
            ..ContainerLimits::default()
        }
    }
}

/// A core's executor runs this until the node stops.
pub async fn core_main(
    plan: CorePlan,
    listener: RawFd,
    stop: flume::Receiver<()>,
    events: mpsc::Sender<CoreEvent>,
) {
    let core = plan.core;
    // SAFETY: the main thread bound this socket and gave up its descriptor.
    let listener = unsafe { TcpListener::from_raw_fd(listener) };
    let driver = Notify::default();
    let state = match recover(&plan, driver.clone()) {
        Ok(state) => Rc::new(RefCell::new(state)),
        Err(error) => {
            let _ = events.send(CoreEvent::StartFailed { core, error });
            let _ = events.send(CoreEvent::Stopped {
                core,
                summary: format!("core {core}: did not start"),
            });
            return;
        }
    };
    let (compact_tx, compact_rx) = flume::bounded(COMPACTIONS_QUEUED);
    let flushing = plan.settings.chunk_roll_bytes.is_some();
    let ctx = Rc::new(CoreContext {
        compactions: flushing.then_some(compact_tx),
        state: state.clone(),
        containers: plan.containers,
        container_cores: Rc::new(plan.container_cores.clone()),
        inboxes: Rc::new(plan.inboxes.clone()),
        index: core,
        streams: StreamService::new(ControllerSettings {
            scale_window_ms: plan.settings.scale_window_ms,
            retention_interval_ms: plan.settings.retention_interval_ms,
        }),
    });
    let facts = Rc::new(NodeFacts {
        node_id: plan.node_id,
        core_ports: plan.ports.clone(),
        limits: plan.limits(),
    });
    let driver_task =
        glommio::spawn_local(drive(state.clone(), driver.clone(), events.clone(), core));
    glommio::spawn_local(serve_inbox(ctx.clone(), plan.inbox.clone())).detach();
    let cache_budget =
        plan.container_limits().data_budget_bytes * state.borrow().containers_owned();
    glommio::spawn_local(metrics::answer(
        state.clone(),
        cache_budget,
        plan.scrapes.clone(),
    ))
    .detach();
    let accepting = Notify::default();
    // Its own stop signal: a `Notify` wakes one waiter, and the accept loop
    // waits on `accepting`.
    let controller_stop = Notify::default();
    let controller =
        glommio::spawn_local(streams::background(ctx.clone(), controller_stop.clone()));
    let flusher_stop = Notify::default();
    let flusher = plan.settings.chunk_roll_bytes.map(|roll_bytes| {
        let settings = flusher::FlushSettings {
            roll_bytes,
            min_run_bytes: plan.settings.flush_min_bytes,
            hot_budget_bytes: plan.settings.hot_budget_bytes / plan.settings.cores as u64,
        };
        let stop = flusher_stop.clone();
        glommio::spawn_local(flusher::run(state.clone(), settings, compact_rx, stop))
    });
    let acceptor = glommio::spawn_local(accept_loop(listener, ctx, facts, accepting.clone()));
    let _ = events.send(CoreEvent::Ready {
        core,
        summary: state.borrow().describe(),
    });
    let _ = stop.recv_async().await;
    accepting.signal();
    controller_stop.signal();
    flusher_stop.signal();
    acceptor.await;
    drop(controller);
    if let Some(flusher) = flusher {
        flusher.await;
    }
    drain(&state).await;
    let summary = state.borrow().describe();
    drop(driver_task);
    let _ = events.send(CoreEvent::Stopped { core, summary });
}

/// `CompactNow` requests a core queues for its flusher; more wait their turn.
const COMPACTIONS_QUEUED: usize = 4;

/// How often a core tries again to prepare a journal file after the disk
/// refused one.
const PREPARE_RETRY: Duration = Duration::from_millis(200);

/// Opens the journal (recovering it) and replays every record into the
/// containers this core owns.
fn recover(plan: &CorePlan, driver: Notify) -> Result<CoreState, String> {
    let dir = plan
        .settings
        .journal_dir
        .join(format!("core-{}", plan.core));
    let metrics = Rc::new(CoreMetrics::default());
    let storage = GlommioStorage::new(dir.clone(), driver.clone())
        .map_err(|e| format!("journal directory {}: {e}", dir.display()))?
        .with_metrics(metrics.clone());
    let (mut journal, recovered) = Journal::open(storage, plan.journal_config())
        .map_err(|e| format!("journal {}: {e}", dir.display()))?;
    let owned: Vec<ContainerId> = plan.owned_containers().collect();
    let containers = rebuild(&recovered, &owned, &plan.container_limits())?;
    if let Some(torn) = &recovered.torn_tail {
        tracing::warn!(
            core = plan.core,
            ?torn,
            "cut a torn journal tail (unacknowledged writes)"
        );
    }
    journal.storage_mut().start_serving();
    tracing::info!(
        core = plan.core,
        records = recovered.records.len(),
        checkpoint = recovered.checkpoint.unwrap_or(0),
        "recovered"
    );
    let mut state = CoreState::new(plan.core, containers, journal, driver, UNJOURNALED_LIMIT)
        .with_metrics(metrics);
    if plan.settings.chunk_roll_bytes.is_some() {
        let dir = plan
            .settings
            .data_dir
            .join("chunks")
            .join(format!("core-{}", plan.core));
        let files = HotFiles::open_dir(dir.clone(), plan.core, plan.tier.clone())
            .map_err(|e| format!("hot chunk directory {}: {e}", dir.display()))?;
        state = state.with_hot_files(Rc::new(files));
    }
    state.set_load_window(plan.settings.scale_window_ms);
    Ok(state)
}

/// Keeps the journal moving: submits group commits, acknowledges what became
/// durable. Reports a journal failure to the main thread.
async fn drive(
    state: Rc<RefCell<CoreState>>,
    driver: Notify,
    events: mpsc::Sender<CoreEvent>,
    core: usize,
) {
    loop {
        if !state.borrow_mut().advance() {
            let _ = events.send(CoreEvent::Fatal {
                core,
                error: "the journal failed; restart the node to recover".into(),
            });
            return;
        }
        if state.borrow().preparation_failing() {
            // A full disk: try again on a timer, not at every wake-up.
            futures_lite::future::or(driver.wait(), glommio::timer::sleep(PREPARE_RETRY)).await;
            state.borrow_mut().retry_preparation();
        } else {
            driver.wait().await;
        }
    }
}

/// Serves requests other cores forward for containers this core owns.
async fn serve_inbox(ctx: Rc<CoreContext>, inbox: flume::Receiver<Forwarded>) {
    while let Ok(forwarded) = inbox.recv_async().await {
        let ctx = ctx.clone();
        glommio::spawn_local(async move {
            let reply = ctx.serve_here(forwarded.container, forwarded.request).await;
            let _ = forwarded.reply.send_async(reply).await;
        })
        .detach();
    }
}

/// Waits (bounded) until everything appended is acknowledged.
async fn drain(state: &Rc<RefCell<CoreState>>) {
    let deadline = std::time::Instant::now() + DRAIN_LIMIT;
    while !state.borrow().is_idle()
        && !state.borrow().failed()
        && std::time::Instant::now() < deadline
    {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}
