//! The controller's model of streams: a pure, deterministic state machine.
//!
//! A stream's metadata is a log of [`StreamEvent`]s; its state is the fold
//! of that log ([`StreamState::apply`]). Every workflow (create, scale,
//! seal, truncate, delete) first records its intent as an event, then does
//! its segment work, then records completion. The work
//! ([`StreamState::pending_work`]) is a function of the state alone and each
//! step is idempotent (creating a segment that exists, sealing a sealed
//! one), so a node that restarts in the middle of a workflow reads the log
//! back and finishes it. No I/O here: the runtime stores the log and does
//! the segment work.

mod codec;
mod events;
mod registry;
mod state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_txn;
mod txn;

pub use codec::{CodecError, decode_log, encode_bounded, encode_event};
pub use events::StreamEvent;
pub use registry::{Registry, RegistryEvent, decode_registry, encode_registry_event};
pub use state::{Phase, SegmentRecord, StreamError, StreamSnapshot, StreamState, Work};
pub use txn::{KEPT_OUTCOMES, Txn, TxnOutcome};
