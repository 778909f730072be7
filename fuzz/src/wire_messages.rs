//! Fuzz entry: one message body of any type through the full decode path a
//! peer's frame takes, with a valid header and CRC around it so every input
//! reaches the body validators.
//!
//! Input: one byte that picks the message type (an index into
//! `MessageType::ALL`), then the body. Checked beyond "no panic":
//! - a frame with a valid header decodes the same from a slice and from the
//!   streaming decoder fed in two pieces;
//! - a body error never claims the stream lost its frame boundary (the node
//!   would close the connection over one bad message);
//! - a body that validates deserializes, re-encodes, and decodes to the
//!   same value.

use spate_wire::fuzz::refresh_crc;
use spate_wire::{
    DEFAULT_MAX_FRAME_BYTES, DecodeError, Decoded, Frame, FrameDecoder, FrameEncoder, HEADER_LEN,
    MAGIC, MAX_VERSION, MessageType, decode_frame,
};

pub fn decode_message(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let msg_type = MessageType::ALL[usize::from(selector) % MessageType::ALL.len()];
    let Ok(body_len) = u32::try_from(body.len()) else {
        return;
    };
    let frame = frame_around(msg_type, body_len, body);
    let Ok(Decoded::Frame(whole)) = decode_frame(&frame, DEFAULT_MAX_FRAME_BYTES) else {
        panic!("a frame with a valid header and CRC did not decode");
    };
    assert_eq!(whole.body, body, "the frame's body is the body sent");
    let split = usize::from(selector).min(frame.len());
    assert_eq!(
        stream_body(&frame, split),
        body,
        "the streaming decoder saw another body"
    );
    decode_body(&whole);
}

/// The input format for `msg_type` with `body`: how seeds are written.
pub fn input(msg_type: MessageType, body: &[u8]) -> Vec<u8> {
    let index = MessageType::ALL
        .iter()
        .position(|&t| t == msg_type)
        .expect("every type is in ALL");
    let mut input = vec![u8::try_from(index).expect("fewer than 256 message types")];
    input.extend_from_slice(body);
    input
}

/// A frame of `msg_type` around `body`, sealed with its CRC (see
/// `docs/wire.md` for the header layout).
fn frame_around(msg_type: MessageType, body_len: u32, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    frame.extend_from_slice(&MAGIC);
    frame.extend_from_slice(&MAX_VERSION.to_le_bytes());
    frame.extend_from_slice(&msg_type.code().to_le_bytes());
    frame.extend_from_slice(&[0; 4]); // flags, reserved
    frame.extend_from_slice(&body_len.to_le_bytes());
    frame.extend_from_slice(&7u64.to_le_bytes()); // request id
    frame.extend_from_slice(&[0; 4]); // crc, filled in below
    frame.extend_from_slice(body);
    refresh_crc(&mut frame);
    frame
}

/// The body the streaming decoder assembles from `frame` cut at `split`.
fn stream_body(frame: &[u8], split: usize) -> Vec<u8> {
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
    for mut piece in [&frame[..split], &frame[split..]] {
        while !piece.is_empty() {
            let step = decoder
                .decode(piece)
                .expect("a valid frame decodes in pieces");
            piece = &piece[step.consumed..];
            if let Decoded::Frame(frame) = step.decoded {
                return frame.body.to_vec();
            }
        }
    }
    panic!("the streaming decoder never completed the frame");
}

fn decode_body(frame: &Frame<'_>) {
    if frame.header.msg_type.is_request() {
        match frame.request() {
            Ok(view) => {
                assert_eq!(view.message_type(), frame.header.msg_type);
                let owned = view.to_request().expect("a validated request deserializes");
                let again = round_trip(&owned, |f| f.request().and_then(|r| r.to_request()));
                assert_eq!(again, owned, "a request changed in a round trip");
            }
            Err(e) => check_body_error(&e),
        }
    } else {
        match frame.reply() {
            Ok(view) => {
                assert_eq!(view.message_type(), frame.header.msg_type);
                let owned = view.to_reply().expect("a validated reply deserializes");
                let again = round_trip(&owned, |f| f.reply().and_then(|r| r.to_reply()));
                assert_eq!(again, owned, "a reply changed in a round trip");
            }
            Err(e) => check_body_error(&e),
        }
    }
}

fn check_body_error(e: &DecodeError) {
    assert!(
        !e.is_framing(),
        "a bad body in a whole frame is not a framing error: {e}"
    );
    // The error reply the node would send is built from these.
    let _ = (e.status(), e.to_string());
}

fn round_trip<M, T>(message: &M, decode: impl Fn(&Frame<'_>) -> Result<T, DecodeError>) -> T
where
    M: spate_wire::Encode,
{
    let mut bytes = Vec::new();
    FrameEncoder::new(spate_wire::ABSOLUTE_MAX_FRAME_BYTES)
        .encode(message, 0, &mut bytes)
        .expect("a decoded message re-encodes");
    let Ok(Decoded::Frame(frame)) = decode_frame(&bytes, spate_wire::ABSOLUTE_MAX_FRAME_BYTES)
    else {
        panic!("a freshly encoded frame decodes");
    };
    decode(&frame).expect("a freshly encoded message validates")
}
