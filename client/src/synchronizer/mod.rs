//! The state synchronizer: state shared by many processes through one
//! segment, changed with optimistic concurrency (Pravega's
//! `StateSynchronizer`, `../shared/reference/pravega.md` §6.1).
//!
//! The segment is a log of records (`record.rs`): updates, and now and then
//! a snapshot of the whole state. Every copy of the state is the fold of
//! that log, and its **revision** is the segment offset just after the last
//! record it applied. A change is a conditional append at the revision: it
//! lands only if nobody appended since, so each update is computed from
//! exactly the state it applies to. On a conflict the synchronizer reads
//! what it missed and runs the caller's closure again.
//!
//! Compaction appends a snapshot (conditionally, so it is the state at its
//! own offset) and truncates the segment there; a synchronizer that starts
//! later, or whose reader was truncated under it, starts from that snapshot.

mod record;

pub use record::MAX_RECORD_BYTES;

use record::Record;

use crate::client::{Client, CreateOutcome, InfoOutcome, TruncateOutcome};
use crate::error::{ClientError, check_name};
use crate::options::random_u64;
use crate::reader::ReadOutcome;
use crate::stream::{EVENT_HEADER_BYTES, EventSplitter};
use crate::writer::{ConditionalOutcome, SegmentWriter};

/// Most bytes one catch-up read asks for.
const READ_BYTES: u32 = 1024 * 1024;
/// How long one catch-up read waits for bytes the node has accepted but
/// not made durable yet, and how many such waits in a row are tolerated.
const READ_WAIT_MS: u32 = 1000;
const MAX_EMPTY_READS: u32 = 30;

/// Conflicts one `update` call rides out before it gives up (as a
/// retryable error): each conflict means another process made progress,
/// so only a pathological pile-up reaches this.
pub const MAX_CONFLICTS: u32 = 10_000;

/// What an application's state must provide to be synchronized: applying
/// an update, and the byte forms of updates and of the whole state.
///
/// `apply` must be deterministic: every process applies the same updates in
/// the same order and must end with equal states. Updates are computed
/// from the state they will apply to, so `apply` may ignore one that no
/// longer makes sense rather than fail.
pub trait SyncState: Sized {
    /// One change to the state.
    type Update;

    /// The state of an empty segment.
    fn initial() -> Self;

    /// Applies one update.
    fn apply(&mut self, update: &Self::Update);

    /// Appends the byte form of `update` to `out`.
    fn encode_update(update: &Self::Update, out: &mut Vec<u8>);

    /// Reads an update back; bytes from the node, so errors, never panics.
    fn decode_update(bytes: &[u8]) -> Result<Self::Update, ClientError>;

    /// Appends the byte form of the whole state to `out`.
    fn encode_snapshot(&self, out: &mut Vec<u8>);

    /// Reads a snapshot back.
    fn decode_snapshot(bytes: &[u8]) -> Result<Self, ClientError>;
}

/// The conventional segment of a synchronizer named `name` in `scope`.
pub fn sync_segment_name(scope: &str, name: &str) -> String {
    format!("_system/sync/{scope}/{name}")
}

/// One process's copy of a synchronized state. Not `Sync`: use one per
/// thread (each has its own writer id and reader).
pub struct StateSynchronizer<S: SyncState> {
    client: Client,
    segment: String,
    writer: SegmentWriter,
    /// Offset of the next byte to read (one-shot reads: the synchronizer
    /// always knows how far the segment reaches, so it never long-polls).
    read_at: u64,
    splitter: EventSplitter,
    state: S,
    /// Offset after the last record applied.
    revision: u64,
    /// Offset of the last snapshot applied (or of the segment's start).
    snapshot_at: u64,
    /// The reader starts after a truncation: its first record must be the
    /// snapshot the truncation was made at.
    need_snapshot: bool,
}

impl<S: SyncState> StateSynchronizer<S> {
    /// Opens the synchronizer over `segment` (creating the segment if it
    /// does not exist) and reads the state up to the segment's end.
    pub fn open(client: &Client, segment: &str) -> Result<Self, ClientError> {
        check_name(segment)?;
        match client.create_segment(segment).wait()? {
            CreateOutcome::Created | CreateOutcome::AlreadyExists => {}
        }
        let start = match client.info(segment).wait()? {
            InfoOutcome::Found(info) => info.start_offset,
            InfoOutcome::NoSuchSegment => return Err(missing(segment)),
        };
        let writer_id = (u128::from(random_u64()) << 64) | u128::from(random_u64());
        let mut synchronizer = StateSynchronizer {
            client: client.clone(),
            segment: segment.to_owned(),
            writer: client.segment_writer(segment, writer_id)?,
            read_at: start,
            splitter: EventSplitter::at(start),
            state: S::initial(),
            revision: start,
            snapshot_at: start,
            need_snapshot: start > 0,
        };
        synchronizer.fetch_updates()?;
        Ok(synchronizer)
    }

    /// The segment holding the records.
    pub fn segment(&self) -> &str {
        &self.segment
    }

    /// The state as of [`StateSynchronizer::revision`].
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The segment offset after the last record applied.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Bytes of history after the last snapshot (what a compaction frees).
    pub fn bytes_since_snapshot(&self) -> u64 {
        self.revision - self.snapshot_at
    }

    /// Applies every record appended since the last fetch.
    pub fn fetch_updates(&mut self) -> Result<(), ClientError> {
        let length = match self.client.info(&self.segment).wait()? {
            InfoOutcome::Found(info) => info.length,
            InfoOutcome::NoSuchSegment => return Err(missing(&self.segment)),
        };
        self.catch_up(length)
    }

    /// Changes the state: `generate` computes updates from the current
    /// state, and they are appended only if the state is still current;
    /// otherwise the missed records are applied and `generate` runs again.
    /// No updates: nothing is written.
    pub fn update(
        &mut self,
        mut generate: impl FnMut(&S) -> Vec<S::Update>,
    ) -> Result<(), ClientError> {
        self.try_update(|state| Ok((generate(state), ())))
    }

    /// [`StateSynchronizer::update`] for a closure that can fail (its error
    /// ends the update) or return a value along with the updates (the value
    /// of the run whose updates landed).
    pub fn try_update<T>(
        &mut self,
        mut generate: impl FnMut(&S) -> Result<(Vec<S::Update>, T), ClientError>,
    ) -> Result<T, ClientError> {
        for _ in 0..MAX_CONFLICTS {
            let (updates, value) = generate(&self.state)?;
            if updates.is_empty() {
                return Ok(value);
            }
            let mut payload = Vec::new();
            let mut body = Vec::new();
            for update in &updates {
                body.clear();
                S::encode_update(update, &mut body);
                record::push_update(&mut payload, &body)?;
            }
            if self.append_at_revision(payload)? {
                return Ok(value);
            }
        }
        Err(ClientError::retryable(format!(
            "{}: {MAX_CONFLICTS} conflicting updates in a row",
            self.segment
        )))
    }

    /// Writes a snapshot of the current state and truncates the history
    /// before it. Retries on conflict like an update.
    pub fn compact(&mut self) -> Result<(), ClientError> {
        for _ in 0..MAX_CONFLICTS {
            let mut body = Vec::new();
            self.state.encode_snapshot(&mut body);
            let mut payload = Vec::new();
            record::push_snapshot(&mut payload, &body)?;
            let at = self.revision;
            if self.append_at_revision(payload)? {
                return match self.client.truncate(&self.segment, at).wait()? {
                    TruncateOutcome::Truncated { .. } => Ok(()),
                    TruncateOutcome::NoSuchSegment => Err(missing(&self.segment)),
                };
            }
        }
        Err(ClientError::retryable(format!(
            "{}: {MAX_CONFLICTS} conflicting compactions in a row",
            self.segment
        )))
    }

    /// Appends `payload` (whole records) if the segment ends at the
    /// revision, then reads it back (true); on a conflict reads what was
    /// missed instead (false).
    fn append_at_revision(&mut self, payload: Vec<u8>) -> Result<bool, ClientError> {
        let len = payload.len() as u64;
        let expected = self.revision;
        match self.writer.append_conditional(payload, expected).wait()? {
            ConditionalOutcome::Appended(_) => {
                // Read back rather than applied locally: the reader must
                // move past these bytes anyway, and one path keeps every
                // copy of the state the fold of the same log.
                self.catch_up(expected + len)?;
                Ok(true)
            }
            ConditionalOutcome::ConditionalAppendFailed { current_length } => {
                self.catch_up(current_length)?;
                Ok(false)
            }
            ConditionalOutcome::Sealed { .. } => Err(ClientError::fatal(format!(
                "{}: the synchronizer's segment is sealed",
                self.segment
            ))),
            ConditionalOutcome::NoSuchSegment => Err(missing(&self.segment)),
        }
    }

    /// Reads and applies records until the revision reaches `target` (a
    /// record boundary the segment is known to hold).
    fn catch_up(&mut self, target: u64) -> Result<(), ClientError> {
        let mut empty = 0;
        while self.revision < target {
            let read = self
                .client
                .read_once(&self.segment, self.read_at, READ_BYTES, READ_WAIT_MS);
            match read.wait()? {
                ReadOutcome::Data(chunk) if chunk.data.is_empty() => {
                    empty += 1;
                    if empty >= MAX_EMPTY_READS {
                        return Err(ClientError::retryable(format!(
                            "{}: no bytes at offset {} after {MAX_EMPTY_READS} waits",
                            self.segment, self.read_at
                        )));
                    }
                }
                ReadOutcome::Data(chunk) => {
                    empty = 0;
                    self.read_at = chunk.offset + chunk.data.len() as u64;
                    let events = self.splitter.push(&chunk.data, MAX_RECORD_BYTES + 1)?;
                    for event in events {
                        self.apply_record(&event.payload, event.offset)?;
                        self.revision =
                            event.offset + (EVENT_HEADER_BYTES + event.payload.len()) as u64;
                    }
                }
                ReadOutcome::Truncated { start_offset } => {
                    // Compacted under us: the record at the new start is
                    // the snapshot that replaces all we had.
                    self.read_at = start_offset;
                    self.splitter = EventSplitter::at(start_offset);
                    self.revision = start_offset;
                    self.need_snapshot = true;
                }
                ReadOutcome::EndOfSegment { offset } => {
                    return Err(ClientError::fatal(format!(
                        "{}: sealed at {offset}, before offset {target}",
                        self.segment
                    )));
                }
                ReadOutcome::NoSuchSegment => return Err(missing(&self.segment)),
            }
        }
        Ok(())
    }

    fn apply_record(&mut self, payload: &[u8], offset: u64) -> Result<(), ClientError> {
        match record::parse(payload, offset)? {
            Record::Snapshot(body) => {
                self.state = S::decode_snapshot(body)
                    .map_err(|e| e.context(format_args!("{} offset {offset}", self.segment)))?;
                self.snapshot_at = offset;
                self.need_snapshot = false;
            }
            Record::Update(_) if self.need_snapshot => {
                return Err(ClientError::protocol(format_args!(
                    "{}: an update at offset {offset} where the snapshot after a truncation \
                     belongs",
                    self.segment
                )));
            }
            Record::Update(body) => {
                let update = S::decode_update(body)
                    .map_err(|e| e.context(format_args!("{} offset {offset}", self.segment)))?;
                self.state.apply(&update);
            }
        }
        Ok(())
    }
}

impl<S: SyncState> std::fmt::Debug for StateSynchronizer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSynchronizer")
            .field("segment", &self.segment)
            .field("revision", &self.revision)
            .finish()
    }
}

fn missing(segment: &str) -> ClientError {
    ClientError::invalid(format!(
        "{segment}: the synchronizer's segment does not exist"
    ))
}
