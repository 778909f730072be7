//! Arbitrary bytes through the frame decoder and every message decoder.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_wire::fuzz::fuzz_decode_frames(data);
});
