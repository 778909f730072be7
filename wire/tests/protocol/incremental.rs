//! The streaming decoder yields the same frames however the bytes arrive.

use spate_wire::fuzz::{sample_replies, sample_requests};
use spate_wire::*;

use crate::common::sample_frames;

/// Feeds `stream` to a decoder in pieces of `piece` bytes and collects every
/// frame's bytes (header rebuilt from the decoded body for comparison).
fn frames_by_pieces(stream: &[u8], piece: usize) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
    let mut frames = Vec::new();
    for mut rest in stream.chunks(piece) {
        loop {
            let step = decoder.decode(rest).expect("valid stream");
            rest = &rest[step.consumed..];
            match step.decoded {
                Decoded::NeedMore(_) => break,
                Decoded::Frame(frame) => frames.push((frame.header, frame.body.to_vec())),
            }
        }
        assert!(rest.is_empty());
    }
    decoder.finish().expect("stream ends on a frame boundary");
    frames
}

fn concatenated() -> (Vec<u8>, usize) {
    let frames = sample_frames();
    (frames.concat(), frames.len())
}

#[test]
fn byte_by_byte_equals_all_at_once() {
    let (stream, count) = concatenated();
    let whole = frames_by_pieces(&stream, stream.len());
    assert_eq!(whole.len(), count);
    assert_eq!(frames_by_pieces(&stream, 1), whole);
}

#[test]
fn every_piece_size_gives_the_same_frames() {
    let (stream, _) = concatenated();
    let whole = frames_by_pieces(&stream, stream.len());
    for piece in [2, 3, 7, 27, 28, 29, 64, 100, 1000] {
        assert_eq!(
            frames_by_pieces(&stream, piece),
            whole,
            "piece size {piece}"
        );
    }
}

#[test]
fn byte_by_byte_frames_decode_to_messages() {
    let (stream, _) = concatenated();
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
    let (mut requests, mut replies) = (Vec::new(), Vec::new());
    for byte in stream.chunks(1) {
        let step = decoder.decode(byte).expect("valid stream");
        assert_eq!(step.consumed, 1);
        if let Decoded::Frame(frame) = step.decoded {
            if frame.header.msg_type.is_request() {
                requests.push(frame.request().and_then(|r| r.to_request()).expect("valid"));
            } else {
                replies.push(frame.reply().and_then(|r| r.to_reply()).expect("valid"));
            }
        }
    }
    assert_eq!(requests, sample_requests());
    assert_eq!(replies, sample_replies());
}

#[test]
fn need_more_counts_the_missing_bytes() {
    let frame = &sample_frames()[3];
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
    let step = decoder.decode(&frame[..10]).expect("partial");
    assert_eq!(step.decoded, Decoded::NeedMore(HEADER_LEN - 10));
    let step = decoder.decode(&frame[10..HEADER_LEN + 1]).expect("partial");
    assert_eq!(
        step.decoded,
        Decoded::NeedMore(frame.len() - HEADER_LEN - 1)
    );
    let step = decoder.decode(&frame[HEADER_LEN + 1..]).expect("complete");
    assert!(matches!(step.decoded, Decoded::Frame(_)));
    assert!(decoder.is_idle());
}

#[test]
fn a_whole_frame_in_the_input_is_not_copied() {
    let frames = sample_frames();
    let stream = frames.concat();
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
    let mut rest = &stream[..];
    while !rest.is_empty() {
        let step = decoder.decode(rest).expect("valid");
        let Decoded::Frame(frame) = step.decoded else {
            panic!("whole frames are present");
        };
        assert!(stream.as_ptr_range().contains(&frame.body.as_ptr()) || frame.body.is_empty());
        rest = &rest[step.consumed..];
    }
}

#[test]
fn slice_decoder_walks_a_buffer_of_frames() {
    let (stream, count) = concatenated();
    let mut rest = &stream[..];
    let mut seen = 0;
    while let Decoded::Frame(frame) = decode_frame(rest, DEFAULT_MAX_FRAME_BYTES).expect("valid") {
        rest = &rest[frame.len()..];
        seen += 1;
    }
    assert_eq!(seen, count);
    assert!(rest.is_empty());
}

#[test]
fn a_big_frame_does_not_pin_its_buffer() {
    let append = Append {
        segment: "s".into(),
        writer_id: 0,
        event_number: 0,
        payload: vec![1; 1 << 20],
    };
    let big = crate::common::encode(&append, 1);
    let small = crate::common::encode(&Ping { nonce: 1 }, 2);
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
    for piece in big.chunks(4096) {
        decoder.decode(piece).expect("valid");
    }
    // The next frame arrives in two pieces, so it is assembled in the buffer.
    decoder.decode(&small[..1]).expect("valid");
    let step = decoder.decode(&small[1..]).expect("valid");
    assert!(matches!(step.decoded, Decoded::Frame(f) if f.header.request_id == 2));
}
