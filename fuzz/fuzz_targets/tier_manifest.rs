//! Tier manifest bytes (read from a tier directory) through the decoder: an
//! error or a manifest that re-encodes to the same bytes, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_tier::fuzz::manifest(data);
});
