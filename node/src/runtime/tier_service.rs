//! The node's erasure-coded tier (`spate_tier`), served by threads of its
//! own: the library does blocking file I/O, which must never run on a
//! core. One writer thread stores and deletes (the library wants one
//! writer); eight reader threads serve reads alongside it (the library
//! reads a stripe's cells one after another, so parallel reads are what
//! keeps every directory busy). Cores talk to
//! them through bounded queues and wait for the answer asynchronously.
//!
//! At start the writer removes what interrupted stores left (orphans).
//! A scrubber thread verifies every stored object in the background, one
//! object at a time (so stores are never held up for long), at a bounded
//! rate, and logs any damage it finds (reads rebuild around it; `spate tier
//! repair` fixes it).
//!
//! What a core stores is a *closed* hot chunk file, as the object
//! `core-N/ID` (its bytes at the same offsets), so a chunk that names the
//! file extent finds its bytes in the tier once the local copy is gone.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use spate_tier::fs::real::RealDir;
use spate_tier::{CommitError, ReadError, Scope, ScrubEvent, Tier, TierConfig};

/// How the background scrubber paces itself.
#[derive(Clone, Copy, Debug)]
pub struct ScrubSettings {
    /// Shard bytes read per second at most (0: no scrubbing).
    pub bytes_per_s: u64,
    /// Pause between two passes over everything.
    pub every: Duration,
}

/// Jobs queued per kind before a core waits to queue more.
const QUEUE: usize = 64;
const READERS: usize = 8;

/// The tier's object for hot chunk file `file` of core `core`.
pub fn object_name(core: usize, file: u64) -> String {
    format!("core-{core}/{file:016x}")
}

/// The hot chunk file an object name stands for, if it is core `core`'s.
pub fn file_of(core: usize, name: &str) -> Option<u64> {
    let hex = name.strip_prefix(&format!("core-{core}/"))?;
    u64::from_str_radix(hex, 16).ok()
}

/// Why a store did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A tier directory is full: storing waits; the data stays local.
    #[error("a tier directory is full: {0}")]
    NoSpace(String),
    #[error("{0}")]
    Failed(String),
}

enum WriteJob {
    Store {
        name: String,
        offset: u64,
        data: Vec<u8>,
        reply: flume::Sender<Result<u64, StoreError>>,
    },
    Delete {
        name: String,
        reply: flume::Sender<Result<(), String>>,
    },
    /// Where each object of a core ends (what is already stored).
    List {
        core: usize,
        reply: flume::Sender<Result<Vec<(u64, u64)>, String>>,
    },
}

struct ReadJob {
    name: String,
    offset: u64,
    len: usize,
    reply: flume::Sender<Result<Vec<u8>, String>>,
}

/// A core's way to the tier (cheap to clone).
#[derive(Clone)]
pub struct TierHandle {
    writes: flume::Sender<WriteJob>,
    reads: flume::Sender<ReadJob>,
}

/// Opens the tier over `dirs` with `config` and starts its threads.
pub fn start(
    dirs: &[PathBuf],
    config: TierConfig,
    scrub: ScrubSettings,
) -> Result<TierHandle, String> {
    let real = dirs
        .iter()
        .map(|d| RealDir::new(d).map_err(|e| format!("tier directory {}: {e}", d.display())))
        .collect::<Result<Vec<_>, _>>()?;
    let tier = Tier::open(real, config).map_err(|e| format!("tier: {e}"))?;
    let tier = Arc::new(RwLock::new(tier));
    let (writes, write_jobs) = flume::bounded(QUEUE);
    let (reads, read_jobs) = flume::bounded(QUEUE);
    let writer = tier.clone();
    std::thread::Builder::new()
        .name("spate-tier-write".into())
        .spawn(move || serve_writes(&writer, &write_jobs))
        .map_err(|e| format!("starting the tier's writer: {e}"))?;
    for i in 0..READERS {
        let (reader, jobs) = (tier.clone(), read_jobs.clone());
        std::thread::Builder::new()
            .name(format!("spate-tier-read-{i}"))
            .spawn(move || serve_reads(&reader, &jobs))
            .map_err(|e| format!("starting the tier's readers: {e}"))?;
    }
    if scrub.bytes_per_s > 0 {
        let scrubbed = tier.clone();
        std::thread::Builder::new()
            .name("spate-tier-scrub".into())
            .spawn(move || scrub_forever(&scrubbed, scrub))
            .map_err(|e| format!("starting the tier's scrubber: {e}"))?;
    }
    Ok(TierHandle { writes, reads })
}

/// Passes over every object, one at a time, then waits `every`.
fn scrub_forever(tier: &RwLock<Tier<RealDir>>, settings: ScrubSettings) {
    loop {
        std::thread::sleep(settings.every);
        let (names, _) = tier.read().unwrap_or_else(|p| p.into_inner()).segments();
        let (mut stripes, mut damaged) = (0u64, 0u64);
        for name in &names {
            let tier = tier.read().unwrap_or_else(|p| p.into_inner());
            let mut observe = |event: ScrubEvent<'_>| match event {
                ScrubEvent::Stripe { .. } => stripes += 1,
                ScrubEvent::Damage(damage) => {
                    damaged += 1;
                    tracing::warn!(object = %name, %damage, "scrub found damage; reads rebuild around it, `spate tier repair` fixes it");
                }
                ScrubEvent::Unrecoverable { stripe, .. } => {
                    damaged += 1;
                    tracing::error!(object = %name, stripe, "scrub found a stripe damaged past its parity");
                }
            };
            let scope = Scope::Segment(name);
            if let Err(error) = tier.scrub(scope, Some(settings.bytes_per_s), &mut observe) {
                tracing::warn!(object = %name, %error, "scrubbing an object failed");
            }
        }
        tracing::info!(
            objects = names.len(),
            stripes,
            damaged,
            "tier scrub pass done"
        );
    }
}

impl TierHandle {
    /// Stores `data` as object `name` from `offset` (where it ends now).
    /// Returns where the object ends after.
    pub async fn store(&self, name: String, offset: u64, data: Vec<u8>) -> Result<u64, StoreError> {
        let job = |reply| WriteJob::Store {
            name,
            offset,
            data,
            reply,
        };
        self.ask_writer(job).await.map_err(StoreError::Failed)?
    }

    pub async fn delete(&self, name: String) -> Result<(), String> {
        self.ask_writer(|reply| WriteJob::Delete { name, reply })
            .await?
    }

    /// Core `core`'s objects: (file, bytes stored).
    pub async fn list(&self, core: usize) -> Result<Vec<(u64, u64)>, String> {
        self.ask_writer(|reply| WriteJob::List { core, reply })
            .await?
    }

    /// Queues a job for the writer and waits for its answer.
    async fn ask_writer<T>(
        &self,
        job: impl FnOnce(flume::Sender<T>) -> WriteJob,
    ) -> Result<T, String> {
        let (reply, answer) = flume::bounded(1);
        const STOPPED: &str = "the tier's writer stopped";
        let sent = self.writes.send_async(job(reply)).await;
        sent.map_err(|_| STOPPED.to_string())?;
        answer.recv_async().await.map_err(|_| STOPPED.to_string())
    }

    /// `len` bytes of object `name` at `offset`, every byte verified (or
    /// reconstructed from verified cells), or an error and no bytes.
    pub async fn read(&self, name: String, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        let (reply, answer) = flume::bounded(1);
        let job = ReadJob {
            name,
            offset,
            len,
            reply,
        };
        self.reads
            .send_async(job)
            .await
            .map_err(|_| "the tier's readers stopped".to_string())?;
        answer
            .recv_async()
            .await
            .map_err(|_| "the tier's readers stopped".to_string())?
    }
}

fn serve_writes(tier: &RwLock<Tier<RealDir>>, jobs: &flume::Receiver<WriteJob>) {
    collect_orphans(tier);
    while let Ok(job) = jobs.recv() {
        let mut tier = tier.write().unwrap_or_else(|p| p.into_inner());
        match job {
            WriteJob::Store {
                name,
                offset,
                data,
                reply,
            } => {
                let stored =
                    tier.append(&name, offset, &data)
                        .map(|r| r.end)
                        .map_err(|e| match e {
                            CommitError::NoSpace(fs) => StoreError::NoSpace(fs.to_string()),
                            other => StoreError::Failed(other.to_string()),
                        });
                let _ = reply.send(stored);
            }
            WriteJob::Delete { name, reply } => {
                let _ = reply.send(tier.delete(&name).map(drop).map_err(|e| e.to_string()));
            }
            WriteJob::List { core, reply } => {
                let (names, damage) = tier.segments();
                for d in damage {
                    tracing::warn!(?d, "tier manifest damage found while listing");
                }
                let listed = names
                    .iter()
                    .filter_map(|name| {
                        let file = file_of(core, name)?;
                        let manifest = tier.manifest(name).ok().flatten()?;
                        (!manifest.deleted).then_some((file, manifest.end))
                    })
                    .collect();
                let _ = reply.send(Ok(listed));
            }
        }
    }
}

/// Removes what a store that a crash interrupted left behind (shards and
/// temporary files no manifest names), before anything new is stored.
fn collect_orphans(tier: &RwLock<Tier<RealDir>>) {
    let report = tier
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .collect_orphans();
    if report.removed > 0 || report.failed > 0 || !report.unlisted_dirs.is_empty() {
        tracing::info!(
            removed = report.removed,
            failed = report.failed,
            kept_unsure = report.kept_unsure,
            unlisted_dirs = ?report.unlisted_dirs,
            "collected the tier's orphans (stores a stop interrupted)"
        );
    }
}

fn serve_reads(tier: &RwLock<Tier<RealDir>>, jobs: &flume::Receiver<ReadJob>) {
    while let Ok(job) = jobs.recv() {
        let tier = tier.read().unwrap_or_else(|p| p.into_inner());
        let read = match tier.read(&job.name, job.offset, job.len) {
            Ok(outcome) => {
                for damage in &outcome.damage {
                    tracing::warn!(object = %job.name, %damage, "tier read met damage and reconstructed around it; run `spate tier repair`");
                }
                Ok(outcome.data)
            }
            Err(error) => {
                if matches!(error, ReadError::Unrecoverable { .. }) {
                    tracing::error!(object = %job.name, %error, "tier data is damaged past its parity");
                }
                Err(error.to_string())
            }
        };
        let _ = job.reply.send(read);
    }
}
