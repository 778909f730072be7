//! The segments of one container, as a deterministic state machine.
//!
//! No I/O, no clock, no runtime: the per-core runtime feeds requests in, gets
//! journal records and replies out, and reports durability back. Everything
//! here is single-threaded and repeatable, so it is tested without a disk.
//!
//! # Two views
//!
//! A container keeps two views of its segments, both built by the same
//! function (`State::apply`, the only code that changes a view):
//!
//! - **live**: every mutation numbered so far, durable or not. Requests are
//!   validated against it, so a conditional append or a duplicate check sees
//!   appends still in the journal's queue.
//! - **durable**: mutations up to the last [`Container::mark_durable`]. Reads
//!   and queries (`GetInfo`, `GetAttribute`, `GetWriterState`) see only this,
//!   so no client ever observes a byte or a value that a crash could undo.
//!
//! Only the durable view holds data; the live view tracks lengths, so it
//! costs metadata only. Replay applies each record to both views; since the
//! durable view is the fold of `apply` over durable records, replay
//! reproduces it exactly (`tests/replay.rs` checks this on random workloads).
//!
//! # The read cache
//!
//! The durable view's data is the core's read cache. Once the runtime says
//! where an append's record lies in the journal ([`Container::journaled`],
//! or the location recovery reports), its chunk can be evicted: over
//! `data_budget_bytes`, the oldest durable chunks drop their bytes, and a
//! read of them becomes [`ReadOutcome::Load`], a plan the runtime completes
//! by reading the journal back.
//!
//! # Replies and durability
//!
//! [`Container::execute`] answers each request with an [`Execution`]:
//!
//! - a mutation is applied to the live view at once and returns
//!   `Journal { record, seq, reply }`; the reply goes out once `seq` is
//!   durable;
//! - a query returns `Reply`, answered from the durable view;
//! - an answer computed from the live view without a mutation of its own (a
//!   duplicate append, a second seal, `SegmentExists` for a segment whose
//!   creation is pending, a failed condition against a pending append) is
//!   true only once the mutations it observed are durable. It carries the
//!   seq of the last mutation that touched the segment(s) involved and goes
//!   out as `ReplyWhenDurable { seq, reply }`, or as a plain `Reply` when
//!   that seq is durable already. A duplicate append thus waits for its
//!   original (or anything later on that segment), never acking ahead of it.
//!
//! # Exactly-once appends
//!
//! Each segment keeps the last event number per writer id, updated by the
//! append record itself, so it is durable with the data. An event whose
//! number is not above the writer's last is a duplicate and is acked without
//! being written, even on a sealed segment (the event is in it; answering
//! `SegmentIsSealed` would make the writer resend it to a successor). In a
//! batch, the leading events at or below the writer's last are dropped and
//! the rest is appended atomically; the ack names the batch's last event.
//!
//! # Merge
//!
//! The source must exist in this container, be sealed and not truncated (as
//! in Pravega); the target must not be sealed. The source's bytes move to
//! the end of the target (chunks move, no copy) and the source disappears.
//! Its attributes and writer states are **not** carried over: Pravega drops
//! them too, and merging writer states would be unsafe, since a writer id
//! may have used unrelated event numbers on the two segments, and taking the
//! larger would silently drop its next real events on the target.
//!
//! # Seal
//!
//! Sealing is final and idempotent. A sealed segment takes no appends, no
//! merges into it and no attribute updates (read-only for good, as in
//! Pravega); it can still be truncated, read, merged away and deleted.
//!
//! # Limits (each refusal says why)
//!
//! - data that cannot be evicted (not durable yet, or with no journal
//!   location) over `data_budget_bytes`: `Error { Busy }` (retry; it becomes
//!   evictable as the journal catches up); with none held, an append goes
//!   in whatever its size (an event larger than the budget must fit once);
//! - segments over `max_segments`: `Error { Busy }`;
//! - a new attribute key or writer id over its per-segment bound:
//!   `Error { InvalidArgument }` with advice `GiveUp` (retrying cannot help);
//! - an append whose record would exceed `max_record_bytes`:
//!   `Error { InvalidArgument }` (send smaller batches).

mod append;
mod chunks;
mod flushing;
mod mutation;
mod plan;
mod read;
mod record;
mod replies;
mod snapshot;
mod state;
#[cfg(test)]
mod tests;
mod types;

use std::collections::VecDeque;

pub use chunks::{DataSource, FlushRun, HotData, JournalData, Piece, resident_bytes};
pub use record::{
    MAX_APPEND_OVERHEAD_BYTES, RECORD_HEADER_BYTES, RECORD_VERSION, ReplayError, record_container,
};
pub use snapshot::{Snapshot, SnapshotError, decode_checkpoint, encode_checkpoint};
pub use state::ApplyError;
pub use types::{
    ContainerId, ContainerLimits, ContainerStats, Execution, MIN_MAX_RECORD_BYTES, MutationSeq,
    ReadOutcome, ReadPlan,
};

use mutation::Mutation;
use record::Record;
use spate_journal::RecordLocation;
use spate_wire::Reply;
use state::State;

/// The segment state of one container. See the module documentation.
pub struct Container {
    id: ContainerId,
    limits: ContainerLimits,
    /// Every mutation numbered so far.
    live: State,
    /// Mutations up to `durable_seq`.
    durable: State,
    /// Mutations applied to `live` but not yet to `durable`, in seq order.
    pending: VecDeque<Pending>,
    /// Data of the pending appends: in memory, and not evictable yet.
    pending_bytes: u64,
    /// Durable chunks that may be resident and evictable, oldest first, as
    /// (segment, chunk offset). Entries of chunks since truncated, deleted or
    /// merged away are skipped when they reach the front.
    eviction_queue: VecDeque<(String, u64)>,
    /// The queue's length after its last compaction.
    eviction_queue_compacted: usize,
    last_seq: MutationSeq,
    durable_seq: MutationSeq,
    /// Per (segment, writer): the first event refused for lack of memory.
    /// Later events of that writer are refused too until it is resent, so a
    /// refusal never leaves a gap that the resend would then fall into as a
    /// "duplicate". Not journaled: after a restart the client resends in
    /// order anyway.
    refused: std::collections::HashMap<(String, u128), i64>,
    /// Bytes evicted so far, for the node's metrics.
    evicted_bytes: u64,
}

/// Whether a segment's data stays in memory for good and goes into every
/// checkpoint whole, instead of being named by its journal records: the
/// controller's metadata logs (`_system/…`). They are small, live as long as
/// the node, and are written a little at a time; named by journal records,
/// each of their appends would hold back the release of everything the
/// journal took after it.
pub fn kept_in_memory(segment: &str) -> bool {
    segment.starts_with("_system/")
}

/// Below this many entries the eviction queue is never compacted.
const EVICTION_QUEUE_COMPACT_MIN: usize = 4096;

struct Pending {
    seq: MutationSeq,
    mutation: Mutation,
}

impl Container {
    /// An empty container. Panics if `limits.max_record_bytes` is below
    /// [`MIN_MAX_RECORD_BYTES`]: such a node could never store a maximal event.
    pub fn new(id: ContainerId, limits: ContainerLimits) -> Self {
        assert!(
            limits.max_record_bytes >= MIN_MAX_RECORD_BYTES,
            "max_record_bytes {} is below MIN_MAX_RECORD_BYTES {MIN_MAX_RECORD_BYTES}",
            limits.max_record_bytes
        );
        Container {
            id,
            limits,
            live: State::lengths_only(),
            durable: State::default(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            eviction_queue: VecDeque::new(),
            eviction_queue_compacted: 0,
            last_seq: 0,
            durable_seq: 0,
            refused: std::collections::HashMap::new(),
            evicted_bytes: 0,
        }
    }

    pub fn id(&self) -> ContainerId {
        self.id
    }

    pub fn stats(&self) -> ContainerStats {
        ContainerStats {
            segments: self.live.segment_count(),
            data_bytes: self.held_bytes(),
            pending_mutations: self.pending.len(),
            durable_seq: self.durable_seq,
            last_seq: self.last_seq,
            evicted_bytes: self.evicted_bytes,
        }
    }

    /// Every mutation with seq <= `seq` is durable. Returns the segments
    /// whose durable length grew or that became sealed, merged away or
    /// deleted (sorted, no repeats), so the runtime can wake their readers.
    ///
    /// Panics if `seq` was never handed out: that is a runtime bug.
    pub fn mark_durable(&mut self, seq: MutationSeq) -> Vec<String> {
        assert!(
            seq <= self.last_seq,
            "mark_durable({seq}) beyond the last seq handed out ({})",
            self.last_seq
        );
        let done = self.pending.partition_point(|p| p.seq <= seq);
        let mut woken = Vec::new();
        for pending in self.pending.drain(..done) {
            apply_or_panic(&mut self.durable, &pending.mutation, pending.seq);
            self.pending_bytes -= appended_bytes(&pending.mutation);
            queue_for_eviction(&mut self.eviction_queue, &pending.mutation);
            pending.mutation.wakes(&mut woken);
        }
        self.durable_seq = self.durable_seq.max(seq);
        self.evict_over_budget();
        woken.sort_unstable();
        woken.dedup();
        woken
    }

    /// Says where the record of mutation `seq` lies in the journal, so its
    /// data can be evicted once durable and read back. Call it before
    /// [`mark_durable`](Self::mark_durable) covers `seq`; `payload_len` is
    /// the length of the record as returned by `execute`.
    pub fn journaled(&mut self, seq: MutationSeq, location: RecordLocation, payload_len: u32) {
        let at = self.pending.partition_point(|p| p.seq < seq);
        let pending = self
            .pending
            .get_mut(at)
            .filter(|p| p.seq == seq)
            .expect("journaled() for a pending mutation");
        if let Mutation::Append {
            segment, source, ..
        } = &mut pending.mutation
            && !kept_in_memory(segment)
        {
            *source = Some(JournalData {
                location,
                payload_len,
            });
        }
    }

    /// Applies one journal record during recovery. Records must come in
    /// journal order, before any live request; what they build is durable.
    /// `location` is where the record lies, if it can be read back there.
    pub fn replay(
        &mut self,
        record: &[u8],
        location: Option<RecordLocation>,
    ) -> Result<(), ReplayError> {
        assert!(
            self.pending.is_empty(),
            "replay into a container with live mutations pending"
        );
        let Record {
            container,
            seq,
            mut mutation,
        } = record::decode(record)?;
        if let (
            Mutation::Append {
                segment, source, ..
            },
            Some(location),
        ) = (&mut mutation, location)
            && !kept_in_memory(segment)
        {
            let payload_len =
                u32::try_from(record.len()).map_err(|_| ReplayError::TooLong(record.len()))?;
            *source = Some(JournalData {
                location,
                payload_len,
            });
        }
        if container != self.id {
            return Err(ReplayError::WrongContainer {
                expected: self.id,
                found: container,
            });
        }
        if seq != self.last_seq + 1 {
            return Err(ReplayError::SeqGap {
                expected: self.last_seq + 1,
                found: seq,
            });
        }
        self.durable
            .apply(&mutation, seq)
            .map_err(|source| ReplayError::Inconsistent { seq, source })?;
        // The views were equal (nothing pending), so this cannot fail.
        apply_or_panic(&mut self.live, &mutation, seq);
        queue_for_eviction(&mut self.eviction_queue, &mutation);
        self.last_seq = seq;
        self.durable_seq = seq;
        self.evict_over_budget();
        Ok(())
    }

    /// The state after every mutation numbered so far, as checkpoint
    /// metadata. Every pending mutation must be in the journal already (the
    /// checkpoint record follows them); `None` if some data has no journal
    /// location yet, in which case no checkpoint can be taken now.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.snapshot_through(self.last_seq)
    }

    /// The state after the mutations numbered up to `through` (at least the
    /// durable ones), as checkpoint metadata: a checkpoint record may then
    /// go into the journal after those mutations' records and before the
    /// later ones, which a busy journal has not taken yet. `None` if some of
    /// the data it covers has no journal location yet.
    pub fn snapshot_through(&self, through: MutationSeq) -> Option<Snapshot> {
        assert!(
            self.durable_seq <= through && through <= self.last_seq,
            "snapshot through {through} outside [{}, {}]",
            self.durable_seq,
            self.last_seq
        );
        let mut state = self.durable.clone();
        for pending in self.pending.iter().take_while(|p| p.seq <= through) {
            if let Mutation::Append {
                segment,
                source: None,
                ..
            } = &pending.mutation
                && !kept_in_memory(segment)
            {
                return None;
            }
            apply_or_panic(&mut state, &pending.mutation, pending.seq);
        }
        Some(Snapshot {
            container: self.id,
            last_seq: through,
            segments: state.snapshot_segments()?,
        })
    }

    /// A container rebuilt from a checkpoint: its mutations are durable, its
    /// data all evicted (read back from the journal on demand). Replay goes
    /// on with the records that follow the checkpoint.
    pub fn restore(
        id: ContainerId,
        limits: ContainerLimits,
        snapshot: &Snapshot,
    ) -> Result<Self, SnapshotError> {
        if snapshot.container != id {
            return Err(SnapshotError::WrongContainer {
                expected: id,
                found: snapshot.container,
            });
        }
        let mut container = Self::new(id, limits);
        container.durable = State::restore(&snapshot.segments, false)?;
        container.live = State::restore(&snapshot.segments, true)?;
        container.last_seq = snapshot.last_seq;
        container.durable_seq = snapshot.last_seq;
        Ok(container)
    }

    /// Memory held by segment data: the durable view's resident chunks and
    /// the data of pending appends.
    fn held_bytes(&self) -> u64 {
        self.durable.data_bytes() + self.pending_bytes
    }

    /// Memory held by data that cannot be evicted now.
    fn unevictable_bytes(&self) -> u64 {
        self.held_bytes() - self.durable.evictable_bytes()
    }

    /// Evicts the oldest evictable chunks while the data held is over budget.
    fn evict_over_budget(&mut self) {
        while self.held_bytes() > self.limits.data_budget_bytes
            && self.durable.evictable_bytes() > 0
        {
            let Some((segment, offset)) = self.eviction_queue.pop_front() else {
                // Merged chunks left the queue with their source segment:
                // find them the slow way (they exist: evictable bytes do).
                let excess = self.held_bytes() - self.limits.data_budget_bytes;
                self.evicted_bytes += self.durable.evict_any(excess);
                return;
            };
            self.evicted_bytes += self.durable.evict(&segment, offset);
        }
        self.compact_eviction_queue();
    }

    /// Drops queue entries whose chunk was truncated, deleted, merged away
    /// or evicted, once they could outnumber the live ones: without this a
    /// container that never fills its budget would queue an entry per
    /// append forever. Amortised: the queue at least doubles between passes.
    fn compact_eviction_queue(&mut self) {
        let len = self.eviction_queue.len();
        if len < EVICTION_QUEUE_COMPACT_MIN || len < 2 * self.eviction_queue_compacted {
            return;
        }
        // A segment deleted and created again reuses names and offsets: of
        // entries naming the same chunk only the newest (last) is its own.
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<(String, u64)> = Vec::new();
        for (segment, offset) in self.eviction_queue.drain(..).rev() {
            if self.durable.is_evictable(&segment, offset) && seen.insert((segment.clone(), offset))
            {
                kept.push((segment, offset));
            }
        }
        self.eviction_queue = kept.into_iter().rev().collect();
        self.eviction_queue_compacted = self.eviction_queue.len();
    }

    /// Numbers `mutation`, applies it to the live view and queues it until
    /// durable. The caller has validated it against the live view.
    fn journal(&mut self, mutation: Mutation, reply: impl Into<Reply>) -> Execution {
        let seq = self.last_seq + 1;
        let record = record::encode(self.id, seq, &mutation);
        apply_or_panic(&mut self.live, &mutation, seq);
        self.pending_bytes += appended_bytes(&mutation);
        self.pending.push_back(Pending { seq, mutation });
        self.last_seq = seq;
        Execution::Journal {
            record,
            seq,
            reply: reply.into(),
        }
    }

    /// A reply computed from the live view, true once mutation `after` is
    /// durable.
    fn answer(&self, reply: impl Into<Reply>, after: MutationSeq) -> Execution {
        let reply = reply.into();
        if after <= self.durable_seq {
            Execution::Reply(reply)
        } else {
            Execution::ReplyWhenDurable { seq: after, reply }
        }
    }

    /// The last mutation that a live-view answer about `name` depends on.
    /// A segment the live view lacks but the durable view has is being
    /// deleted or merged away by a pending mutation: wait for all of them.
    fn seen(&self, name: &str) -> MutationSeq {
        match self.live.get(name) {
            Some(segment) => segment.last_seq,
            None if self.durable.get(name).is_some() => self.last_seq,
            None => 0,
        }
    }
}

/// Applies a mutation that is known to fit: validated against the live
/// view, or already applied to an identical view. Failure is a bug.
fn apply_or_panic(state: &mut State, mutation: &Mutation, seq: MutationSeq) {
    if let Err(error) = state.apply(mutation, seq) {
        panic!("mutation {seq} does not fit a view it was validated for: {error}")
    }
}

/// The data bytes an append brings into memory (0 for other mutations).
fn appended_bytes(mutation: &Mutation) -> u64 {
    match mutation {
        Mutation::Append { data, .. } => data.len() as u64,
        _ => 0,
    }
}

/// Queues the chunk a durable append added, if it could be evicted.
fn queue_for_eviction(queue: &mut VecDeque<(String, u64)>, mutation: &Mutation) {
    if let Mutation::Append {
        segment,
        offset,
        data,
        source: Some(_),
        ..
    } = mutation
        && !data.is_empty()
    {
        queue.push_back((segment.clone(), *offset));
    }
}
