//! Bodies that pass bytecheck but break a protocol rule are field errors:
//! the frame boundary is intact, so the node may answer and read on.

use spate_wire::*;

use crate::common::{encode, single_frame};

#[test]
fn bad_segment_name_is_a_field_error() {
    let create = CreateSegment {
        segment: "scope/../etc".into(),
    };
    let bytes = encode(&create, 1);
    let error = single_frame(&bytes).request().expect_err("bad name");
    assert!(matches!(
        error,
        DecodeError::InvalidField {
            msg_type: MessageType::CreateSegment,
            source: FieldError::SegmentName {
                field: "segment",
                source: NameError::DotComponent
            },
        }
    ));
    assert!(!error.is_framing());
    assert_eq!(error.status(), StatusCode::InvalidSegmentName);
}

#[test]
fn field_rules_are_enforced() {
    let segment = || "s".to_string();
    let bad: Vec<Request> = vec![
        Append {
            segment: segment(),
            writer_id: 0,
            event_number: -1,
            payload: vec![],
        }
        .into(),
        AppendBatch {
            segment: segment(),
            writer_id: 0,
            events: vec![],
        }
        .into(),
        AppendBatch {
            segment: segment(),
            writer_id: 0,
            events: vec![
                BatchEvent {
                    event_number: 2,
                    payload: vec![],
                },
                BatchEvent {
                    event_number: 2,
                    payload: vec![],
                },
            ],
        }
        .into(),
        Read {
            segment: segment(),
            offset: 0,
            max_bytes: 0,
            wait_ms: 0,
        }
        .into(),
        Read {
            segment: segment(),
            offset: 0,
            max_bytes: 1,
            wait_ms: MAX_READ_WAIT_MS + 1,
        }
        .into(),
        Merge {
            target: segment(),
            source: segment(),
        }
        .into(),
        Hello {
            min_version: 2,
            max_version: 1,
        }
        .into(),
        Hello {
            min_version: 0,
            max_version: 1,
        }
        .into(),
    ];
    for request in bad {
        let bytes = encode(&request, 1);
        let error = single_frame(&bytes).request().expect_err("rule broken");
        assert!(
            matches!(error, DecodeError::InvalidField { .. }),
            "{request:?}: {error}"
        );
        assert_eq!(error.status(), StatusCode::InvalidArgument);
    }
}

#[test]
fn handshake_reply_topology_is_checked() {
    let good = HelloReply {
        version: 1,
        min_version: 1,
        max_version: 1,
        node_id: 1,
        core_count: 2,
        core: 0,
        container_cores: vec![0, 1],
        core_ports: vec![1, 2],
        limits: Limits::default(),
    };
    let bad = [
        HelloReply {
            core_count: 0,
            core_ports: vec![],
            ..good.clone()
        },
        HelloReply {
            core: 2,
            ..good.clone()
        },
        HelloReply {
            core_ports: vec![1],
            ..good.clone()
        },
        HelloReply {
            container_cores: vec![],
            ..good.clone()
        },
        HelloReply {
            container_cores: vec![0, 2],
            ..good.clone()
        },
        HelloReply {
            version: 2,
            ..good.clone()
        },
        HelloReply {
            limits: Limits {
                max_frame_bytes: 10,
                ..Limits::default()
            },
            ..good.clone()
        },
    ];
    assert!(single_frame(&encode(&good, 1)).reply().is_ok());
    for reply in bad {
        let bytes = encode(&reply, 1);
        let error = single_frame(&bytes).reply().expect_err("bad topology");
        assert!(
            matches!(error, DecodeError::InvalidField { .. }),
            "{reply:?}"
        );
    }
}

#[test]
fn a_reply_is_not_a_request_and_vice_versa() {
    let bytes = encode(&Pong { nonce: 1 }, 1);
    let error = single_frame(&bytes).request().expect_err("pong is a reply");
    assert!(matches!(
        error,
        DecodeError::UnexpectedMessage {
            msg_type: MessageType::Pong,
            ..
        }
    ));
    assert_eq!(error.status(), StatusCode::UnexpectedMessage);
    let bytes = encode(&Ping { nonce: 1 }, 1);
    assert!(single_frame(&bytes).reply().is_err());
}
