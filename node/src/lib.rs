//! The Spate storage node: one glommio executor per core, each owning a set
//! of containers (shards of segments) and a journal. See ARCHITECTURE.md.
//!
//! - [`container`]: the segment state of one container, a pure state machine.
//! - [`controller`]: the stream model (epochs, scaling, truncation), a pure
//!   state machine over a stream's metadata log.
//! - [`runtime`]: executors, TCP serving, the journal on glommio (the only
//!   module that uses glommio).
//! - [`config`], [`superblock`]: settings and the data directory's identity.

pub mod config;
pub mod container;
pub mod controller;
mod le_reader;
pub mod runtime;
pub mod superblock;
