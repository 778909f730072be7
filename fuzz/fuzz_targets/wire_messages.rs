//! A message body of any type, framed with a valid header and CRC, through
//! the frame decoders and that type's validation, deserialization and
//! round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spate_fuzz::wire_messages::decode_message(data);
});
