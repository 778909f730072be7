//! The entry points of the fuzz targets that need more than one call, one
//! module per target (`fuzz_targets/<name>.rs` calls `<name>::...`).
//! `node/tests/decoder_fuzz.rs` includes the same files for a bounded run
//! and its corpus replay in `cargo test`, so both check one thing.

pub mod node_checkpoint;
pub mod node_common;
pub mod node_records;
pub mod node_stream_log;
pub mod wire_messages;
