//! The memory bound the node must stay within, from its settings and its
//! named limits. Each term says what it covers; the values mirror the node's
//! constants (named with the file that holds them), so a change there must
//! be made here too.
//!
//! The bound is the worst case the limits allow, not an estimate: the
//! measured peaks are expected to lie well below it. What it catches is
//! memory that no limit bounds: a 2 GiB allocation for a 2 GiB frame
//! header, replies queued without end for a client that does not read.

use spate_wire::{Limits, RETAINED_BODY_CAPACITY};

use super::memory::{Bound, MIB};

const KIB: u64 = 1 << 10;

/// The node's settings that size its memory.
#[derive(Debug, Clone, Copy)]
pub struct NodeSizes {
    /// Cores.
    pub cores: usize,
    /// `--cache-mib`.
    pub cache_mib: u64,
}

/// Read-back payloads a core keeps (`RECENT_RECORDS_BYTES`, runtime/recent.rs),
/// and hot chunks read back (`RECENT_HOT_BYTES`).
const RECENT_RECORDS_BYTES: u64 = 32 * MIB;
const RECENT_HOT_BYTES: u64 = 64 * MIB;
/// The flusher's longest run (`MAX_RUN_BYTES`, runtime/flusher.rs): while
/// one is written it exists as read, in the write buffer, and as the chunk
/// that replaces the old ones.
const FLUSH_RUN_BYTES: u64 = 2 * MIB;
/// The journal's group-commit buffers (`JournalConfig::default`, journal/src/config.rs):
/// bytes queued before submission, standard write size, writes in flight.
const JOURNAL_QUEUED_BYTES: u64 = 32 * MIB;
const JOURNAL_WRITE_BYTES: u64 = MIB;
const JOURNAL_WRITES_IN_FLIGHT: u64 = 4;
/// What a journal record may carry beyond a frame (`RECORD_OVERHEAD`, runtime/startup.rs).
const RECORD_OVERHEAD: u64 = 64 * KIB;
/// A connection's read buffer (`READ_BUFFER`, runtime/server.rs).
const READ_BUFFER: u64 = 64 * KIB;
/// A connection's tasks, reply channel and socket state: an allowance
/// (about 16 KiB were measured per idle connection).
const CONNECTION_STATE: u64 = 16 * KIB;
/// Reply bytes a core may hold for slow sockets (`OUTBOUND_BYTES_PER_CORE`,
/// runtime/server.rs), and what each connection may hold beyond that share
/// (`REPLY_FLOOR_BYTES`).
pub const OUTBOUND_BYTES_PER_CORE: u64 = 64 * MIB;
pub const REPLY_FLOOR_BYTES: u64 = 64 * KIB;
/// Reads of evicted data that read the journal at once, per core
/// (`READBACKS_PER_CORE`, runtime/dispatch.rs), and how far apart the
/// pieces of one journal read may lie (`MAX_GAP_BYTES`, runtime/readback.rs).
const READBACKS_PER_CORE: u64 = 2;
const READBACK_GAP: u64 = 256 * KIB;
/// Segment metadata: name, lengths, attributes, writer table, the index of
/// its chunks. The node bounds segments by count only (`max_segments` per
/// container); this allowance is the harness's, and the segments case
/// prints the bytes per segment it measured.
pub const SEGMENT_ALLOWANCE: u64 = 4 * KIB;

/// What every case may use: the idle node, its caches and its journals.
pub fn base(idle_rss: u64, sizes: NodeSizes, limits: &Limits) -> Bound {
    let cores = sizes.cores as u64;
    let frame = u64::from(limits.max_frame_bytes);
    let record = frame + RECORD_OVERHEAD;
    let cache = sizes.cache_mib * MIB;
    // A batch is a standard write, or one record's own if larger; one may
    // be queued past the limit (an empty queue takes any record).
    let write = JOURNAL_WRITE_BYTES.max(record + 4 * KIB);
    let journal = JOURNAL_QUEUED_BYTES
        + write
        + JOURNAL_WRITES_IN_FLIGHT * write
        + (JOURNAL_WRITES_IN_FLIGHT + 1) * JOURNAL_WRITE_BYTES;
    // A load holds its journal read (up to a record and a gap), the pieces
    // taken from it and the data they make; a reply being encoded exists
    // twice for a moment (data and frame).
    let read_path = READBACKS_PER_CORE * (record + READBACK_GAP + 2 * frame) + 2 * frame;
    Bound::default()
        .plus("idle node", idle_rss)
        .plus("cache", cache)
        .plus("appends not durable yet, as records (<= cache)", cache)
        .plus(
            format!("read-back records {cores}x32 MiB"),
            cores * RECENT_RECORDS_BYTES,
        )
        .plus(
            format!("hot chunk read-backs {cores}x64 MiB"),
            cores * RECENT_HOT_BYTES,
        )
        .plus("flusher runs", cores * 3 * FLUSH_RUN_BYTES.max(record))
        .plus("journal buffers", cores * journal)
        .plus("reads in progress", cores * read_path)
        .plus(
            format!(
                "replies waiting for sockets {cores}x{} MiB",
                OUTBOUND_BYTES_PER_CORE / MIB
            ),
            cores * OUTBOUND_BYTES_PER_CORE,
        )
}

/// `n` connections' own state, with one floor-sized reply each.
pub fn connections(n: usize) -> Bound {
    let each = READ_BUFFER + RETAINED_BODY_CAPACITY as u64 + CONNECTION_STATE + REPLY_FLOOR_BYTES;
    Bound::default().plus(
        format!("{n} connections x {} KiB", each / KIB),
        n as u64 * each,
    )
}

/// `n` connections each holding `bytes` of a frame they have not finished.
pub fn partial_frames(n: usize, bytes: u64) -> Bound {
    Bound::default().plus(
        format!("{n} partial frames x {} KiB", bytes / KIB),
        n as u64 * bytes,
    )
}

/// Request frames a connection has sent that the node has not answered:
/// what it sent, up to its in-flight limit.
pub fn requests_in_flight(sent: u64, limits: &Limits) -> Bound {
    let held = sent.min(limits.max_in_flight_bytes);
    Bound::default().plus("requests in flight", held)
}

/// `n` segments' metadata.
pub fn segments(n: usize) -> Bound {
    Bound::default().plus(
        format!("{n} segments x {} KiB", SEGMENT_ALLOWANCE / KIB),
        n as u64 * SEGMENT_ALLOWANCE,
    )
}
