//! The Spate write-ahead journal.
//!
//! One journal per core makes appends durable: records are encoded into
//! 4 KiB-aligned group-commit writes, each written with O_DIRECT and made
//! durable before the records in it are acknowledged, strictly in LSN order.
//! Recovery rebuilds the record sequence after a crash, cuts a torn tail and
//! refuses to skip corruption of acknowledged data.
//!
//! The logic ([`Journal`]) is independent of any runtime: it talks to a disk
//! through the [`Storage`] trait. [`direct::DirectStorage`] is the real disk
//! (io_uring, O_DIRECT); [`sim::SimDisk`] is a faulty simulated disk for tests.
//! The on-disk format is described in `docs/journal.md`.

pub mod aligned;
pub mod config;
pub mod direct;
pub mod error;
pub mod format;
mod journal;
pub mod readback;
pub mod recovery;
pub mod sim;
pub mod storage;
mod writer;

pub use aligned::{AlignedBuf, BLOCK};
pub use config::{ConfigError, JournalConfig};
pub use error::{
    AppendError, CorruptionReport, FailedOp, JournalFailure, OpenError, RecoveryError,
};
pub use format::Lsn;
pub use format::record::RecordKind;
pub use journal::Journal;
pub use readback::{ReadBackError, RecordLocation};
pub use recovery::{ChainFile, Inspection, Recovered, RecoveredRecord, TornTail, inspect};
pub use storage::{Completion, Op, Slot, SlotInfo, Storage};
