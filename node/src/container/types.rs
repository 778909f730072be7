//! The types a container's caller (the per-core runtime) sees.

use spate_wire::{MAX_EVENT_BYTES, Reply};

use super::record::MAX_APPEND_OVERHEAD_BYTES;

/// Identifies a container; `spate_wire::container_for` maps names to these.
pub type ContainerId = u32;

/// Container-local number of a journaled mutation: the first is 1, and each
/// one after is one more. Numbering continues across restarts (replay resumes
/// it), and every journal record carries its number.
pub type MutationSeq = u64;

/// The journal record size a node must allow so that one maximal event
/// (`MAX_EVENT_BYTES`) to a maximal name can be appended. The journal's
/// `max_record_bytes` must be at least this.
pub const MIN_MAX_RECORD_BYTES: usize = MAX_EVENT_BYTES + MAX_APPEND_OVERHEAD_BYTES;

/// Bounds on what one container holds. Each bound turns into a clear error
/// reply when a request would cross it, never into unbounded memory.
#[derive(Clone, Debug)]
pub struct ContainerLimits {
    /// Segment data held in memory (the read cache), in bytes. Durable data
    /// over it is evicted, oldest first, and read back from the journal on
    /// demand; data not durable yet cannot be evicted, and an append that
    /// would put more of it than this in memory is refused as busy.
    pub data_budget_bytes: u64,
    /// Segments in the container.
    pub max_segments: usize,
    /// Distinct attribute keys per segment.
    pub max_attributes_per_segment: usize,
    /// Distinct writer ids per segment (each keeps its last event number
    /// for deduplication for as long as the segment lives).
    pub max_writers_per_segment: usize,
    /// The journal's largest record. An append whose record would be larger
    /// is refused; it must be at least [`MIN_MAX_RECORD_BYTES`].
    pub max_record_bytes: usize,
}

impl Default for ContainerLimits {
    fn default() -> Self {
        ContainerLimits {
            data_budget_bytes: 1 << 30,
            max_segments: 100_000,
            max_attributes_per_segment: 1024,
            max_writers_per_segment: 16_384,
            max_record_bytes: 2 * MIN_MAX_RECORD_BYTES,
        }
    }
}

/// A snapshot of a container's size, for metrics and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStats {
    /// Segments that exist, counting ones whose creation is still pending.
    pub segments: usize,
    /// Segment data held in memory (what the data budget counts).
    pub data_bytes: u64,
    /// Journaled mutations not yet reported durable.
    pub pending_mutations: usize,
    /// The last mutation reported durable (0: none yet).
    pub durable_seq: MutationSeq,
    /// The last mutation numbered (0: none yet).
    pub last_seq: MutationSeq,
    /// Bytes evicted from memory since the container was built (metrics).
    pub evicted_bytes: u64,
}

/// What the runtime does with a request after [`Container::execute`].
///
/// [`Container::execute`]: super::Container::execute
#[derive(Debug)]
pub enum Execution {
    /// Send the reply now.
    Reply(Reply),
    /// Append `record` to the journal; once it is durable call
    /// `mark_durable(seq)`, then send `reply`. The container's state already
    /// includes the mutation.
    Journal {
        record: Vec<u8>,
        seq: MutationSeq,
        reply: Reply,
    },
    /// Nothing to journal, but the reply reflects mutations that are not
    /// durable yet (a duplicate append whose original is pending, a refusal
    /// caused by a pending mutation): send it once `seq` is durable. If the
    /// journal fails first, never send it.
    ReplyWhenDurable { seq: MutationSeq, reply: Reply },
}

/// The answer to [`Container::read`].
///
/// [`Container::read`]: super::Container::read
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Send this: `ReadData`, `NoSuchSegment`, `SegmentIsTruncated` or an
    /// `Error { OffsetOutOfRange }`.
    Reply(Reply),
    /// Some of the bytes were evicted from memory: read the journal pieces
    /// back, then reply with `ReadData` built from the plan.
    Load(ReadPlan),
    /// The offset is at (or, for data still pending, just past) the durable
    /// tail of an unsealed segment: wait until `mark_durable` names the
    /// segment, or the request's wait runs out, then read again.
    AtTail,
}

/// A read whose data is partly in the journal: the reply once the
/// [`Piece::Journal`](super::chunks::Piece) pieces are read back, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    pub offset: u64,
    pub pieces: Vec<super::chunks::Piece>,
    pub end_of_segment: bool,
    pub length: u64,
}
