//! A tier shard file's header block, and the same bytes as a file name:
//! errors or values that re-encode, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_tier::fuzz::shard_header(data);
    spate_tier::fuzz::file_name(data);
});
