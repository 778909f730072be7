//! A sequence of container journal records through replay, then the
//! containers through a checkpoint and restore.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_fuzz::node_records::replay_records(data);
});
