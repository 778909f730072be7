//! The state one core owns: its containers, its journal, the mutations on
//! their way to durability and the readers waiting at segment tails.
//!
//! Owned by one core and touched only from its executor (`Rc<RefCell<_>>`,
//! never borrowed across an await). Mutations are applied to a container and
//! handed to the journal in the same synchronous step, so the journal's order
//! is the order in which they were applied, which is what replay requires.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use spate_journal::{AppendError, Journal, JournalFailure, Lsn, RecordKind};
use spate_wire::{ErrorReply, Reply, RetryAdvice, StatusCode};

use super::checkpoint::Checkpoints;
use super::hot_files::HotFiles;
use super::load::SegmentLoads;
use super::metrics::CoreMetrics;
use super::notify::Notify;
use super::recent::{RECENT_HOT_BYTES, RECENT_RECORDS_BYTES, RecentRecords};
use super::storage::{GlommioStorage, JournalReader};
use crate::container::{
    Container, ContainerId, Execution, MAX_APPEND_OVERHEAD_BYTES, MutationSeq, ReadOutcome,
};
use spate_journal::Storage;

/// Readers that may wait at the tail of segments of one core.
const MAX_TAIL_WAITERS: usize = 16_384;

/// Journal files that must stay unused for an append to be taken: the
/// spare that a roll-over needs, plus one for the mutations that free space.
pub(super) const APPEND_RESERVE_FILES: usize = 2;

pub type Ack = flume::Sender<Reply>;

pub(super) struct Pending {
    pub(super) container: ContainerId,
    pub(super) seq: MutationSeq,
    reply: Reply,
    ack: Ack,
}

/// What `execute` started.
pub enum Started {
    /// The reply is ready.
    Done(Reply),
    /// The reply comes once the mutation is durable.
    Durable(flume::Receiver<Reply>),
}

/// Generic over the journal's storage so the same logic runs on glommio in
/// the node and on the simulated disk in the power-cut tests (`sim_tests`).
pub struct CoreState<S: Storage = GlommioStorage> {
    pub index: usize,
    pub(super) containers: BTreeMap<ContainerId, Container>,
    pub(super) journal: Journal<S>,
    recent: RecentRecords,
    /// Hot chunks read back lately, by (file, offset).
    recent_hot: RecentRecords<(u64, u64)>,
    /// Where the flusher puts data (none in the simulated harnesses).
    hot_files: Option<Rc<HotFiles>>,
    /// Applied to a container, not yet accepted by the (busy) journal, in order.
    pub(super) unjournaled: VecDeque<(Vec<u8>, Pending)>,
    pub(super) checkpoints: Checkpoints,
    /// In the journal, waiting to be durable, in LSN order.
    waiting: VecDeque<(Lsn, Pending)>,
    /// Replies decided from state that is not durable yet (a duplicate of a
    /// pending append, say): sent once their container's `seq` is durable.
    deferred: Vec<Pending>,
    tails: HashMap<String, Vec<flume::Sender<()>>>,
    tail_waiters: usize,
    pub(super) driver: Notify,
    failure: Option<String>,
    unjournaled_limit: usize,
    /// Append rates per segment, for auto-scaling.
    pub(super) loads: SegmentLoads,
    /// This core's counters, shared with its connections, storage and
    /// read-backs (all on this thread).
    pub(super) metrics: Rc<CoreMetrics>,
}

/// The default scaling window: rates are averaged over five minutes.
pub const DEFAULT_LOAD_WINDOW_MS: u64 = 300_000;

impl<S: Storage> CoreState<S> {
    pub fn new(
        index: usize,
        containers: BTreeMap<ContainerId, Container>,
        journal: Journal<S>,
        driver: Notify,
        unjournaled_limit: usize,
    ) -> Self {
        // Replay after a crash covers about half a journal file at most.
        let checkpoints = Checkpoints::new(journal.config().file_bytes / 2);
        Self {
            checkpoints,
            recent: RecentRecords::new(RECENT_RECORDS_BYTES),
            recent_hot: RecentRecords::new(RECENT_HOT_BYTES),
            hot_files: None,
            index,
            containers,
            journal,
            unjournaled: VecDeque::new(),
            waiting: VecDeque::new(),
            deferred: Vec::new(),
            tails: HashMap::new(),
            tail_waiters: 0,
            driver,
            failure: None,
            unjournaled_limit,
            loads: SegmentLoads::new(DEFAULT_LOAD_WINDOW_MS),
            metrics: Rc::default(),
        }
    }

    /// Sets the window append rates are averaged over.
    pub fn set_load_window(&mut self, window_ms: u64) {
        self.loads = SegmentLoads::new(window_ms.max(1));
    }

    /// Counts into `metrics` (shared with the core's other parts) from now on.
    pub fn with_metrics(mut self, metrics: Rc<CoreMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn metrics(&self) -> &Rc<CoreMetrics> {
        &self.metrics
    }

    pub fn containers_owned(&self) -> u64 {
        self.containers.len() as u64
    }

    /// Whether connections should read more requests: the journal keeps up.
    pub fn accepting(&self) -> bool {
        self.unjournaled.len() < self.unjournaled_limit
    }

    /// Executes a request for a segment of `container` (owned by this core).
    pub fn execute(
        &mut self,
        container: ContainerId,
        request: spate_wire::Request,
        now_ms: u64,
    ) -> Started {
        if let Some(reason) = &self.failure {
            return Started::Done(unavailable(reason));
        }
        if let Some(full) = self.journal_full(&request) {
            return Started::Done(full);
        }
        if matches!(
            request,
            spate_wire::Request::Truncate(_)
                | spate_wire::Request::Delete(_)
                | spate_wire::Request::Merge(_)
        ) {
            self.checkpoints.freed();
        }
        let target = self
            .containers
            .get_mut(&container)
            .expect("the request was routed to the owning core");
        if let spate_wire::Request::GetSegmentLoad(query) = &request {
            return Started::Done(segment_load(target, &self.loads, &query.segment, now_ms));
        }
        meter_request(&mut self.loads, target, &request, now_ms);
        match target.execute(request, now_ms) {
            Execution::Reply(reply) => Started::Done(reply),
            Execution::Journal { record, seq, reply } => {
                let (ack, done) = flume::bounded(1);
                self.unjournaled.push_back((
                    record,
                    Pending {
                        container,
                        seq,
                        reply,
                        ack,
                    },
                ));
                self.feed_journal();
                self.driver.signal();
                Started::Durable(done)
            }
            Execution::ReplyWhenDurable { seq, reply } => {
                let (ack, done) = flume::bounded(1);
                self.deferred.push(Pending {
                    container,
                    seq,
                    reply,
                    ack,
                });
                Started::Durable(done)
            }
        }
    }

    pub fn read(
        &self,
        container: ContainerId,
        segment: &str,
        offset: u64,
        max_bytes: u32,
    ) -> ReadOutcome {
        let target = self
            .containers
            .get(&container)
            .expect("the read was routed to the owning core");
        target.read(segment, offset, max_bytes)
    }

    /// The refusal of a mutation the journal has no room for. Appends stop
    /// while one spare file remains, so that the small mutations that let
    /// space be freed (truncate, delete, seal) still fit; they stop only at
    /// the last file.
    fn journal_full(&self, request: &spate_wire::Request) -> Option<Reply> {
        use spate_wire::Request as R;
        if let Some(full) = self.disk_full(request) {
            return Some(full);
        }
        let reserve = match request {
            R::Append(_) | R::AppendBatch(_) | R::ConditionalAppend(_) => APPEND_RESERVE_FILES,
            R::CreateSegment(_)
            | R::Seal(_)
            | R::Truncate(_)
            | R::Merge(_)
            | R::Delete(_)
            | R::UpdateAttribute(_) => 1,
            _ => return None,
        };
        let unused = self.journal.unused_files();
        if unused >= reserve {
            return None;
        }
        let files = self.journal.config().max_files;
        Some(Reply::Error(ErrorReply {
            status: StatusCode::StorageFull.code(),
            retry: RetryAdvice::Retry,
            message: match self.hot_files.is_some() {
                true => format!(
                    "core {}: all but {unused} of its {files} journal files hold data not yet \
                     moved to hot chunk files (the flusher is behind, or the data disk is \
                     failing: see the node's log). Retry shortly, or give the journal more \
                     room (--journal-files × --journal-file-mib)",
                    self.index
                ),
                false => format!(
                    "core {}: all but {unused} of its {files} journal files hold data that is \
                     not released yet; with --no-flush segment data stays in the journal, so \
                     its capacity is the journal's size (--journal-files × \
                     --journal-file-mib). Retry later, or restart with a larger journal",
                    self.index
                ),
            },
        }))
    }

    /// The refusal of a mutation that would wait for a journal file the disk
    /// has no room for: answered now, retryable, instead of parked until
    /// space returns.
    fn disk_full(&self, request: &spate_wire::Request) -> Option<Reply> {
        let error = self.journal.prepare_error()?;
        let bytes = mutation_bytes(request)?;
        if !self.journal.append_would_wait_for_a_file(bytes) {
            return None;
        }
        Some(Reply::Error(ErrorReply {
            status: StatusCode::StorageFull.code(),
            retry: RetryAdvice::Retry,
            message: format!(
                "core {}: its journal needs a new file and the journal's disk cannot hold one \
                 ({error:?}); nothing acknowledged is affected. Retry once space is freed",
                self.index
            ),
        }))
    }

    /// Whether preparing a journal file failed; the driver then retries it
    /// on a timer ([`retry_preparation`](Self::retry_preparation)).
    pub fn preparation_failing(&self) -> bool {
        self.journal.prepare_error().is_some()
    }

    pub fn retry_preparation(&mut self) {
        self.journal.retry_preparation();
    }

    /// The slot of journal file `file_seq`, while it holds live records.
    pub fn journal_slot(&self, file_seq: u64) -> Option<spate_journal::Slot> {
        self.journal.slot_of(file_seq)
    }

    /// The journal's largest record payload.
    pub fn max_record_bytes(&self) -> u32 {
        self.journal.config().max_record_bytes
    }

    /// A verified payload read back lately, if still kept.
    pub fn recent_record(&self, lsn: Lsn) -> Option<std::rc::Rc<[u8]>> {
        self.recent.get(lsn)
    }

    pub fn keep_recent_record(&mut self, lsn: Lsn, payload: std::rc::Rc<[u8]>) {
        self.recent.insert(lsn, payload);
    }

    /// A verified hot chunk read back lately, if still kept.
    pub fn recent_hot(&self, at: crate::container::HotData) -> Option<std::rc::Rc<[u8]>> {
        self.recent_hot.get((at.file, at.file_offset))
    }

    pub fn keep_recent_hot(&mut self, at: crate::container::HotData, chunk: std::rc::Rc<[u8]>) {
        self.recent_hot.insert((at.file, at.file_offset), chunk);
    }

    /// The core's hot chunk files, if it flushes.
    pub fn hot_files(&self) -> Option<Rc<HotFiles>> {
        self.hot_files.clone()
    }

    /// Flushes into `files` from now on.
    pub fn with_hot_files(mut self, files: Rc<HotFiles>) -> Self {
        self.hot_files = Some(files);
        self
    }

    /// Registers a reader waiting for `segment` to grow; `None` when too many wait.
    pub fn wait_for_tail(&mut self, segment: &str) -> Option<flume::Receiver<()>> {
        if self.tail_waiters >= MAX_TAIL_WAITERS {
            self.forget_abandoned_tail_waiters();
        }
        if self.tail_waiters >= MAX_TAIL_WAITERS {
            return None;
        }
        let (wake, woken) = flume::bounded(1);
        self.tails
            .entry(segment.to_string())
            .or_default()
            .push(wake);
        self.tail_waiters += 1;
        Some(woken)
    }

    /// Drops the waiters whose reader gave up (its wait ran out, or its
    /// connection closed): the receiving end is gone.
    fn forget_abandoned_tail_waiters(&mut self) {
        self.tails.retain(|_, waiters| {
            waiters.retain(|w| !w.is_disconnected());
            !waiters.is_empty()
        });
        self.tail_waiters = self.tails.values().map(Vec::len).sum();
    }

    /// Hands queued records to the journal, in order, while it takes them.
    fn feed_journal(&mut self) {
        while let Some((record, _)) = self.unjournaled.front() {
            match self.journal.append_located(RecordKind::Data, record) {
                Ok(location) => {
                    let (record, pending) = self.unjournaled.pop_front().expect("front exists");
                    self.checkpoints.appended(record.len());
                    // Bounded by the journal's record limit, a u32.
                    let payload_len = record.len() as u32;
                    self.containers
                        .get_mut(&pending.container)
                        .expect("container of a mutation")
                        .journaled(pending.seq, location, payload_len);
                    self.waiting.push_back((location.lsn, pending));
                }
                Err(AppendError::Busy) => return,
                Err(AppendError::TooLarge { len, max }) => {
                    // Frames are bounded below the journal's record limit.
                    panic!("container record of {len} bytes over the journal limit {max}")
                }
                Err(AppendError::Stopped(failure)) => return self.fail(&failure),
            }
        }
    }

    /// Moves the journal forward and acknowledges what became durable.
    /// Returns false once the journal has failed.
    pub fn advance(&mut self) -> bool {
        if self.failure.is_some() {
            return false;
        }
        self.feed_journal();
        let durable = match self.journal.poll(false) {
            Ok(durable) => durable,
            Err(failure) => {
                self.fail(&failure);
                return false;
            }
        };
        while self.waiting.front().is_some_and(|(lsn, _)| *lsn < durable) {
            let (_, pending) = self.waiting.pop_front().expect("front exists");
            let container = self
                .containers
                .get_mut(&pending.container)
                .expect("container of a mutation");
            let grown = container.mark_durable(pending.seq);
            self.wake_tails(&grown);
            self.release_deferred(pending.container, pending.seq);
            let _ = pending.ack.send(pending.reply);
        }
        // A due checkpoint takes the room durability just freed before the
        // queued mutations do, so a journal that is always busy still gets
        // its checkpoints (and so its releases).
        self.checkpoint_step(durable);
        self.feed_journal();
        self.failure.is_none()
    }

    /// Sends the deferred replies of `container` that waited for `seq` or earlier.
    fn release_deferred(&mut self, container: ContainerId, seq: MutationSeq) {
        // Usually empty: this runs for every acknowledged mutation.
        let ready = self
            .deferred
            .extract_if(.., |d| d.container == container && d.seq <= seq);
        for pending in ready {
            let _ = pending.ack.send(pending.reply);
        }
    }

    /// Gives the journal back (the power-cut tests crash its disk).
    #[cfg(test)]
    pub fn into_journal(self) -> Journal<S> {
        self.journal
    }

    /// Nothing appended is waiting to become durable.
    pub fn is_idle(&self) -> bool {
        self.unjournaled.is_empty() && self.waiting.is_empty() && self.deferred.is_empty()
    }

    fn wake_tails(&mut self, segments: &[String]) {
        for segment in segments {
            if let Some(waiters) = self.tails.remove(segment) {
                self.tail_waiters -= waiters.len();
                for waiter in waiters {
                    let _ = waiter.send(());
                }
            }
        }
    }

    /// The journal failed: nothing more is acknowledged. Every waiting
    /// mutation gets an error; a restart recovers what is durable.
    pub(super) fn fail(&mut self, failure: &JournalFailure) {
        tracing::error!(core = self.index, %failure, "journal failed; this core acknowledges nothing more until restarted");
        let reason = failure.to_string();
        let waiting = self.waiting.drain(..).map(|(_, p)| p);
        let unjournaled = self.unjournaled.drain(..).map(|(_, p)| p);
        for pending in waiting.chain(unjournaled).chain(self.deferred.drain(..)) {
            let _ = pending.ack.send(unavailable(&reason));
        }
        self.failure = Some(reason);
    }

    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Summary for the log at shutdown.
    pub fn describe(&self) -> String {
        let segments: usize = self.containers.values().map(|c| c.stats().segments).sum();
        format!(
            "core {}: {} containers, {} segments, journal at LSN {}",
            self.index,
            self.containers.len(),
            segments,
            self.journal.durable_lsn()
        )
    }
}

/// An upper bound on the journal record a mutation request makes; `None`
/// for requests that write nothing.
fn mutation_bytes(request: &spate_wire::Request) -> Option<usize> {
    use spate_wire::Request as R;
    // Headers, names and per-event fields, generously.
    let overhead = MAX_APPEND_OVERHEAD_BYTES;
    Some(match request {
        R::Append(a) => a.payload.len() + overhead,
        R::ConditionalAppend(a) => a.payload.len() + overhead,
        R::AppendBatch(b) => b.events.iter().map(|e| e.payload.len() + overhead).sum(),
        R::CreateSegment(_)
        | R::Seal(_)
        | R::Truncate(_)
        | R::Merge(_)
        | R::Delete(_)
        | R::UpdateAttribute(_) => 2 * overhead,
        _ => return None,
    })
}

fn unavailable(reason: &str) -> Reply {
    Reply::Error(ErrorReply {
        status: StatusCode::StorageFailed.code(),
        retry: RetryAdvice::Retry,
        message: format!(
            "this node's journal failed ({reason}); retry once the node has restarted"
        ),
    })
}

impl CoreState<GlommioStorage> {
    /// Reads journal files back (for data evicted from the read cache).
    pub fn journal_reader(&self) -> JournalReader {
        self.journal.storage().reader()
    }
}

/// The answer to a `GetSegmentLoad`.
fn segment_load(container: &Container, loads: &SegmentLoads, segment: &str, now_ms: u64) -> Reply {
    if !container.has_segment(segment) {
        return Reply::NoSuchSegment(spate_wire::NoSuchSegment {
            segment: segment.to_owned(),
        });
    }
    let (events, bytes) = loads.rates(segment, now_ms);
    Reply::SegmentLoad(spate_wire::SegmentLoad {
        milli_events_per_s: (events * 1000.0) as u64,
        bytes_per_s: bytes as u64,
        window_ms: loads.window_ms(),
    })
}

/// Counts an append towards its segment's rates (only for a segment that
/// exists, so the meters stay bounded by the segments); forgets the rates
/// of a segment being deleted or merged away.
fn meter_request(
    loads: &mut SegmentLoads,
    container: &Container,
    request: &spate_wire::Request,
    now_ms: u64,
) {
    use spate_wire::Request;
    let (segment, events, bytes) = match request {
        Request::Append(r) => (&r.segment, 1, r.payload.len()),
        Request::ConditionalAppend(r) => (&r.segment, 1, r.payload.len()),
        Request::AppendBatch(r) => {
            let bytes = r.events.iter().map(|e| e.payload.len()).sum();
            (&r.segment, r.events.len(), bytes)
        }
        Request::Delete(r) => return loads.forget(&r.segment),
        Request::Merge(r) => return loads.forget(&r.source),
        _ => return,
    };
    loads.record(segment, events as u64, bytes as u64, now_ms, || {
        container.has_segment(segment)
    });
}
