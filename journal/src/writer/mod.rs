//! The write path's parts: batches, in-flight writes, the file table.

pub(crate) mod batch;
pub(crate) mod files;
pub(crate) mod inflight;
