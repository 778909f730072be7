//! Spate's crash loop: `spate-crash-loop` kills a real `spate-node` (and the
//! writer and reader processes that drive it) with SIGKILL at random
//! moments, restarts it, and checks an oracle built from the writers' logs:
//! every acknowledged event is readable bit-exact, in per-writer order,
//! exactly once, and nothing appears that was never sent.
//!
//! This part is the oracle: event encoding, parsing, the logs and the
//! checker, pure and unit tested.

pub mod check;
pub mod event;
pub mod ledger;
pub mod parse;
