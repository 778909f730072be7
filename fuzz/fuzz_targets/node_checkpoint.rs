//! Checkpoint bytes through decoding and `Container::restore`, then reads
//! of every restored segment.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_fuzz::node_checkpoint::restore_checkpoint(data);
});
