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
use crate::container::{ContainerId, FlushRun, HotData, Piece, ReadPlan};

/// How the flusher sizes its work.
#[derive(Clone, Copy, Debug)]
pub struct FlushSettings {
    /// A segment's hot chunk file is closed (rolled) once it holds this.
    pub roll_bytes: u64,
    /// Shorter runs wait for more data while the journal has room.
    pub min_run_bytes: u64,
}

/// The longest run written at once.
const MAX_RUN_BYTES: u64 = 4 << 20;
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
pub async fn run(state: Rc<RefCell<CoreState>>, settings: FlushSettings, stop: Notify) {
    let Some(files) = state.borrow().hot_files() else {
        return;
    };
    let mut flusher = Flusher {
        state,
        files,
        settings,
        writing: HashMap::new(),
        last_collect: Instant::now(),
    };
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
        if flusher.last_collect.elapsed() >= COLLECT_EVERY {
            flusher.collect().await;
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
}

impl Flusher {
    async fn round(&mut self) -> Result<(), String> {
        let mut flushed = 0;
        while flushed < ROUND_BYTES {
            let min = if self.state.borrow().journal_pressed() {
                0
            } else {
                self.settings.min_run_bytes
            };
            let Some(candidate) = self.state.borrow().next_flush(min, MAX_RUN_BYTES) else {
                break;
            };
            flushed += self.flush(candidate).await?;
        }
        if flushed > 0 {
            self.state.borrow_mut().flushed(flushed);
        }
        Ok(())
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
        let live: HashSet<String> = {
            let state = self.state.borrow();
            self.writing
                .keys()
                .filter(|s| state.has_durable_segment(s))
                .cloned()
                .collect()
        };
        self.writing.retain(|segment, _| live.contains(segment));
        let mut named = self.state.borrow().hot_files_named();
        named.extend(self.writing.values().map(|&(file, _)| file));
        for file in self.files.on_disk() {
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
        self.checkpoints.freed();
        self.driver.signal();
    }

    fn hot_files_named(&self) -> HashSet<u64> {
        let mut named = HashSet::new();
        for container in self.containers.values() {
            container.hot_files(&mut named);
        }
        named
    }

    fn has_durable_segment(&self, segment: &str) -> bool {
        self.containers.values().any(|c| c.has_segment(segment))
    }
}
