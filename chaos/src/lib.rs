//! Spate's attack harnesses. `spate-overload` (module [`overload`]) runs the
//! overload and resource-limit cases against a real node.
//!
//! The crash loop: `spate-crash-loop` kills a real `spate-node` (and the
//! writer and reader processes that drive it) with SIGKILL at random
//! moments, restarts it, and checks an oracle built from the writers' logs:
//! every acknowledged event is readable bit-exact, in per-writer order,
//! exactly once, and nothing appears that was never sent.
//!
//! The pure parts (event encoding, parsing, the logs, the checker) are unit
//! tested; the process parts (node, fleet, run) are exercised by running
//! the binary (`ci/crash-loop`). See `docs/testing.md`.

pub mod check;
pub mod cli;
pub mod connect;
pub mod error;
pub mod event;
pub mod fleet;
pub mod ledger;
pub mod node;
pub mod overload;
pub mod parse;
pub mod ports;
pub mod progress;
pub mod reader;
pub mod run;
pub mod spawn;
pub mod verify;
pub mod worker;
pub mod writer;
