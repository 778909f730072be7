//! Each way a frame or body can be malformed is its own typed error.

use spate_wire::*;

use crate::common::{encode, single_frame};

const MAX: u32 = DEFAULT_MAX_FRAME_BYTES;

fn ping_frame() -> Vec<u8> {
    encode(&Ping { nonce: 42 }, 7)
}

fn decode_err(bytes: &[u8]) -> DecodeError {
    match decode_frame(bytes, MAX) {
        Err(error) => error,
        Ok(decoded) => panic!("expected an error, got {decoded:?}"),
    }
}

/// Rewrites header bytes `at..at + new.len()` and, if asked, the CRC.
fn patched(mut frame: Vec<u8>, at: usize, new: &[u8], fix_crc: bool) -> Vec<u8> {
    frame[at..at + new.len()].copy_from_slice(new);
    if fix_crc {
        fuzz::refresh_crc(&mut frame);
    }
    frame
}

#[test]
fn bad_magic() {
    let bytes = patched(ping_frame(), 0, b"HTTP", true);
    let error = decode_err(&bytes);
    assert!(matches!(error, DecodeError::BadMagic { found } if &found == b"HTTP"));
    assert!(error.is_framing());
    assert_eq!(error.status(), StatusCode::MalformedFrame);
}

#[test]
fn bad_version() {
    for version in [0u16, MAX_VERSION + 1, u16::MAX] {
        let bytes = patched(ping_frame(), 4, &version.to_le_bytes(), true);
        let error = decode_err(&bytes);
        assert!(matches!(error, DecodeError::UnsupportedVersion { version: v } if v == version));
        assert_eq!(error.status(), StatusCode::UnsupportedVersion);
    }
}

#[test]
fn unknown_message_type() {
    for code in [0u16, 0x0003, 0x7fff, 0x8000, 0xffff] {
        let bytes = patched(ping_frame(), 6, &code.to_le_bytes(), true);
        let error = decode_err(&bytes);
        assert!(matches!(error, DecodeError::UnknownMessageType { code: c } if c == code));
        assert_eq!(error.status(), StatusCode::UnknownMessageType);
    }
}

#[test]
fn unknown_flags_and_reserved_bits() {
    let bytes = patched(ping_frame(), 8, &1u16.to_le_bytes(), true);
    assert!(matches!(
        decode_err(&bytes),
        DecodeError::UnknownFlags { flags: 1 }
    ));
    let bytes = patched(ping_frame(), 10, &0x8000u16.to_le_bytes(), true);
    assert!(matches!(
        decode_err(&bytes),
        DecodeError::ReservedNotZero { value: 0x8000 }
    ));
}

#[test]
fn oversized_length_is_rejected_from_the_header_alone() {
    let two_gib = 2u32 << 30;
    let frame = patched(ping_frame(), 12, &two_gib.to_le_bytes(), false);
    let header = &frame[..HEADER_LEN];
    let error = decode_err(header);
    assert!(
        matches!(error, DecodeError::FrameTooLarge { frame_len, max: MAX }
        if frame_len == HEADER_LEN as u64 + u64::from(two_gib))
    );
    assert_eq!(error.status(), StatusCode::FrameTooLarge);

    // The streaming decoder fails on the 28th byte, having buffered no body.
    let mut decoder = FrameDecoder::new(MAX);
    for byte in header[..HEADER_LEN - 1].chunks(1) {
        let step = decoder.decode(byte).expect("header not complete yet");
        assert!(matches!(step.decoded, Decoded::NeedMore(_)));
    }
    assert!(matches!(
        decoder.decode(&header[HEADER_LEN - 1..]),
        Err(DecodeError::FrameTooLarge { .. })
    ));
    assert!(matches!(
        decoder.decode(&frame),
        Err(DecodeError::AfterError)
    ));
}

#[test]
fn a_length_one_past_the_limit_is_too_large() {
    let limit = 64 * 1024;
    let body_len = limit - HEADER_LEN as u32 + 1;
    let frame = patched(ping_frame(), 12, &body_len.to_le_bytes(), false);
    let error = decode_frame(&frame[..HEADER_LEN], limit).expect_err("over the limit");
    assert!(matches!(error, DecodeError::FrameTooLarge { .. }));
    let body_len = body_len - 1;
    let frame = patched(ping_frame(), 12, &body_len.to_le_bytes(), false);
    let ok = decode_frame(&frame[..HEADER_LEN], limit).expect("at the limit");
    assert_eq!(ok, Decoded::NeedMore(body_len as usize));
}

#[test]
fn truncated_body() {
    let frame = ping_frame();
    let cut = &frame[..frame.len() - 3];
    assert_eq!(
        decode_frame(cut, MAX).expect("incomplete, not wrong"),
        Decoded::NeedMore(3)
    );

    let mut decoder = FrameDecoder::new(MAX);
    let step = decoder.decode(cut).expect("incomplete, not wrong");
    assert_eq!(
        (step.consumed, step.decoded),
        (cut.len(), Decoded::NeedMore(3))
    );
    let error = decoder.finish().expect_err("stream ended mid-frame");
    assert!(
        matches!(error, DecodeError::Truncated { buffered, missing: 3 } if buffered == cut.len())
    );
    assert_eq!(error.status(), StatusCode::MalformedFrame);
}

#[test]
fn truncated_header_at_end_of_stream() {
    let mut decoder = FrameDecoder::new(MAX);
    decoder
        .decode(&ping_frame()[..5])
        .expect("incomplete, not wrong");
    assert!(!decoder.is_idle());
    let error = decoder.finish().expect_err("stream ended mid-header");
    assert!(
        matches!(error, DecodeError::Truncated { buffered: 5, missing } if missing == HEADER_LEN - 5)
    );
}

#[test]
fn crc_mismatch_in_body_and_in_header() {
    let mut frame = ping_frame();
    let last = frame.len() - 1;
    frame[last] ^= 0x01;
    let error = decode_err(&frame);
    assert!(matches!(error, DecodeError::ChecksumMismatch { .. }));
    assert_eq!(error.status(), StatusCode::ChecksumMismatch);

    let frame = patched(ping_frame(), 16, &[0xee], false);
    assert!(matches!(
        decode_err(&frame),
        DecodeError::ChecksumMismatch { .. }
    ));
}

#[test]
fn body_that_fails_rkyv_validation() {
    // An Append header around a body that is not an Append archive: the
    // relative pointers in it point outside the body.
    let append = Append {
        segment: "s".into(),
        writer_id: 1,
        event_number: 1,
        payload: vec![1; 32],
    };
    let mut frame = encode(&append, 1);
    for byte in &mut frame[HEADER_LEN..] {
        *byte = 0xff;
    }
    fuzz::refresh_crc(&mut frame);
    let frame = single_frame(&frame);
    let error = frame.request().expect_err("garbage body");
    assert!(matches!(
        error,
        DecodeError::InvalidBody {
            msg_type: MessageType::Append,
            ..
        }
    ));
    assert!(!error.is_framing());
    assert_eq!(error.status(), StatusCode::InvalidMessage);
}

#[test]
fn empty_body_for_a_message_with_fields() {
    let mut frame = patched(ping_frame(), 12, &0u32.to_le_bytes(), false);
    frame.truncate(HEADER_LEN);
    fuzz::refresh_crc(&mut frame);
    let error = single_frame(&frame).request().expect_err("no body");
    assert!(matches!(
        error,
        DecodeError::InvalidBody {
            msg_type: MessageType::Ping,
            ..
        }
    ));
}

#[test]
fn invalid_bool_is_caught_by_bytecheck() {
    let info = SegmentInfo {
        length: 1,
        start_offset: 0,
        sealed: true,
        created_unix_ms: 0,
    };
    let mut frame = encode(&info, 1);
    // Archived fields sit in declaration order with no padding (rkyv's
    // `unaligned` format): length 8 bytes, start_offset 8, then `sealed`.
    let sealed_at = HEADER_LEN + 16;
    assert_eq!(frame[sealed_at], 1);
    frame[sealed_at] = 2;
    fuzz::refresh_crc(&mut frame);
    let error = single_frame(&frame)
        .reply()
        .expect_err("bool must be 0 or 1");
    assert!(matches!(
        error,
        DecodeError::InvalidBody {
            msg_type: MessageType::SegmentInfo,
            ..
        }
    ));
}

#[test]
fn the_encoder_refuses_a_frame_over_its_limit_and_leaves_the_buffer() {
    let append = Append {
        segment: "s".into(),
        writer_id: 0,
        event_number: 0,
        payload: vec![0; 70_000],
    };
    let mut out = b"keep".to_vec();
    let error = FrameEncoder::new(64 * 1024)
        .encode(&append, 1, &mut out)
        .expect_err("too big");
    assert!(matches!(
        error,
        EncodeError::FrameTooLarge { max: 65_536, .. }
    ));
    assert_eq!(out, b"keep");
}
