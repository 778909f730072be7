//! The journal: group commit over a [`Storage`].
//!
//! Appends are encoded into the batch at the back of a bounded queue. A batch
//! is submitted as one durable write when nothing is in flight (so an idle
//! journal writes each append at once) or when it is full (so a busy one keeps
//! up to `max_writes_in_flight` large writes going). There is no timer: while
//! a write is in flight, appends gather into the next batch.
//!
//! A new file starts with a write of its header block alone, issued only when
//! no other write is in flight, and its records follow only once the header is
//! durable. Recovery relies on both: a file header on disk proves that every
//! record before the file's start was durable, and no record of a file exists
//! on disk without its header (so a file sequence number whose header never
//! landed can be reused safely).

use std::io;

use crate::aligned::AlignedBuf;
use crate::config::JournalConfig;
use crate::error::{AppendError, FailedOp, JournalFailure, OpenError};
use crate::format::Lsn;
use crate::format::file_header::FileHeader;
use crate::format::record::{RecordIdentity, RecordKind, record_footprint};
use crate::readback::RecordLocation;
use crate::recovery::{Layout, Recovered, recover};
use crate::storage::{Completion, Op, Slot, Storage};
use crate::writer::batch::{Batch, Position};
use crate::writer::files::{FileTable, LiveFile};
use crate::writer::inflight::{InFlight, InFlightWrite};

/// Size of the writes that zero the unacknowledged end of the last file.
const ZERO_CHUNK_BYTES: u64 = 8 << 20;

/// Tokens with this bit set are file preparations; the low bits name the slot.
const PREPARE_TOKEN: u64 = 1 << 63;

/// A write-ahead journal. See the crate documentation.
pub struct Journal<S: Storage> {
    storage: S,
    config: JournalConfig,
    files: FileTable,
    /// Batches not yet submitted, oldest first; only the last may be open.
    queue: std::collections::VecDeque<Batch>,
    queued_bytes: u64,
    /// Where the next batch starts once the last one is sealed.
    tail: Position,
    /// Whether `tail` is the start of a file not begun yet.
    tail_opens_file: bool,
    /// The file sequence the next new file gets.
    next_file_seq: u64,
    /// A file header write is in flight: nothing else may be submitted.
    header_in_flight: bool,
    in_flight: InFlight,
    next_token: u64,
    next_lsn: Lsn,
    durable_lsn: Lsn,
    /// Checkpoints appended but not yet durable, in LSN order.
    pending_checkpoints: std::collections::VecDeque<Lsn>,
    last_checkpoint: Option<Lsn>,
    /// The newest retain LSN named by a durable file header: recovery starts
    /// at the file holding it, so files wholly before it may be recycled.
    header_retain: Lsn,
    /// The caller's release floor: records below it are not needed. New file
    /// headers name it as their retain LSN.
    released: Lsn,
    buffers: Vec<AlignedBuf>,
    completions: Vec<Completion>,
    failure: Option<JournalFailure>,
    prepare_error: Option<io::ErrorKind>,
}

impl<S: Storage> Journal<S> {
    /// Opens the journal in `storage`, recovering what is there (nothing, for
    /// a new journal). Returns once the recovered records are durable and a
    /// file is ready for appends.
    pub fn open(mut storage: S, config: JournalConfig) -> Result<(Self, Recovered), OpenError> {
        config.validate()?;
        let (recovered, layout) = recover(&mut storage, &config)?;
        let mut journal = Self::resume(storage, config, &recovered, &layout);
        journal.continue_last_file(&layout)?;
        journal.sync_recovered(&layout)?;
        journal.prepare_spare()?;
        Ok((journal, recovered))
    }

    /// Appends continue in the last recovered file, on the block after its
    /// records. First the rest of that file is zeroed: a torn write may have
    /// left records of this file sequence there, and none may remain to be
    /// mistaken for the records that will follow. Nothing there was
    /// acknowledged (recovery proved that), so nothing acknowledged is
    /// overwritten.
    fn continue_last_file(&mut self, layout: &Layout) -> Result<(), OpenError> {
        let Some(last) = layout.chain.last() else {
            return Ok(());
        };
        let start = layout.tail_offset.next_multiple_of(crate::BLOCK as u64);
        if start + crate::BLOCK as u64 > self.config.file_bytes {
            return Ok(());
        }
        // Start-up only, and every chunk is a synced write: big chunks keep
        // the count of syncs small (16 for a 128 MiB file).
        let chunk = u64::from(self.config.max_write_bytes)
            .max(ZERO_CHUNK_BYTES)
            .min(self.config.file_bytes - start);
        let mut zeros = AlignedBuf::new(chunk as usize);
        let mut offset = start;
        while offset < self.config.file_bytes {
            let len = chunk.min(self.config.file_bytes - offset);
            zeros.set_len(len as usize);
            let op = Op::DurableWrite {
                slot: last.slot,
                offset,
                buf: zeros,
            };
            self.storage.submit(0, op);
            let completion = self.wait_for_one();
            zeros = completion.buf.expect("a write returns its buffer");
            completion.result.map_err(OpenError::Zero)?;
            offset += len;
        }
        self.files.reopen_last();
        self.tail = Position {
            file_seq: last.file_seq,
            offset: start,
        };
        self.tail_opens_file = false;
        Ok(())
    }

    fn resume(storage: S, config: JournalConfig, recovered: &Recovered, layout: &Layout) -> Self {
        let live = layout
            .chain
            .iter()
            .map(|f| LiveFile {
                slot: f.slot,
                file_seq: f.file_seq,
                start_lsn: f.start_lsn,
                end_lsn: Some(f.end_lsn),
            })
            .collect();
        let free: Vec<Slot> = layout.free.iter().map(|f| f.slot).collect();
        let next_new_slot = layout
            .chain
            .iter()
            .map(|f| f.slot)
            .chain(free.iter().copied())
            .max()
            .map_or(0, |s| s + 1);
        let files = FileTable::new(config.max_files, live, free, next_new_slot);
        Self {
            storage,
            files,
            queue: Default::default(),
            queued_bytes: 0,
            tail: Position::file_start(layout.max_file_seq + 1),
            tail_opens_file: true,
            next_file_seq: layout.max_file_seq + 2,
            header_in_flight: false,
            in_flight: InFlight::default(),
            next_token: 0,
            next_lsn: recovered.next_lsn,
            durable_lsn: recovered.next_lsn,
            pending_checkpoints: Default::default(),
            last_checkpoint: recovered.checkpoint,
            header_retain: layout.header_retain,
            released: layout.header_retain,
            buffers: Vec::new(),
            completions: Vec::new(),
            failure: None,
            prepare_error: None,
            config,
        }
    }

    /// Records read back by recovery may sit in a volatile cache (a process
    /// crash keeps the page cache). Sync them before anything is built on them.
    fn sync_recovered(&mut self, layout: &Layout) -> Result<(), OpenError> {
        for file in &layout.chain {
            let op = Op::Prepare {
                slot: file.slot,
                len: self.config.file_bytes,
            };
            self.storage.submit(PREPARE_TOKEN, op);
            self.wait_for_one().result.map_err(OpenError::Sync)?;
        }
        Ok(())
    }

    /// Prepares the spare file, unless every file holds unreleased records
    /// (then appends answer `Busy` until the caller releases some). A
    /// failure (a full disk) is not fatal for a journal that holds records:
    /// they stay readable, the last file may still have room, and the
    /// preparation is tried again on [`retry_preparation`](Self::retry_preparation).
    fn prepare_spare(&mut self) -> Result<(), OpenError> {
        while let Some(slot) = self.files.next_to_prepare() {
            let op = Op::Prepare {
                slot,
                len: self.config.file_bytes,
            };
            self.storage.submit(PREPARE_TOKEN | u64::from(slot), op);
            let result = self.wait_for_one().result;
            self.files.prepared(slot, result.is_ok());
            if let Err(error) = result {
                // A journal that holds nothing and cannot make a file could
                // never take a record: say so now, not at the first append.
                if !self.files.has_live() {
                    return Err(OpenError::Prepare(error));
                }
                self.prepare_error = Some(error.kind());
                break;
            }
        }
        Ok(())
    }

    /// Allows file preparation again after one failed (see
    /// [`prepare_error`](Self::prepare_error)); the caller paces the
    /// retries, the journal has no clock.
    pub fn retry_preparation(&mut self) {
        self.files.retry_preparation();
    }

    /// Whether an append of `payload_len` bytes now would wait for a file
    /// that is not prepared: a queued batch already waits for one, or the
    /// record does not fit what is left of the current file. With
    /// preparations failing, such an append waits until space returns.
    pub fn append_would_wait_for_a_file(&self, payload_len: usize) -> bool {
        if self.files.ready_count() > 0 {
            return false;
        }
        if self.queue.iter().any(|b| b.opens_file) {
            return true;
        }
        if self.queue.back().is_some_and(|b| b.fits(payload_len)) {
            return false;
        }
        let footprint =
            (record_footprint(payload_len) as u64).next_multiple_of(crate::BLOCK as u64);
        self.tail_opens_file || self.tail.offset + footprint > self.config.file_bytes
    }

    /// Waits for the single outstanding operation (only used while opening).
    fn wait_for_one(&mut self) -> Completion {
        let mut done = Vec::with_capacity(1);
        while done.is_empty() {
            if let Err(err) = self.storage.reap(true, &mut done) {
                return Completion {
                    token: 0,
                    result: Err(err),
                    buf: None,
                };
            }
        }
        assert_eq!(done.len(), 1, "one operation was outstanding");
        done.pop().expect("one completion")
    }

    /// Queues a record and returns its LSN. It is durable once
    /// [`durable_lsn`](Self::durable_lsn) is past that LSN.
    pub fn append(&mut self, kind: RecordKind, payload: &[u8]) -> Result<Lsn, AppendError> {
        self.append_located(kind, payload).map(|at| at.lsn)
    }

    /// Like [`append`](Self::append), and also says where the record will
    /// lie, so a caller may drop the bytes and read them back later (see
    /// [`crate::readback`]) for as long as it has not released them.
    pub fn append_located(
        &mut self,
        kind: RecordKind,
        payload: &[u8],
    ) -> Result<RecordLocation, AppendError> {
        if let Some(failure) = &self.failure {
            return Err(AppendError::Stopped(failure.clone()));
        }
        if payload.len() > self.config.max_record_bytes as usize {
            return Err(AppendError::TooLarge {
                len: payload.len(),
                max: self.config.max_record_bytes,
            });
        }
        if !self.queue.back().is_some_and(|b| b.fits(payload.len())) {
            self.open_batch(payload.len())?;
        }
        let lsn = self.next_lsn;
        let batch = self
            .queue
            .back_mut()
            .expect("open_batch left an open batch");
        let id = RecordIdentity {
            kind,
            lsn,
            file_seq: batch.position.file_seq,
            durable_lsn: self.durable_lsn,
        };
        let location = RecordLocation {
            lsn,
            file_seq: batch.position.file_seq,
            offset: batch.next_record_offset(),
        };
        batch.push(id, payload);
        self.next_lsn += 1;
        if kind == RecordKind::Checkpoint {
            self.pending_checkpoints.push_back(lsn);
        }
        Ok(location)
    }

    pub fn config(&self) -> &JournalConfig {
        &self.config
    }

    /// Makes the next append start a new file (the rest of this one stays
    /// unused). The new file's header names the current release floor, so a
    /// caller that raised the floor while appends are scarce can have the
    /// files below it recycled without first filling the current file.
    pub fn roll(&mut self) {
        if self.tail_opens_file {
            return;
        }
        self.seal_back();
        self.tail = Position::file_start(self.next_file_seq);
        self.tail_opens_file = true;
        self.next_file_seq += 1;
    }

    /// Files whose records all lie below the release floor but that wait
    /// for a durable header naming it before they are recycled (see
    /// [`roll`](Self::roll)).
    pub fn files_awaiting_recycle(&self) -> usize {
        self.files.ended_below(self.released)
    }

    /// The slot holding file `file_seq`, while that file is live (written,
    /// or holding records not yet released).
    pub fn slot_of(&self, file_seq: u64) -> Option<Slot> {
        self.files.slot_of(file_seq)
    }

    /// Files that hold no live records (prepared, waiting for preparation,
    /// or not created yet). A caller that keeps records unreleased must stop
    /// appending data while a few remain: its checkpoint, and the new file
    /// whose header names the raised release floor, need room too. A full
    /// journal frees nothing (recycling waits for such a header).
    pub fn unused_files(&self) -> usize {
        self.files.unused()
    }

    /// Appends a checkpoint record: recovery hands back records from the last
    /// durable checkpoint on, and [`release`](Self::release) may free files
    /// below it.
    pub fn checkpoint(&mut self, payload: &[u8]) -> Result<Lsn, AppendError> {
        self.append(RecordKind::Checkpoint, payload)
    }

    /// Seals the open batch and opens a new one with room for a record of
    /// `payload_len` bytes, in the next file if this one is too full.
    fn open_batch(&mut self, payload_len: usize) -> Result<(), AppendError> {
        let footprint = record_footprint(payload_len);
        let capacity = (self.config.max_write_bytes as usize).max(footprint + crate::BLOCK);
        if !self.queue.is_empty()
            && self.queued_bytes + capacity as u64 > self.config.max_queued_bytes
        {
            return Err(AppendError::Busy);
        }
        self.seal_back();
        let (mut position, mut opens_file) = (self.tail, self.tail_opens_file);
        if position.offset + (footprint as u64).next_multiple_of(crate::BLOCK as u64)
            > self.config.file_bytes
        {
            position = Position::file_start(self.next_file_seq);
            opens_file = true;
            self.next_file_seq += 1;
        }
        self.tail_opens_file = false;
        let buf = self.take_buffer(capacity);
        self.queued_bytes += buf.capacity() as u64;
        let batch = Batch::new(
            buf,
            position,
            opens_file,
            self.config.file_bytes,
            self.next_lsn,
        );
        assert!(
            batch.fits(payload_len),
            "a fresh batch holds the largest record"
        );
        self.queue.push_back(batch);
        Ok(())
    }

    fn seal_back(&mut self) {
        if let Some(back) = self.queue.back_mut().filter(|b| !b.sealed) {
            back.sealed = true;
            self.tail = back.next_position();
        }
    }

    fn take_buffer(&mut self, capacity: usize) -> AlignedBuf {
        match self.buffers.pop() {
            Some(buf) if buf.capacity() >= capacity => buf,
            _ => AlignedBuf::new(capacity),
        }
    }

    fn return_buffer(&mut self, buf: AlignedBuf) {
        let standard = self.config.max_write_bytes as usize;
        let pool_limit = usize::from(self.config.max_writes_in_flight) + 1;
        if buf.capacity() == standard && self.buffers.len() < pool_limit {
            self.buffers.push(buf);
        }
    }
}

impl<S: Storage> Journal<S> {
    /// Submits what group commit allows, reaps finished operations (with
    /// `wait`, blocks until one finishes if any is outstanding) and returns the
    /// durable watermark: every LSN below it is durable.
    pub fn poll(&mut self, wait: bool) -> Result<Lsn, JournalFailure> {
        self.check_failure()?;
        self.submit_ready();
        let outstanding = !self.in_flight.is_empty() || self.files.is_preparing();
        let mut completions = std::mem::take(&mut self.completions);
        if let Err(err) = self.storage.reap(wait && outstanding, &mut completions) {
            self.fail(FailedOp::Reap, &err);
        }
        for completion in completions.drain(..) {
            self.complete(completion);
        }
        self.completions = completions;
        self.acknowledge();
        self.submit_ready();
        self.check_failure()?;
        Ok(self.durable_lsn)
    }

    /// Polls until everything appended so far is durable. Returns early, with
    /// appends still queued, if no progress is possible: every file holds
    /// unreleased records, or no new file can be prepared (see
    /// [`prepare_error`](Self::prepare_error)).
    pub fn flush(&mut self) -> Result<Lsn, JournalFailure> {
        while self.durable_lsn < self.next_lsn {
            self.poll(true)?;
            let idle = self.in_flight.is_empty() && !self.files.is_preparing();
            if idle && self.durable_lsn < self.next_lsn && self.files.ready_count() == 0 {
                break;
            }
        }
        Ok(self.durable_lsn)
    }

    /// Allows the files holding only records below `below` to be reused.
    /// `below` must not be past the last durable checkpoint: recovery starts
    /// from a checkpoint, so what precedes it is what may be dropped.
    pub fn release(&mut self, below: Lsn) {
        let checkpoint = self.last_checkpoint.unwrap_or(0);
        assert!(
            below <= checkpoint,
            "release below {below} is past the last durable checkpoint {checkpoint}"
        );
        self.released = self.released.max(below);
        self.recycle();
    }

    fn recycle(&mut self) {
        // Recovery starts at the file holding the retain LSN a durable header
        // names, so only files before that one may be overwritten.
        self.files
            .recycle_below(self.released.min(self.header_retain));
    }

    fn check_failure(&self) -> Result<(), JournalFailure> {
        self.failure.as_ref().map_or(Ok(()), |f| Err(f.clone()))
    }

    /// Submits batches while group commit allows.
    fn submit_ready(&mut self) {
        if self.failure.is_some() {
            return;
        }
        self.start_preparation();
        while let Some(front) = self.queue.front() {
            let in_flight = self.in_flight.len();
            if self.header_in_flight || in_flight >= usize::from(self.config.max_writes_in_flight) {
                break;
            }
            // Group commit: with a write in flight, an open batch keeps
            // gathering appends; only full batches join it in flight.
            if in_flight > 0 && !front.sealed {
                break;
            }
            if front.opens_file {
                // See the module documentation for why a new file waits.
                if in_flight == 0 {
                    self.submit_file_header();
                }
                break;
            }
            let slot = self.files.active_slot(front.position.file_seq);
            self.submit_front(slot);
        }
    }

    /// Starts the file the front batch opens by writing its header.
    fn submit_file_header(&mut self) {
        let front = self.queue.front_mut().expect("a batch opens the file");
        let (file_seq, start_lsn) = (front.position.file_seq, front.first_lsn);
        let Some(slot) = self.files.start_file(file_seq, start_lsn) else {
            return;
        };
        front.opens_file = false;
        let header = FileHeader {
            journal_id: self.config.journal_id,
            file_seq,
            start_lsn,
            // Not the last checkpoint: the caller may still read records
            // between its release floor and that checkpoint back (see
            // `readback`), so recovery must keep those files.
            retain_lsn: self.released,
        };
        let mut buf = self.take_buffer(crate::BLOCK);
        buf.spare_all()[..crate::BLOCK].fill(0);
        header.encode(buf.spare_all());
        buf.set_len(crate::BLOCK);
        self.header_in_flight = true;
        self.submit_write(slot, 0, buf, None, Some(header.retain_lsn));
    }

    fn submit_front(&mut self, slot: Slot) {
        if self.queue.len() == 1 {
            self.seal_back();
        }
        let batch = self
            .queue
            .pop_front()
            .expect("submit_front with an empty queue");
        self.queued_bytes -= batch.capacity() as u64;
        let (offset, end_lsn) = (batch.position.offset, batch.end_lsn);
        self.submit_write(slot, offset, batch.into_write(), Some(end_lsn), None);
    }

    fn submit_write(
        &mut self,
        slot: Slot,
        offset: u64,
        buf: AlignedBuf,
        end_lsn: Option<Lsn>,
        header_retain: Option<Lsn>,
    ) {
        let token = self.next_token;
        self.next_token += 1;
        let len = buf.len();
        self.in_flight.push(InFlightWrite {
            token,
            slot,
            offset,
            len,
            end_lsn,
            header_retain,
            done: false,
        });
        self.storage
            .submit(token, Op::DurableWrite { slot, offset, buf });
    }

    fn start_preparation(&mut self) {
        if let Some(slot) = self.files.next_to_prepare() {
            let op = Op::Prepare {
                slot,
                len: self.config.file_bytes,
            };
            self.storage.submit(PREPARE_TOKEN | u64::from(slot), op);
        }
    }

    fn complete(&mut self, completion: Completion) {
        if let Some(buf) = completion.buf {
            self.return_buffer(buf);
        }
        if completion.token & PREPARE_TOKEN != 0 {
            let slot = Slot::try_from(completion.token & !PREPARE_TOKEN).expect("slot in token");
            self.prepare_error = completion.result.as_ref().err().map(|e| e.kind());
            self.files.prepared(slot, completion.result.is_ok());
            return;
        }
        let write = self
            .in_flight
            .find(completion.token)
            .expect("completion for a write in flight");
        let op = FailedOp::Write {
            slot: write.slot,
            offset: write.offset,
            len: write.len,
        };
        match completion.result {
            Ok(()) => self.in_flight.mark_done(completion.token),
            Err(err) => self.fail(op, &err),
        }
    }

    /// Stops the journal for good: nothing more is acknowledged.
    fn fail(&mut self, op: FailedOp, err: &io::Error) {
        if self.failure.is_none() {
            self.failure = Some(JournalFailure {
                op,
                kind: err.kind(),
                message: err.to_string(),
                durable_lsn: self.durable_lsn,
            });
        }
    }

    /// Advances the durable watermark over the finished writes at the front.
    fn acknowledge(&mut self) {
        if self.failure.is_some() {
            return;
        }
        while let Some(write) = self.in_flight.pop_acknowledged() {
            if let Some(end_lsn) = write.end_lsn {
                assert!(end_lsn > self.durable_lsn, "acknowledgements move forward");
                self.durable_lsn = end_lsn;
            }
            if let Some(checkpoint) = write.header_retain {
                self.header_in_flight = false;
                self.header_retain = self.header_retain.max(checkpoint);
            }
        }
        while let Some(&lsn) = self
            .pending_checkpoints
            .front()
            .filter(|&&l| l < self.durable_lsn)
        {
            self.last_checkpoint = Some(lsn);
            self.pending_checkpoints.pop_front();
        }
        self.recycle();
    }

    /// Every LSN below this is durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable_lsn
    }

    /// The LSN the next append gets.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// The newest durable checkpoint.
    pub fn last_checkpoint(&self) -> Option<Lsn> {
        self.last_checkpoint
    }

    /// Why the journal stopped, if it did.
    pub fn failure(&self) -> Option<&JournalFailure> {
        self.failure.as_ref()
    }

    /// The error of the last failed file preparation, cleared by a success.
    /// Not fatal: appends wait (answer `Busy`) until a file is ready.
    pub fn prepare_error(&self) -> Option<io::ErrorKind> {
        self.prepare_error
    }

    /// The storage, for callers that read files back beside the journal.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The storage, for tests (fault switches) and tools (statistics).
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// Shuts down cleanly: waits until everything appended is durable and no
    /// operation is outstanding, then hands the storage back.
    pub fn close(mut self) -> Result<S, JournalFailure> {
        self.flush()?;
        while !self.in_flight.is_empty() || self.files.is_preparing() {
            self.poll(true)?;
        }
        Ok(self.storage)
    }

    /// Hands the storage back, dropping whatever was not yet durable. Tests
    /// use it to simulate a crash at an arbitrary moment.
    pub fn into_storage(self) -> S {
        self.storage
    }
}
