//! Integration tests for spate-wire, through the public API only.
//!
//! One test binary (modules below) so the suite links once.

mod common;
mod decode_errors;
mod docs;
mod field_errors;
mod fuzz;
mod golden;
mod incremental;
mod roundtrip;
