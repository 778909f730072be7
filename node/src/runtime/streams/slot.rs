//! One stream as the core that owns its log sees it: the log's fold,
//! cached with the length it reflects, and a lock that lets one request or
//! background job at a time work on the stream.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::sync::{Permit, Semaphore};

use super::super::dispatch::CoreContext;
use super::faults;
use super::logs::{self, Appended, StepError};
use super::retention::RecordedCuts;
use crate::controller::{StreamEvent, StreamState, decode_log, encode_bounded, encode_event};

pub struct StreamSlot {
    pub scope: String,
    pub stream: String,
    /// The segment holding the stream's metadata log.
    pub log: String,
    lock: Rc<Semaphore>,
    loaded: RefCell<Option<Loaded>>,
    /// Tail cuts recorded for retention (in memory only).
    pub cuts: RefCell<RecordedCuts>,
    /// When each open transaction's lease runs out (in memory only).
    leases: RefCell<HashMap<u64, Instant>>,
}

struct Loaded {
    state: StreamState,
    length: u64,
    /// Where the fold starts: the `Created` or `Snapshot` event's offset.
    first: u64,
}

/// A log longer than this past its first event is compacted: a snapshot
/// is appended and the log truncated before it. Every transaction adds
/// four events (about 100 bytes), so this is some hundreds of them.
const COMPACT_AFTER_BYTES: u64 = 64 << 10;

impl StreamSlot {
    pub fn new(scope: &str, stream: &str) -> Self {
        Self {
            scope: scope.to_owned(),
            stream: stream.to_owned(),
            log: spate_wire::stream_log_segment(scope, stream),
            lock: Rc::new(Semaphore::new(1)),
            loaded: RefCell::new(None),
            cuts: RefCell::new(RecordedCuts::default()),
            leases: RefCell::new(HashMap::new()),
        }
    }

    /// Waits for the stream's lock. Only a closed semaphore fails, and
    /// nothing closes this one.
    pub async fn lock(&self) -> Option<Permit<'_>> {
        self.lock.acquire_permit(1).await.ok()
    }

    /// Whether someone holds or waits for the lock.
    pub fn in_use(&self) -> bool {
        self.lock.available() == 0
    }

    /// Brings the cached state up to the log's end. False if the stream
    /// does not exist.
    pub async fn refresh(&self, ctx: &CoreContext) -> Result<bool, StepError> {
        let from = self.loaded.borrow().as_ref().map_or(0, |l| l.length);
        let Some(read) = logs::read_log(ctx, &self.log, from).await? else {
            self.forget();
            return Ok(false);
        };
        if read.bytes.is_empty() {
            return Ok(self.loaded.borrow().is_some());
        }
        let corrupt = |why: String| StepError::Corrupt(format!("stream log {}: {why}", self.log));
        let events = decode_log(&read.bytes).map_err(|e| corrupt(e.to_string()))?;
        let mut loaded = self.loaded.borrow_mut();
        let mut events = events.iter();
        if loaded.is_none() {
            let Some(first) = events.next() else {
                return Ok(false);
            };
            let state = StreamState::from_created(first).map_err(|e| corrupt(e.to_string()))?;
            *loaded = Some(Loaded {
                state,
                length: 0,
                first: read.start,
            });
        }
        let current = loaded.as_mut().expect("loaded above");
        for event in events {
            current
                .state
                .apply(event)
                .map_err(|e| corrupt(e.to_string()))?;
        }
        current.length = read.length;
        Ok(true)
    }

    /// Runs `f` on the cached state (`None` if not loaded).
    pub fn with_state<T>(&self, f: impl FnOnce(&StreamState) -> T) -> Option<T> {
        self.loaded.borrow().as_ref().map(|l| f(&l.state))
    }

    /// Appends `event` to the log, conditional on the cached length, and
    /// applies it. For the first event (`Created`) the log must be empty.
    pub async fn append(&self, ctx: &CoreContext, event: StreamEvent) -> Result<(), StepError> {
        let length = self.loaded.borrow().as_ref().map_or(0, |l| l.length);
        let mut bytes = Vec::new();
        encode_event(&event, &mut bytes);
        let appended = match logs::append_at(ctx, &self.log, length, bytes).await {
            Err(StepError::Conflict) => {
                // Someone else changed the log: reread before deciding again.
                self.forget();
                return Err(StepError::Conflict);
            }
            other => other?,
        };
        let Appended::At(new_length) = appended else {
            self.forget();
            return Err(StepError::Conflict);
        };
        let mut loaded = self.loaded.borrow_mut();
        match loaded.as_mut() {
            Some(current) => {
                current
                    .state
                    .apply(&event)
                    .map_err(|e| StepError::Corrupt(format!("applying {event:?}: {e}")))?;
                current.length = new_length;
            }
            None => {
                let state = StreamState::from_created(&event)
                    .map_err(|e| StepError::Corrupt(format!("applying {event:?}: {e}")))?;
                *loaded = Some(Loaded {
                    state,
                    length: new_length,
                    first: length,
                });
            }
        }
        drop(loaded);
        faults::after_event(&self.log, &event);
        Ok(())
    }

    /// Compacts a long log while no workflow runs: appends a snapshot of
    /// the state and truncates the log before it. A crash between the two
    /// leaves a snapshot that restates the state, which replays as a no-op.
    pub async fn compact_if_long(&self, ctx: &CoreContext) -> Result<(), StepError> {
        let framed = {
            let loaded = self.loaded.borrow();
            let Some(current) = loaded.as_ref() else {
                return Ok(());
            };
            if current.length - current.first < COMPACT_AFTER_BYTES {
                return Ok(());
            }
            let Some(snapshot) = current.state.snapshot() else {
                return Ok(());
            };
            match encode_bounded(&StreamEvent::Snapshot(Box::new(snapshot))) {
                Some(framed) => framed,
                None => {
                    tracing::warn!(stream = %self.log, "the stream's history is too large for one snapshot; its log is not compacted");
                    return Ok(());
                }
            }
        };
        let at = self.loaded.borrow().as_ref().map_or(0, |l| l.length);
        match logs::append_at(ctx, &self.log, at, framed).await? {
            Appended::At(length) => {
                if let Some(current) = self.loaded.borrow_mut().as_mut() {
                    current.length = length;
                    current.first = at;
                }
            }
            Appended::NoLog => {
                self.forget();
                return Ok(());
            }
        }
        logs::truncate(ctx, &self.log, at).await
    }

    /// Gives open transaction `id` a whole lease from now.
    pub fn renew_lease(&self, id: u64, lease_ms: u64) {
        let deadline = Instant::now() + Duration::from_millis(lease_ms);
        self.leases.borrow_mut().insert(id, deadline);
    }

    /// Whether open transaction `id`'s lease ran out. One this core has no
    /// deadline for (it opened before a restart) starts a whole lease now.
    pub fn lease_expired(&self, id: u64, lease_ms: u64) -> bool {
        let now = Instant::now();
        let mut leases = self.leases.borrow_mut();
        let deadline = leases
            .entry(id)
            .or_insert_with(|| now + Duration::from_millis(lease_ms));
        *deadline <= now
    }

    pub fn drop_lease(&self, id: u64) {
        self.leases.borrow_mut().remove(&id);
    }

    /// Drops the cache: the next refresh reads the log from the start.
    pub fn forget(&self) {
        *self.loaded.borrow_mut() = None;
    }
}
