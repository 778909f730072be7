//! Golden bytes: these pin the format. If one fails, the wire format changed:
//! that needs a new protocol version, not a new expected value.

use std::num::NonZeroU32;

use spate_wire::*;

use crate::common::encode;

#[test]
fn frame_header_layout() {
    let bytes = encode(
        &Ping {
            nonce: 0x0807_0605_0403_0201,
        },
        0x1122_3344_5566_7788,
    );
    let expected: [u8; HEADER_LEN + 8] = [
        b'S', b'P', b'T', b'W', // magic
        0x01, 0x00, // version 1
        0x02, 0x00, // msg_type 0x0002 (Ping)
        0x00, 0x00, // flags
        0x00, 0x00, // reserved
        0x08, 0x00, 0x00, 0x00, // body_len 8
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // request_id
        0, 0, 0, 0, // crc32c, checked below
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // body: nonce u64 LE
    ];
    assert_eq!(bytes[..24], expected[..24]);
    assert_eq!(bytes[HEADER_LEN..], expected[HEADER_LEN..]);
    let crc = crc32c_of(&bytes);
    assert_eq!(bytes[24..28], crc.to_le_bytes());
    assert_eq!(crc, GOLDEN_PING_CRC);
}

/// CRC32C over header bytes 0..24 then the body, computed independently of
/// the crate's own helper.
fn crc32c_of(frame: &[u8]) -> u32 {
    let mut covered = frame[..24].to_vec();
    covered.extend_from_slice(&frame[HEADER_LEN..]);
    crc32c::crc32c(&covered)
}

const GOLDEN_PING_CRC: u32 = 0xe930b60f;

#[test]
fn append_body_layout() {
    let append = Append {
        segment: "a/b".into(),
        writer_id: 0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100,
        event_number: 5,
        payload: b"hi".to_vec(),
    };
    let bytes = encode(&append, 1);
    assert_eq!(hex(&bytes[HEADER_LEN..]), GOLDEN_APPEND_BODY);
}

/// Out-of-line data first, the root struct last (rkyv's layout):
/// payload bytes "hi"; then the `Append` struct: segment "a/b" stored inline
/// (padded with 0xff to 8 bytes), writer_id u128 LE, event_number i64 LE,
/// payload as (relative offset i32 = -34, length u32 = 2).
const GOLDEN_APPEND_BODY: &str = concat!(
    "6869",
    "612f62ffffffffff",
    "000102030405060708090a0b0c0d0e0f",
    "0500000000000000",
    "deffffff02000000",
);

#[test]
fn message_type_codes_are_stable() {
    let codes: Vec<(MessageType, u16)> = MessageType::ALL.iter().map(|t| (*t, t.code())).collect();
    let expected = [
        (MessageType::Hello, 0x0001),
        (MessageType::Ping, 0x0002),
        (MessageType::CreateSegment, 0x0010),
        (MessageType::Append, 0x0011),
        (MessageType::AppendBatch, 0x0012),
        (MessageType::ConditionalAppend, 0x0013),
        (MessageType::Read, 0x0014),
        (MessageType::Seal, 0x0015),
        (MessageType::Truncate, 0x0016),
        (MessageType::Merge, 0x0017),
        (MessageType::Delete, 0x0018),
        (MessageType::GetInfo, 0x0019),
        (MessageType::GetAttribute, 0x001A),
        (MessageType::UpdateAttribute, 0x001B),
        (MessageType::GetWriterState, 0x001C),
        (MessageType::CompactNow, 0x0020),
        (MessageType::CreateScope, 0x0030),
        (MessageType::DeleteScope, 0x0031),
        (MessageType::ListScopes, 0x0032),
        (MessageType::ListStreams, 0x0033),
        (MessageType::CreateStream, 0x0034),
        (MessageType::DescribeStream, 0x0035),
        (MessageType::UpdateStream, 0x0036),
        (MessageType::ScaleStream, 0x0037),
        (MessageType::TruncateStream, 0x0038),
        (MessageType::SealStream, 0x0039),
        (MessageType::DeleteStream, 0x003A),
        (MessageType::GetSegmentLoad, 0x003B),
        (MessageType::BeginTxn, 0x003C),
        (MessageType::PingTxn, 0x003D),
        (MessageType::CommitTxn, 0x003E),
        (MessageType::AbortTxn, 0x003F),
        (MessageType::GetTxnState, 0x0040),
        (MessageType::HelloReply, 0x8001),
        (MessageType::Pong, 0x8002),
        (MessageType::SegmentCreated, 0x8010),
        (MessageType::Appended, 0x8011),
        (MessageType::ReadData, 0x8014),
        (MessageType::Sealed, 0x8015),
        (MessageType::Truncated, 0x8016),
        (MessageType::Merged, 0x8017),
        (MessageType::Deleted, 0x8018),
        (MessageType::SegmentInfo, 0x8019),
        (MessageType::AttributeValue, 0x801A),
        (MessageType::AttributeUpdated, 0x801B),
        (MessageType::WriterState, 0x801C),
        (MessageType::CompactedNow, 0x8020),
        (MessageType::NoSuchSegment, 0x8040),
        (MessageType::SegmentExists, 0x8041),
        (MessageType::SegmentIsSealed, 0x8042),
        (MessageType::SegmentIsTruncated, 0x8043),
        (MessageType::ConditionalAppendFailed, 0x8044),
        (MessageType::AttributeConflict, 0x8045),
        (MessageType::ScopeCreated, 0x8030),
        (MessageType::ScopeDeleted, 0x8031),
        (MessageType::ScopeList, 0x8032),
        (MessageType::StreamList, 0x8033),
        (MessageType::StreamCreated, 0x8034),
        (MessageType::StreamDescription, 0x8035),
        (MessageType::StreamUpdated, 0x8036),
        (MessageType::StreamScaled, 0x8037),
        (MessageType::StreamTruncated, 0x8038),
        (MessageType::StreamSealed, 0x8039),
        (MessageType::StreamDeleted, 0x803A),
        (MessageType::SegmentLoad, 0x803B),
        (MessageType::TxnBegun, 0x803C),
        (MessageType::TxnState, 0x803D),
        (MessageType::NoSuchScope, 0x8046),
        (MessageType::NoSuchStream, 0x8047),
        (MessageType::ScopeExists, 0x8048),
        (MessageType::StreamExists, 0x8049),
        (MessageType::Error, 0x80FF),
    ];
    assert_eq!(codes, expected);
}

#[test]
fn container_mapping_is_stable() {
    let count = NonZeroU32::new(1 << 20).expect("non-zero");
    assert_eq!(container_for("scope/stream/0", count), GOLDEN_CONTAINER);
    let txn = "scope/stream/0#transaction.ab";
    assert_eq!(container_for(txn, count), GOLDEN_CONTAINER);
}

const GOLDEN_CONTAINER: u32 = 735_269;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Pins the archived enum and option layouts: a u8 tag (declaration order:
/// Always 0, IfAbsent 1, IfEquals 2; None 0, Some 1) then the 8-byte payload,
/// zero when unused.
#[test]
fn enum_and_option_layout() {
    let update = UpdateAttribute {
        segment: "s".into(),
        key: 1,
        value: -1,
        condition: AttributeCondition::IfEquals(7),
    };
    let expected = concat!(
        "73ffffffffffffff",                 // segment "s", inline
        "01000000000000000000000000000000", // key u128
        "ffffffffffffffff",                 // value -1
        "02",                               // IfEquals
        "0700000000000000",                 // 7
    );
    assert_eq!(hex(&encode(&update, 1)[HEADER_LEN..]), expected);
    let value = AttributeValue {
        key: 1,
        value: None,
    };
    let expected = concat!("01000000000000000000000000000000", "00", "0000000000000000");
    assert_eq!(hex(&encode(&value, 1)[HEADER_LEN..]), expected);
}

/// Pins the error reply: status u16, retry advice as its explicit u8 value,
/// and an out-of-line string (bytes first; then length 9 tagged 0x80 and a
/// relative offset of -12).
#[test]
fn error_reply_layout() {
    let reply = ErrorReply::new(StatusCode::Busy, "slow down");
    let expected = concat!("736c6f7720646f776e", "2c01", "01", "89000000", "f4ffffff");
    assert_eq!(hex(&encode(&reply, 1)[HEADER_LEN..]), expected);
}
