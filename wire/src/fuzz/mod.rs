//! Fuzz entry points: arbitrary bytes through every decoder, never a panic.
//!
//! [`fuzz_decode_frames`] is what a cargo-fuzz target (or the bounded test in
//! `tests/`) calls. It also checks one property beyond "no panic": whatever
//! decodes re-encodes and decodes to the same value.

mod samples;
mod stream_samples;

pub use samples::{sample_replies, sample_requests};

use crate::decoder::FrameDecoder;
use crate::encode::FrameEncoder;
use crate::frame::{Decoded, Frame, decode_frame};
use crate::header::{HEADER_LEN, seal_header};
use crate::limits::{ABSOLUTE_MAX_FRAME_BYTES, DEFAULT_MAX_FRAME_BYTES};
use crate::msg::{Encode, MessageType, ReplyRef, RequestRef};

/// Feeds `data` through the streaming decoder (whole and in pieces), the
/// slice decoder, and every message decoder. Panics only on a bug.
pub fn fuzz_decode_frames(data: &[u8]) {
    decode_stream(data, data.len().max(1));
    let piece = usize::from(data.first().copied().unwrap_or(0) % 13) + 1;
    decode_stream(data, piece);
    decode_slices(data);
    let body = data.get(HEADER_LEN..).unwrap_or(&[]);
    for &msg_type in MessageType::ALL {
        decode_body(msg_type, data);
        decode_body(msg_type, body);
    }
}

/// A valid frame of every sample message, to seed a fuzzer's corpus.
pub fn seed_corpus() -> Vec<Vec<u8>> {
    let mut corpus = Vec::new();
    push_frames(&sample_requests(), &mut corpus);
    push_frames(&sample_replies(), &mut corpus);
    corpus
}

fn push_frames<M: Encode>(messages: &[M], corpus: &mut Vec<Vec<u8>>) {
    let encoder = FrameEncoder::new(DEFAULT_MAX_FRAME_BYTES);
    for (id, message) in messages.iter().enumerate() {
        let mut frame = Vec::new();
        if encoder.encode(message, id as u64, &mut frame).is_ok() {
            corpus.push(frame);
        }
    }
}

/// Recomputes the CRC of a frame at the start of `bytes` whose header or body
/// was mutated, so that a mutation reaches the body validators instead of
/// stopping at the checksum. Does nothing to bytes too short for a frame.
pub fn refresh_crc(bytes: &mut [u8]) {
    let Some((header, rest)) = bytes.split_first_chunk_mut::<HEADER_LEN>() else {
        return;
    };
    let body_len = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    let body_len = (body_len as usize).min(rest.len());
    seal_header(header, &rest[..body_len]);
}

fn decode_stream(data: &[u8], piece: usize) {
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
    for mut rest in data.chunks(piece) {
        loop {
            let Ok(step) = decoder.decode(rest) else {
                return;
            };
            assert!(
                step.consumed <= rest.len(),
                "decoder consumed more than it was given"
            );
            rest = &rest[step.consumed..];
            match step.decoded {
                Decoded::NeedMore(need) => {
                    assert!(need > 0 && rest.is_empty(), "NeedMore left input unread");
                    break;
                }
                Decoded::Frame(frame) => check_frame(&frame),
            }
        }
    }
    let _ = decoder.finish();
}

fn decode_slices(mut data: &[u8]) {
    while let Ok(Decoded::Frame(frame)) = decode_frame(data, DEFAULT_MAX_FRAME_BYTES) {
        check_frame(&frame);
        data = &data[frame.len()..];
    }
}

fn check_frame(frame: &Frame<'_>) {
    decode_body(frame.header.msg_type, frame.body);
}

/// Decodes `body` as `msg_type`; if it is valid, checks the round trip.
fn decode_body(msg_type: MessageType, body: &[u8]) {
    if msg_type.is_request() {
        if let Ok(view) = RequestRef::decode(msg_type, body) {
            let owned = view
                .to_request()
                .expect("a validated request must deserialize");
            let again = round_trip(&owned, |f| f.request().and_then(|r| r.to_request()));
            assert_eq!(again, owned, "request changed in a round trip");
        }
    } else if let Ok(view) = ReplyRef::decode(msg_type, body) {
        let owned = view.to_reply().expect("a validated reply must deserialize");
        let again = round_trip(&owned, |f| f.reply().and_then(|r| r.to_reply()));
        assert_eq!(again, owned, "reply changed in a round trip");
    }
}

fn round_trip<M, T, E>(message: &M, decode: impl Fn(&Frame<'_>) -> Result<T, E>) -> T
where
    M: Encode,
    E: std::fmt::Debug,
{
    let mut bytes = Vec::new();
    FrameEncoder::new(ABSOLUTE_MAX_FRAME_BYTES)
        .encode(message, 0, &mut bytes)
        .expect("a decoded message must re-encode");
    let Ok(Decoded::Frame(frame)) = decode_frame(&bytes, ABSOLUTE_MAX_FRAME_BYTES) else {
        panic!("a freshly encoded frame must decode");
    };
    decode(&frame).expect("a freshly encoded message must validate")
}
