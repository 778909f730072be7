//! Every message type survives encode → decode, owned and in place.

use std::collections::HashSet;

use bytes::BytesMut;
use spate_wire::fuzz::{sample_replies, sample_requests};
use spate_wire::*;

use crate::common::{encode, single_frame};

#[test]
fn samples_cover_every_message_type() {
    let mut seen: HashSet<MessageType> = HashSet::new();
    seen.extend(sample_requests().iter().map(Encode::message_type));
    seen.extend(sample_replies().iter().map(Encode::message_type));
    for message_type in MessageType::ALL {
        assert!(
            seen.contains(message_type),
            "no sample for {message_type:?}"
        );
    }
}

#[test]
fn every_request_round_trips() {
    for (id, request) in sample_requests().into_iter().enumerate() {
        let bytes = encode(&request, id as u64);
        let frame = single_frame(&bytes);
        assert_eq!(frame.header.request_id, id as u64);
        assert_eq!(frame.header.msg_type, request.message_type());
        assert!(frame.header.msg_type.is_request());
        let view = frame.request().expect("valid request");
        assert_eq!(view.message_type(), request.message_type());
        assert_eq!(view.to_request().expect("deserializes"), request);
    }
}

#[test]
fn every_reply_round_trips() {
    for (id, reply) in sample_replies().into_iter().enumerate() {
        let bytes = encode(&reply, u64::MAX - id as u64);
        let frame = single_frame(&bytes);
        assert_eq!(frame.header.request_id, u64::MAX - id as u64);
        assert!(!frame.header.msg_type.is_request());
        let view = frame.reply().expect("valid reply");
        assert_eq!(view.to_reply().expect("deserializes"), reply);
    }
}

#[test]
fn a_bare_struct_encodes_like_its_enum_variant() {
    let append = Append {
        segment: "a/b/1".into(),
        writer_id: 5,
        event_number: 6,
        payload: b"xyz".to_vec(),
    };
    assert_eq!(
        encode(&append, 9),
        encode(&Request::from(append.clone()), 9)
    );
}

#[test]
fn bytes_mut_and_vec_produce_the_same_frame() {
    let encoder = FrameEncoder::new(DEFAULT_MAX_FRAME_BYTES);
    for reply in sample_replies() {
        let mut buf = BytesMut::from(&b"prefix"[..]);
        let len = encoder.encode(&reply, 3, &mut buf).expect("encodes");
        assert_eq!(&buf[6..], &encode(&reply, 3)[..]);
        assert_eq!(len, buf.len() - 6);
    }
}

#[test]
fn append_payload_is_read_in_place() {
    let payload: Vec<u8> = (0..200u8).collect();
    let append = Append {
        segment: "s/t/0".into(),
        writer_id: 1,
        event_number: 2,
        payload: payload.clone(),
    };
    let bytes = encode(&append, 1);
    let frame = single_frame(&bytes);
    let Ok(RequestRef::Append(view)) = frame.request() else {
        panic!("not an append");
    };
    let data = view.payload.as_slice();
    assert_eq!(data, &payload[..]);
    let range = bytes.as_ptr_range();
    assert!(
        range.contains(&data.as_ptr()),
        "payload was copied, not borrowed"
    );
    assert_eq!(view.segment.as_str(), "s/t/0");
    assert_eq!(view.writer_id.to_native(), 1);
}

#[test]
fn a_maximal_event_fits_the_default_frame() {
    let append = Append {
        segment: "x".repeat(MAX_SEGMENT_NAME_BYTES),
        writer_id: u128::MAX,
        event_number: i64::MAX,
        payload: vec![7; MAX_EVENT_BYTES],
    };
    let bytes = encode(&append, 1);
    assert!(bytes.len() <= DEFAULT_MAX_FRAME_BYTES as usize);
    let frame = single_frame(&bytes);
    assert!(matches!(frame.request(), Ok(RequestRef::Append(_))));
}

#[test]
fn an_unknown_status_code_still_decodes_with_its_advice() {
    let reply = ErrorReply {
        status: 4242,
        retry: RetryAdvice::Retry,
        message: String::new(),
    };
    let bytes = encode(&reply, 1);
    let Ok(ReplyRef::Error(view)) = single_frame(&bytes).reply() else {
        panic!("not an error reply");
    };
    assert_eq!(view.status_code(), None);
    assert_eq!(view.retry, ArchivedRetryAdvice::Retry);
}

#[test]
fn handshake_frames_use_the_handshake_version() {
    let hello = Hello {
        min_version: MIN_VERSION,
        max_version: MAX_VERSION,
    };
    let bytes = encode(&hello, 0);
    assert_eq!(single_frame(&bytes).header.version, HANDSHAKE_VERSION);
    assert_eq!(negotiate((1, 1), (MIN_VERSION, MAX_VERSION)), Some(1));
}

#[test]
fn a_read_sized_by_the_overhead_rule_fits_the_frame() {
    let max = MIN_MAX_FRAME_BYTES;
    let data = vec![0; (max - READ_DATA_OVERHEAD) as usize];
    let reply = ReadData {
        offset: u64::MAX,
        data,
        end_of_segment: true,
        length: u64::MAX,
    };
    let mut out = Vec::new();
    let len = FrameEncoder::new(max)
        .encode(&reply, 1, &mut out)
        .expect("fits");
    assert!(len <= max as usize);
}

#[test]
fn the_encoder_only_switches_to_a_version_it_speaks() {
    let encoder = FrameEncoder::new(DEFAULT_MAX_FRAME_BYTES);
    assert!(encoder.with_version(MAX_VERSION).is_ok());
    for version in [0, MAX_VERSION + 1] {
        let error = encoder.with_version(version).expect_err("not spoken");
        assert!(matches!(error, DecodeError::UnsupportedVersion { .. }));
    }
}
