//! `spate-overload`: the overload and resource-limit cases of issue 8,
//! against a real `spate-node` process. See `docs/testing.md`.
//!
//! The cases run one after another against one node: idle connections,
//! slow readers, frame headers claiming 2 GiB, a client that never reads
//! its replies, many segments, more connections than allowed. During each,
//! a well-behaved client (`probe`) appends and reads back bit-exact; after
//! each, the node's peak RSS is held against a bound derived from its
//! settings and limits (`budget`).

pub mod budget;
pub mod cases;
pub mod cli;
pub mod error;
pub mod memory;
pub mod names;
pub mod pattern;
pub mod probe;
pub mod raw;
pub mod report;
pub mod run;
pub mod tally;
pub mod watchdog;
