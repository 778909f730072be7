//! A stream's metadata log (a segment's bytes) through the controller's
//! decoder and, when it decodes, the stream model's replay: errors, never a
//! panic, and a decoded log re-encodes to the same bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_fuzz::node_stream_log::replay_log(data);
});
