//! The Spate client library: the segment layer.
//!
//! A [`Client`] talks to one node. It learns the node's topology in the
//! handshake and sends each segment's traffic straight to the core that
//! owns the segment's container, over one lazily opened connection per
//! core. On top of it:
//!
//! - [`SegmentWriter`]: pipelined, batched, exactly-once appends, resent in
//!   order after a broken connection;
//! - [`SegmentReader`]: in-order reads with prefetch and tail long-polling;
//! - admin calls: create, seal, truncate, merge, delete, info, attributes,
//!   writer state, ping;
//! - streams: scope and stream calls, the [`EventWriter`] with routing keys;
//! - transactions ([`Transaction`]): events that join a stream together at
//!   commit, or not at all;
//! - [`StateSynchronizer`]: state shared through a segment, changed by
//!   conditional appends and compacted by snapshots;
//! - reader groups ([`ReaderGroup`], [`EventReader`]): readers sharing
//!   streams without a coordinator, with checkpoints and bounded reads;
//! - byte streams ([`ByteStreamWriter`], [`ByteStreamReader`]): raw bytes
//!   on a stream of one fixed segment, with seek, truncate and seal.
//!
//! **Runtime-agnostic.** Every call returns a [`Completion`] (or a
//! [`ReadFuture`]): a plain `std::future::Future` that any executor can
//! poll, which can also be waited on with `.wait()`. Behind the scenes each
//! connection has a reader and a writer thread over blocking sockets (a
//! request made while the connection's writer is idle is sent by the
//! calling thread itself, without blocking), and the client has one retry
//! thread.
//!
//! **Errors** are coarse and say what to do ([`ClientError`]): retry later,
//! fix the request, or give up. Answers about a segment's state (sealed,
//! missing, condition failed) are outcome values, not errors.
//!
//! ```no_run
//! use spate_client::{AppendOutcome, Client, ClientOptions, CreateOutcome};
//!
//! # fn main() -> Result<(), spate_client::ClientError> {
//! let client = Client::connect("127.0.0.1:7000", ClientOptions::default())?;
//! match client.create_segment("scope/stream/0").wait()? {
//!     CreateOutcome::Created | CreateOutcome::AlreadyExists => {}
//! }
//! let writer = client.segment_writer("scope/stream/0", 42)?;
//! let acks: Vec<_> = (0..100).map(|i| writer.append(format!("event {i}"))).collect();
//! for ack in acks {
//!     if let AppendOutcome::Sealed { .. } = ack.wait()? {
//!         break;
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod byte_stream;
mod client;
mod codec;
mod completion;
mod conn;
mod error;
mod options;
mod reader;
mod reader_group;
mod retrier;
mod stream;
mod sync;
mod synchronizer;
mod topology;
mod writer;

pub use byte_stream::{ByteStreamReader, ByteStreamWriter};
pub use client::{
    AttributeOutcome, Client, CreateOutcome, DeleteOutcome, InfoOutcome, MergeOutcome, SealOutcome,
    SegmentInfo, TruncateOutcome, UpdateOutcome, WriterStateOutcome,
};
pub use completion::Completion;
pub use error::ClientError;
pub use options::{ClientOptions, MIN_READ_WAIT_MS, ReaderOptions, RetryPolicy, WriterOptions};
pub use reader::{ReadChunk, ReadFuture, ReadOutcome, SegmentReader};
pub use reader_group::{
    Checkpoint, Event, EventRead, EventReader, MAX_COMPLETED_CHECKPOINTS, MAX_GROUP_SEGMENTS,
    MAX_GROUP_STREAMS, MAX_NAME_BYTES, MAX_PENDING_CHECKPOINTS, MAX_READERS, Position, ReaderGroup,
    ReaderGroupConfig, SegmentDistribution, StreamBounds, reader_group_segment,
};
pub use spate_wire::stream::{KeyRange, RetentionPolicy, ScalingPolicy, StreamConfig, StreamCut};
pub use spate_wire::{AttributeCondition, Limits, RetryAdvice, StatusCode, StreamPhase, TxnStatus};
pub use stream::{
    EVENT_HEADER_BYTES, EventAck, EventFuture, EventSplitter, EventWriter, EventWriterOptions,
    Scaled, SplitEvent, StreamCreateOutcome, StreamEvent, StreamInfo, StreamName, StreamOutcome,
    Transaction, TxnOutcome, frame_event, read_stream,
};
pub use synchronizer::{
    MAX_CONFLICTS, MAX_RECORD_BYTES, StateSynchronizer, SyncState, sync_segment_name,
};
pub use topology::Topology;
pub use writer::{
    Ack, AppendFuture, AppendOutcome, ConditionalAppendFuture, ConditionalOutcome, FlushFuture,
    SegmentWriter,
};
