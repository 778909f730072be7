//! One or more valid values of every message, for seeding fuzzers and for
//! round-trip tests. Values lean on edges: empty and non-empty payloads,
//! extreme integers, absent and present options.

use crate::limits::Limits;
use crate::msg::*;
use crate::status::{RetryAdvice, StatusCode};

const SEGMENT: &str = "scope/stream/0.#epoch.0";
const WRITER: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;

/// Valid requests, covering every request type at least once.
pub fn sample_requests() -> Vec<Request> {
    let segment = || SEGMENT.to_string();
    vec![
        Hello {
            min_version: 1,
            max_version: 1,
        }
        .into(),
        Ping { nonce: u64::MAX }.into(),
        CreateSegment { segment: segment() }.into(),
        Append {
            segment: segment(),
            writer_id: WRITER,
            event_number: 0,
            payload: vec![],
        }
        .into(),
        Append {
            segment: segment(),
            writer_id: u128::MAX,
            event_number: i64::MAX,
            payload: (0..=255).collect(),
        }
        .into(),
        AppendBatch {
            segment: segment(),
            writer_id: WRITER,
            events: vec![
                BatchEvent {
                    event_number: 7,
                    payload: b"first".to_vec(),
                },
                BatchEvent {
                    event_number: 8,
                    payload: vec![],
                },
                BatchEvent {
                    event_number: 10,
                    payload: vec![0xff; 100],
                },
            ],
        }
        .into(),
        ConditionalAppend {
            segment: segment(),
            writer_id: WRITER,
            event_number: 3,
            expected_offset: 4096,
            payload: b"cas".to_vec(),
        }
        .into(),
        Read {
            segment: segment(),
            offset: 0,
            max_bytes: 1 << 20,
            wait_ms: 0,
        }
        .into(),
        Read {
            segment: segment(),
            offset: u64::MAX,
            max_bytes: 1,
            wait_ms: 60_000,
        }
        .into(),
        Seal { segment: segment() }.into(),
        Truncate {
            segment: segment(),
            start_offset: 1 << 40,
        }
        .into(),
        Merge {
            target: segment(),
            source: format!("{SEGMENT}#transaction.00ff"),
        }
        .into(),
        Delete {
            segment: "s".to_string(),
        }
        .into(),
        GetInfo { segment: segment() }.into(),
        GetAttribute {
            segment: segment(),
            key: 0,
        }
        .into(),
        UpdateAttribute {
            segment: segment(),
            key: u128::MAX,
            value: i64::MIN,
            condition: AttributeCondition::Always,
        }
        .into(),
        UpdateAttribute {
            segment: segment(),
            key: 1,
            value: 5,
            condition: AttributeCondition::IfAbsent,
        }
        .into(),
        UpdateAttribute {
            segment: segment(),
            key: 2,
            value: 6,
            condition: AttributeCondition::IfEquals(-1),
        }
        .into(),
        GetWriterState {
            segment: segment(),
            writer_id: WRITER,
        }
        .into(),
        CompactNow { drop_hot: true }.into(),
    ]
    .into_iter()
    .chain(super::stream_samples::stream_requests())
    .collect()
}

/// Valid replies, covering every reply type at least once.
pub fn sample_replies() -> Vec<Reply> {
    let segment = || SEGMENT.to_string();
    vec![
        HelloReply {
            version: 1,
            min_version: 1,
            max_version: 1,
            node_id: u128::MAX - 1,
            core_count: 2,
            core: 1,
            container_cores: vec![0, 1, 0, 1],
            core_ports: vec![9090, 9091],
            limits: Limits::default(),
        }
        .into(),
        Pong { nonce: 1 }.into(),
        SegmentCreated {}.into(),
        Appended {
            writer_id: WRITER,
            event_number: 10,
            length: 1 << 33,
        }
        .into(),
        ReadData {
            offset: 0,
            data: b"hello".to_vec(),
            end_of_segment: false,
            length: 5,
        }
        .into(),
        ReadData {
            offset: 5,
            data: vec![],
            end_of_segment: true,
            length: 5,
        }
        .into(),
        Sealed { length: 5 }.into(),
        Truncated { start_offset: 3 }.into(),
        Merged {
            target_length: u64::MAX,
        }
        .into(),
        Deleted {}.into(),
        SegmentInfo {
            length: 10,
            start_offset: 2,
            sealed: true,
            created_unix_ms: 1_700_000_000_000,
        }
        .into(),
        AttributeValue {
            key: 9,
            value: None,
        }
        .into(),
        AttributeValue {
            key: 9,
            value: Some(-9),
        }
        .into(),
        AttributeUpdated { key: 9, value: 10 }.into(),
        WriterState {
            writer_id: WRITER,
            last_event_number: None,
        }
        .into(),
        WriterState {
            writer_id: WRITER,
            last_event_number: Some(41),
        }
        .into(),
        CompactedNow {
            flushed_bytes: 1 << 30,
            tiered_bytes: 7,
            dropped_files: 2,
            has_tier: true,
        }
        .into(),
        NoSuchSegment { segment: segment() }.into(),
        SegmentExists { segment: segment() }.into(),
        SegmentIsSealed {
            segment: segment(),
            length: 77,
        }
        .into(),
        SegmentIsTruncated {
            segment: segment(),
            start_offset: 12,
        }
        .into(),
        ConditionalAppendFailed {
            current_length: 4097,
        }
        .into(),
        AttributeConflict {
            key: 2,
            current: Some(7),
        }
        .into(),
        AttributeConflict {
            key: 2,
            current: None,
        }
        .into(),
        ErrorReply::new(StatusCode::Busy, "too many requests in flight (1024)").into(),
        ErrorReply {
            status: 999,
            retry: RetryAdvice::GiveUp,
            message: "ünknown".into(),
        }
        .into(),
    ]
    .into_iter()
    .chain(super::stream_samples::stream_replies())
    .collect()
}
