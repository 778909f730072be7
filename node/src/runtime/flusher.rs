//! The flusher: per core, moves durable segment data out of the journal
//! into hot chunk files, so the journal holds minutes of data rather than
//! everything still alive, and reads of history come from large
//! contiguous extents.
//!
//! Each round takes runs of neighbouring chunks still named by journal
//! records, the run holding back the oldest record first; writes each run
//! to its segment's current hot chunk file (a fresh block, `O_DSYNC`:
//! durable when the write completes); then switches the run's chunks to
//! the file. The next checkpoint records the switch, and only then does
//! the journal release the records: a crash in between recovers the old
//! checkpoint, whose chunks still name journal records the journal kept,
//! and the file's bytes are garbage that the collection removes.
//!
//! Small runs wait for more data (a file extent per tiny append would make
//! reads of history small), unless the journal is short of room: then
//! everything goes.
//!
//! With a tier, each closed file (rolled, or its segment sealed and fully
//! flushed) is stored there in pieces, and once whole, its local copy may
//! go: when the core's local files pass its share of `--hot-budget-mib`
//! (oldest first), or at once on `CompactNow { drop_hot }`. A full tier
//! directory makes storing wait (and say so); the data stays local.
//!
//! Files no chunk names any more (their data truncated, deleted, or never
//! switched to) are deleted. That is safe even before a checkpoint records
//! the change: a chunk stops naming a file only through a durable
//! mutation, which recovery replays.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use spate_journal::Storage;

use super::core::CoreState;
use super::hot_files::HotFiles;
use super::notify::Notify;
use super::readback;
use super::tier_service::StoreError;
use crate::container::{ContainerId, FlushRun, HotData, Piece, ReadPlan};

/// How the flusher sizes its work.
#[derive(Clone, Copy, Debug)]
pub struct FlushSettings {
    /// A segment's hot chunk file is closed (rolled) once it holds this.
    pub roll_bytes: u64,
    /// Shorter runs wait for more data while the journal has room.
    pub min_run_bytes: u64,
    /// Local bytes of files the tier holds whole that this core keeps.
    pub hot_budget_bytes: u64,
}

/// A `CompactNow` for this core's flusher.
pub struct CompactJob {
    pub drop_hot: bool,
    pub reply: flume::Sender<spate_wire::CompactedNow>,
}

/// Bytes of a closed file stored in the tier per commit: several stripes,
/// because each commit rewrites the object's manifest in every directory
/// and syncs them (`docs/tier.md`).
const STORE_PIECE_BYTES: u64 = 16 << 20;

/// The longest run written at once: a read of any part of it reads all of
/// it (its CRC covers the whole), so it is also the read-back unit.
const MAX_RUN_BYTES: u64 = 2 << 20;
/// Bytes flushed per round before the core looks at other work.
const ROUND_BYTES: u64 = 64 << 20;
const TICK: Duration = Duration::from_millis(10);
const COLLECT_EVERY: Duration = Duration::from_secs(1);
/// After a failed write, the flusher waits this long before trying again
/// (the data is safe in the journal meanwhile).
const FAILURE_PAUSE: Duration = Duration::from_secs(1);

/// One run to flush, with where its bytes are now.
struct Candidate {
    container: ContainerId,
    segment: String,
    run: FlushRun,
    pieces: Vec<Piece>,
}

/// Runs the flusher of one core until `stop`.
pub async fn run(
    state: Rc<RefCell<CoreState>>,
    settings: FlushSettings,
    compactions: flume::Receiver<CompactJob>,
    stop: Notify,
) {
    let Some(files) = state.borrow().hot_files() else {
        return;
    };
    // New files never take the id of one a chunk names (local or stored).
    for file in state.borrow().hot_files_named() {
        files.ids_after(file);
    }
    let mut flusher = Flusher {
        state,
        files,
        settings,
        writing: HashMap::new(),
        last_collect: Instant::now(),
        tier_full: false,
        tier_listed: false,
        idle_at: None,
    };
    flusher.list_tier().await;
    loop {
        let stopped = futures_lite::future::or(
            async {
                glommio::timer::sleep(TICK).await;
                false
            },
            async {
                stop.wait().await;
                true
            },
        )
        .await;
        if stopped {
            return;
        }
        if let Err(error) = flusher.round().await {
            tracing::warn!(core = flusher.state.borrow().index, %error, "flushing failed; the data stays in the journal and the flusher retries");
            glommio::timer::sleep(FAILURE_PAUSE).await;
        }
        if let Ok(job) = compactions.try_recv() {
            let done = flusher.compact(job.drop_hot).await;
            let _ = job.reply.send_async(done).await;
        }
        if flusher.last_collect.elapsed() >= COLLECT_EVERY {
            flusher.collect().await;
            if let Err(error) = flusher.store_closed(false).await {
                tracing::warn!(%error, "storing hot chunk files in the tier failed; retrying");
            }
            flusher.last_collect = Instant::now();
        }
    }
}

struct Flusher {
    state: Rc<RefCell<CoreState>>,
    files: Rc<HotFiles>,
    settings: FlushSettings,
    /// Each segment's current file and the bytes written to it.
    writing: HashMap<String, (u64, u64)>,
    last_collect: Instant,
    /// A tier directory was full at the last try (said once).
    tier_full: bool,
    /// The journal's durable LSN and the run minimum of the last scan that
    /// found nothing to flush.
    idle_at: Option<(u64, u64)>,
    /// Whether the tier's objects of this core are known (until they are,
    /// nothing is stored, dropped or collected: an object could be missed).
    tier_listed: bool,
}

/// What one `store_closed` did.
#[derive(Default)]
struct Stored {
    bytes: u64,
    dropped: u64,
}

impl Flusher {
    async fn round(&mut self) -> Result<(), String> {
        self.round_of(None).await.map(drop)
    }

    /// One round; `min` overrides the run minimum. Returns the bytes moved.
    async fn round_of(&mut self, min: Option<u64>) -> Result<u64, String> {
        let mut flushed = 0;
        while flushed < ROUND_BYTES {
            let min = match min {
                Some(min) => min,
                None if self.state.borrow().journal_pressed() => 0,
                None => self.settings.min_run_bytes,
            };
            // Nothing became durable since a scan with this minimum found
            // nothing: no run can have appeared. Saves walking every segment
            // every tick on an idle core.
            let durable = self.state.borrow().durable_lsn();
            if self.idle_at == Some((durable, min)) {
                break;
            }
            let Some(candidate) = self.state.borrow().next_flush(min, MAX_RUN_BYTES) else {
                self.idle_at = Some((durable, min));
                break;
            };
            flushed += self.flush(candidate).await?;
        }
        if flushed > 0 {
            self.state.borrow_mut().flushed(flushed);
        }
        Ok(flushed)
    }

    /// `CompactNow`: flush everything durable, close every file, store the
    /// closed ones and, with `drop_hot`, drop the local copies stored.
    async fn compact(&mut self, drop_hot: bool) -> spate_wire::CompactedNow {
        let mut flushed = 0;
        loop {
            match self.round_of(Some(0)).await {
                Ok(0) => break,
                Ok(bytes) => flushed += bytes,
                Err(error) => {
                    tracing::warn!(%error, "flushing for CompactNow failed");
                    break;
                }
            }
        }
        self.writing.clear();
        self.state.borrow_mut().ask_checkpoint();
        self.collect().await;
        let stored = match self.store_closed(drop_hot).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "storing for CompactNow failed");
                Stored::default()
            }
        };
        spate_wire::CompactedNow {
            flushed_bytes: flushed,
            tiered_bytes: stored.bytes,
            dropped_files: stored.dropped,
            has_tier: self.files.tier().is_some(),
        }
    }

    /// Learns what the tier holds of this core's files (no tier: nothing).
    async fn list_tier(&mut self) {
        if self.tier_listed || self.files.tier().is_none() {
            self.tier_listed = true;
            return;
        }
        match self.files.load_stored().await {
            Ok(()) => self.tier_listed = true,
            Err(error) => {
                tracing::warn!(%error, "cannot list the tier's objects yet; storing and collection wait")
            }
        }
    }

    /// Stores every closed, named local file in the tier, then drops the
    /// local copies of stored files the budget (or `drop_all`) lets go.
    async fn store_closed(&mut self, drop_all: bool) -> Result<Stored, String> {
        let mut done = Stored::default();
        let Some(tier) = self.files.tier().cloned() else {
            return Ok(done);
        };
        self.list_tier().await;
        if !self.tier_listed {
            return Ok(done);
        }
        let named = self.state.borrow().hot_files_named();
        let open: HashSet<u64> = self.writing.values().map(|&(file, _)| file).collect();
        let core = self.state.borrow().index;
        let mut local = Vec::new();
        for file in self.files.on_disk() {
            let len = self
                .files
                .local_len(file)
                .map_err(|e| format!("hot chunk file {file}: {e}"))?;
            local.push((file, len));
            if !named.contains(&file) || open.contains(&file) {
                continue;
            }
            let mut stored = self.files.stored(file);
            while stored < len {
                let piece = STORE_PIECE_BYTES.min(len - stored);
                let data = self
                    .files
                    .read_raw(file, stored, piece as usize)
                    .await
                    .map_err(|e| format!("reading hot chunk file {file}: {e}"))?;
                let name = super::tier_service::object_name(core, file);
                match tier.store(name, stored, data).await {
                    Ok(end) => {
                        done.bytes += end - stored;
                        stored = end;
                        self.files.set_stored(file, end);
                        self.tier_full = false;
                    }
                    Err(StoreError::NoSpace(reason)) => {
                        if !std::mem::replace(&mut self.tier_full, true) {
                            tracing::warn!(%reason, "a tier directory is full: storing waits, the data stays in hot chunk files");
                        }
                        return Ok(done);
                    }
                    Err(StoreError::Failed(reason)) => return Err(reason),
                }
            }
        }
        done.dropped = self.drop_stored(&local, &open, drop_all).await?;
        Ok(done)
    }

    /// Drops local copies of files the tier holds whole, oldest first,
    /// while the local files pass the budget (all of them if `drop_all`).
    async fn drop_stored(
        &mut self,
        local: &[(u64, u64)],
        open: &HashSet<u64>,
        drop_all: bool,
    ) -> Result<u64, String> {
        let mut total: u64 = local.iter().map(|&(_, len)| len).sum();
        let mut dropped = 0;
        for &(file, len) in local {
            if !drop_all && total <= self.settings.hot_budget_bytes {
                break;
            }
            if open.contains(&file) || self.files.stored(file) < len || len == 0 {
                continue;
            }
            self.files
                .drop_local(file)
                .await
                .map_err(|e| format!("dropping hot chunk file {file}: {e}"))?;
            total -= len;
            dropped += 1;
        }
        Ok(dropped)
    }

    /// Writes one run to its segment's file and switches its chunks there.
    async fn flush(&mut self, candidate: Candidate) -> Result<u64, String> {
        let data = self.bytes_of(&candidate).await?;
        let (file, offset) = self.file_for(&candidate.segment, data.len() as u64).await?;
        let taken = self
            .files
            .write(file, offset, &data)
            .await
            .map_err(|e| format!("writing hot chunk file {file}: {e}"))?;
        if let Some(at) = self.writing.get_mut(&candidate.segment) {
            at.1 += taken;
        }
        let hot = HotData {
            file,
            file_offset: offset,
            len: u32::try_from(data.len()).map_err(|_| "a run over 4 GiB".to_string())?,
            crc: crc32c::crc32c(&data),
        };
        let len = data.len() as u64;
        let switched = self.state.borrow_mut().mark_flushed(
            candidate.container,
            &candidate.segment,
            &candidate.run,
            hot,
            Bytes::from(data),
        );
        if !switched {
            tracing::debug!(segment = %candidate.segment, "a run changed while it was flushed; its copy is dropped");
        }
        Ok(len)
    }

    /// The run's bytes: from memory, or read back from the journal.
    async fn bytes_of(&self, candidate: &Candidate) -> Result<Vec<u8>, String> {
        if let Some(bytes) = crate::container::resident_bytes(&candidate.pieces) {
            return Ok(bytes);
        }
        let plan = ReadPlan {
            offset: candidate.run.offset,
            pieces: candidate.pieces.clone(),
            end_of_segment: false,
            length: candidate.run.end,
        };
        let max_record = self.state.borrow().max_record_bytes();
        match readback::load(&self.state, plan, max_record).await {
            spate_wire::Reply::ReadData(read) if read.data.len() as u64 == candidate.run.len() => {
                Ok(read.data)
            }
            spate_wire::Reply::ReadData(read) => Err(format!(
                "read back {} of the run's {} bytes",
                read.data.len(),
                candidate.run.len()
            )),
            other => Err(format!("reading a run back: {other:?}")),
        }
    }

    /// The segment's current file and the offset the next flush goes to,
    /// rolling to a new file once the current one holds `roll_bytes`.
    async fn file_for(&mut self, segment: &str, len: u64) -> Result<(u64, u64), String> {
        if let Some(&(file, written)) = self.writing.get(segment)
            && (written == 0 || written + len <= self.settings.roll_bytes)
        {
            return Ok((file, written));
        }
        let file = self
            .files
            .create()
            .await
            .map_err(|e| format!("creating a hot chunk file: {e}"))?;
        self.writing.insert(segment.to_owned(), (file, 0));
        Ok((file, 0))
    }

    /// Deletes the files nothing names any more, and forgets the current
    /// file of segments that are gone.
    async fn collect(&mut self) {
        self.list_tier().await;
        if !self.tier_listed {
            return;
        }
        // A segment gone, or sealed with everything flushed, writes no more:
        // its file is closed (and, with a tier, stored).
        let live: HashSet<String> = {
            let state = self.state.borrow();
            self.writing
                .keys()
                .filter(|s| state.has_durable_segment(s) && !state.sealed_and_flushed(s))
                .cloned()
                .collect()
        };
        self.writing.retain(|segment, _| live.contains(segment));
        let mut named = self.state.borrow().hot_files_named();
        named.extend(self.writing.values().map(|&(file, _)| file));
        for file in self.files.known() {
            if named.contains(&file) {
                continue;
            }
            if let Err(error) = self.files.remove(file).await {
                tracing::warn!(file, %error, "could not delete an unused hot chunk file");
            }
        }
    }
}

impl<S: Storage> CoreState<S> {
    /// Whether the journal is short of room: more than half its files hold
    /// live records. Then even small runs are flushed.
    pub fn journal_pressed(&self) -> bool {
        let max = self.journal.config().max_files as usize;
        self.journal.unused_files() * 2 < max
    }

    /// Of all containers, the run (at least `min_bytes` long, or the whole
    /// of what is waiting) holding back the oldest journal record.
    fn next_flush(&self, min_bytes: u64, max_bytes: u64) -> Option<Candidate> {
        let (container, segment, run) = self
            .containers
            .iter()
            .filter_map(|(&id, c)| {
                let (segment, run) = c.flush_candidate(max_bytes)?;
                (run.len() >= min_bytes).then_some((id, segment, run))
            })
            .min_by_key(|(_, _, run)| run.first_lsn())?;
        let pieces = self
            .containers
            .get(&container)?
            .flush_pieces(&segment, &run)?;
        Some(Candidate {
            container,
            segment,
            run,
            pieces,
        })
    }

    fn mark_flushed(
        &mut self,
        container: ContainerId,
        segment: &str,
        run: &FlushRun,
        hot: HotData,
        data: Bytes,
    ) -> bool {
        self.containers
            .get_mut(&container)
            .is_some_and(|c| c.mark_flushed(segment, run, hot, data))
    }

    /// `bytes` left the journal: a checkpoint may now release files.
    fn flushed(&mut self, bytes: u64) {
        self.metrics.flushed_bytes.add(bytes);
        self.checkpoints.flushed(bytes);
        self.driver.signal();
    }

    /// Has the journal driver take a checkpoint now (so what was flushed
    /// is recorded and released without waiting for more).
    fn ask_checkpoint(&mut self) {
        self.checkpoints.ask();
        self.driver.signal();
    }

    fn hot_files_named(&self) -> HashSet<u64> {
        let mut named = HashSet::new();
        for container in self.containers.values() {
            container.hot_files(&mut named);
        }
        named
    }

    fn durable_lsn(&self) -> u64 {
        self.journal.durable_lsn()
    }

    fn has_durable_segment(&self, segment: &str) -> bool {
        self.containers.values().any(|c| c.has_segment(segment))
    }

    fn sealed_and_flushed(&self, segment: &str) -> bool {
        self.containers
            .values()
            .any(|c| c.sealed_and_flushed(segment))
    }
}
