//! [`EventReader`]: one reader of a group. It reads the segments the
//! group state gives it and, every `refresh`, brings itself in line with
//! the state: drops what it no longer owns, passes pending checkpoints,
//! releases a segment over its fair share or acquires unassigned ones.
//! At a segment's end it records the completion (opening successors whose
//! predecessors are all read) and moves on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{Thread, ThreadId};
use std::time::{Duration, Instant};

use super::cursor::{Cursor, Step};
use super::rules;
use super::state::{
    GroupState, MAX_GROUP_SEGMENTS, MAX_READERS, Positions, SegmentId, Update, check_name,
};
use super::{Event, EventRead, Position};
use crate::client::Client;
use crate::error::ClientError;
use crate::stream::StreamName;
use crate::synchronizer::{MAX_RECORD_BYTES, StateSynchronizer, SyncState};

/// History the group's segment may gather before a reader compacts it.
const COMPACT_AFTER_BYTES: u64 = 256 * 1024;

/// Reads its share of a group's segments. Use from one thread at a time.
///
/// Call [`EventReader::close`] when done: it hands the reader's segments
/// back at its position. A reader dropped without it is like one that
/// crashed: its segments stay with it until someone calls
/// [`super::ReaderGroup::reader_offline`].
pub struct EventReader {
    client: Client,
    name: String,
    sync: StateSynchronizer<GroupState>,
    /// The group state generation the cursors belong to.
    generation: u64,
    streams: Vec<StreamName>,
    cursors: BTreeMap<SegmentId, Cursor>,
    refresh: Duration,
    next_refresh: Instant,
    /// Where the next poll round starts, so no segment starves the others.
    turn: usize,
    waker: Waker,
    waker_thread: ThreadId,
}

/// Wakes the thread blocked in `read_next_event`.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl EventReader {
    pub(super) fn join(
        client: &Client,
        segment: &str,
        name: &str,
        refresh: Duration,
    ) -> Result<EventReader, ClientError> {
        check_name("reader", name)?;
        let mut sync: StateSynchronizer<GroupState> = StateSynchronizer::open(client, segment)?;
        sync.try_update(|state| {
            if state.readers.contains(name) {
                return Err(ClientError::invalid(format!(
                    "reader {name:?} is online in the group already; declare it offline first"
                )));
            }
            if state.readers.len() >= MAX_READERS {
                return Err(ClientError::invalid(format!(
                    "the group has {MAX_READERS} readers, the most it may"
                )));
            }
            let update = Update::AddReader {
                reader: name.to_owned(),
            };
            Ok((vec![update], ()))
        })?;
        let mut reader = EventReader {
            client: client.clone(),
            name: name.to_owned(),
            sync,
            generation: 0,
            streams: Vec::new(),
            cursors: BTreeMap::new(),
            refresh,
            next_refresh: Instant::now(),
            turn: 0,
            waker: Waker::from(Arc::new(ThreadWaker(std::thread::current()))),
            waker_thread: std::thread::current().id(),
        };
        reader.follow_state()?;
        Ok(reader)
    }

    /// The reader's name in the group.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the reader is: the offset of the next event of each segment
    /// it owns.
    pub fn position(&self) -> Position {
        Position {
            offsets: self.local_positions(),
        }
    }

    /// The next event, a checkpoint marker, or `None` if nothing arrived
    /// within `timeout` (at the tail, or while the group rebalances).
    pub fn read_next_event(&mut self, timeout: Duration) -> Result<Option<EventRead>, ClientError> {
        // The waker unparks the thread that reads now (made anew only when
        // the reader moved to another thread).
        let current = std::thread::current();
        if current.id() != self.waker_thread {
            self.waker_thread = current.id();
            self.waker = Waker::from(Arc::new(ThreadWaker(current)));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if Instant::now() >= self.next_refresh {
                self.refresh()?;
                if let Some(name) = self.pass_checkpoint()? {
                    return Ok(Some(EventRead::Checkpoint(name)));
                }
            }
            match self.poll_segments()? {
                Some(event) => return Ok(Some(EventRead::Event(event))),
                None => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    let until = deadline.min(self.next_refresh);
                    std::thread::park_timeout(until.saturating_duration_since(now));
                }
            }
        }
    }

    /// Leaves the group, handing every segment back at this reader's
    /// position.
    pub fn close(mut self) -> Result<(), ClientError> {
        let positions = self.local_positions();
        let name = self.name.clone();
        self.sync.update(|state| {
            if state.readers.contains(&name) {
                vec![Update::RemoveReader {
                    reader: name.clone(),
                    positions: positions.clone(),
                }]
            } else {
                Vec::new()
            }
        })
    }

    fn local_positions(&self) -> Positions {
        self.cursors
            .iter()
            .map(|(&segment, cursor)| (segment, cursor.position))
            .collect()
    }

    /// One round over the owned segments: the first event ready, or `None`
    /// if every segment is waiting. A finished segment is completed in the
    /// group state on the way.
    fn poll_segments(&mut self) -> Result<Option<Event>, ClientError> {
        let segments: Vec<SegmentId> = self.cursors.keys().copied().collect();
        if segments.is_empty() {
            return Ok(None);
        }
        let waker = self.waker.clone();
        let mut cx = Context::from_waker(&waker);
        for i in 0..segments.len() {
            let segment = segments[(self.turn + i) % segments.len()];
            let Some(cursor) = self.cursors.get_mut(&segment) else {
                continue;
            };
            match cursor.poll(&mut cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(Step::Event(event))) => {
                    self.turn = (self.turn + i + 1) % segments.len();
                    return Ok(Some(Event {
                        stream: self.stream(segment)?.clone(),
                        segment: segment.number,
                        offset: event.offset,
                        payload: event.payload,
                    }));
                }
                Poll::Ready(Ok(Step::Finished)) => {
                    // Successors may be ours to take at once; or a
                    // checkpoint must be passed first.
                    self.complete(segment)?;
                    self.next_refresh = Instant::now();
                }
                Poll::Ready(Err(error)) => {
                    // The next call reads on from the same position.
                    let fresh = cursor.reopen(&self.client)?;
                    self.cursors.insert(segment, fresh);
                    return Err(error);
                }
            }
        }
        Ok(None)
    }

    fn stream(&self, segment: SegmentId) -> Result<&StreamName, ClientError> {
        self.streams
            .get(usize::from(segment.stream))
            .ok_or_else(|| ClientError::protocol("the group state names a stream it lacks"))
    }

    /// Records that `segment` is read to its end, with the successors it
    /// opens (from the stream's description now). Not while this reader
    /// has a checkpoint to pass: the checkpoint's cut holds the segment at
    /// this reader's position, so its successors must not open before the
    /// reader has passed it (the cursor stays finished and completes on a
    /// later round).
    fn complete(&mut self, segment: SegmentId) -> Result<(), ClientError> {
        let stream = self.stream(segment)?.clone();
        let info = self
            .client
            .describe_stream(&stream)
            .wait()?
            .found(&stream.to_string())?;
        let name = self.name.clone();
        let done = self.sync.try_update(|state| {
            if state.checkpoint_for(&name).is_some() {
                return Ok((Vec::new(), false));
            }
            let ours = state
                .assigned
                .get(&segment)
                .is_some_and(|owned| owned.reader == name);
            if !ours {
                return Ok((Vec::new(), true));
            }
            let successors = rules::successors(state, segment, &info);
            if state.live_segments() + successors.len() > MAX_GROUP_SEGMENTS {
                return Err(ClientError::invalid(format!(
                    "segment {} opens {} successors; the group would track more than \
                     {MAX_GROUP_SEGMENTS} segments",
                    segment.number,
                    successors.len()
                )));
            }
            let update = Update::Complete {
                reader: name.clone(),
                segment,
                successors,
            };
            // Wait sets are as large as scales make them: check that the
            // state still fits one snapshot before it grows.
            let mut after = state.clone();
            after.apply(&update);
            let mut snapshot = Vec::new();
            after.encode_snapshot(&mut snapshot);
            if snapshot.len() > MAX_RECORD_BYTES {
                return Err(ClientError::invalid(format!(
                    "completing segment {} would grow the group state past {MAX_RECORD_BYTES} bytes",
                    segment.number
                )));
            }
            Ok((vec![update], true))
        })?;
        if done {
            self.cursors.remove(&segment);
        }
        Ok(())
    }

    /// Reads the group state, releases or acquires toward a fair share,
    /// and follows what the state says this reader owns.
    fn refresh(&mut self) -> Result<(), ClientError> {
        self.next_refresh = Instant::now() + self.refresh;
        self.sync.fetch_updates()?;
        self.follow_state()?;
        let positions = self.local_positions();
        let name = self.name.clone();
        self.sync.update(|state| {
            if let Some(segment) = rules::to_release(state, &name) {
                let offset = positions
                    .get(&segment)
                    .or_else(|| state.assigned.get(&segment).map(|o| &o.offset))
                    .copied()
                    .unwrap_or(0);
                return vec![Update::Release {
                    reader: name.clone(),
                    segment,
                    offset,
                }];
            }
            let segments = rules::to_acquire(state, &name);
            if segments.is_empty() {
                return Vec::new();
            }
            vec![Update::Acquire {
                reader: name.clone(),
                segments,
            }]
        })?;
        self.follow_state()?;
        if self.sync.bytes_since_snapshot() > COMPACT_AFTER_BYTES {
            self.sync.compact()?;
        }
        Ok(())
    }

    /// Makes the cursors match what the state says this reader owns.
    fn follow_state(&mut self) -> Result<(), ClientError> {
        let state = self.sync.state();
        if state.generation != self.generation {
            // A reset: whatever was read before no longer counts.
            self.cursors.clear();
            self.generation = state.generation;
            self.streams = state
                .bounds
                .streams
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?;
        }
        if !state.readers.contains(&self.name) {
            return Err(ClientError::invalid(format!(
                "reader {:?} was declared offline; its segments went to others",
                self.name
            )));
        }
        let owned: BTreeMap<SegmentId, u64> = state
            .assigned
            .iter()
            .filter(|(_, owned)| owned.reader == self.name)
            .map(|(&segment, owned)| (segment, owned.offset))
            .collect();
        let ends = state.bounds.ends.clone();
        self.cursors
            .retain(|segment, _| owned.contains_key(segment));
        for (segment, offset) in owned {
            if self.cursors.contains_key(&segment) {
                continue;
            }
            let stream = self.stream(segment)?;
            let name =
                spate_wire::stream::segment_name(&stream.scope, &stream.stream, segment.number);
            let cursor = Cursor::open(&self.client, &name, offset, ends.get(&segment).copied())?;
            self.cursors.insert(segment, cursor);
        }
        Ok(())
    }

    /// Passes a pending checkpoint this reader has not passed yet: records
    /// its positions and returns the checkpoint's name.
    fn pass_checkpoint(&mut self) -> Result<Option<String>, ClientError> {
        let positions = self.local_positions();
        let name = self.name.clone();
        self.sync.try_update(|state| {
            let Some(pending) = state.checkpoint_for(&name) else {
                return Ok((Vec::new(), None));
            };
            let update = Update::CheckpointReached {
                reader: name.clone(),
                name: pending.name.clone(),
                positions: positions.clone(),
            };
            Ok((vec![update], Some(pending.name.clone())))
        })
    }
}

impl std::fmt::Debug for EventReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader")
            .field("name", &self.name)
            .field("segments", &self.cursors.len())
            .finish()
    }
}
