//! Replies, sent node → client, each in a frame carrying the request's id.
//!
//! Three kinds: success replies with the data; expected outcomes that are not
//! failures of the protocol but answers about the segment's state (no such
//! segment, sealed, condition failed: the client branches on them, so each is
//! its own message with the data the client needs next); and the generic
//! [`ErrorReply`] with a status code, retry advice and a message.

use rkyv::{Archive, Deserialize, Serialize};

use super::{Validate, check_name};
use crate::error::FieldError;
use crate::limits::MAX_ERROR_MESSAGE_BYTES;
use crate::status::{RetryAdvice, StatusCode};

/// The segment was created.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct SegmentCreated {}

/// The append (single, batch or conditional) is durable.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Appended {
    pub writer_id: u128,
    /// The last event number of the request.
    pub event_number: i64,
    /// The segment's length after the append.
    pub length: u64,
}

/// Data read from a segment.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ReadData {
    /// Offset of the first byte of `data` (the request's offset).
    pub offset: u64,
    pub data: Vec<u8>,
    /// The segment is sealed and `data` ends at its last byte.
    pub end_of_segment: bool,
    /// The segment's length when the read was served.
    pub length: u64,
}

/// The segment is sealed (now or already).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Sealed {
    /// Final length.
    pub length: u64,
}

/// The segment's start offset after a truncate.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Truncated {
    pub start_offset: u64,
}

/// The source was appended to the target and no longer exists.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Merged {
    pub target_length: u64,
}

/// The segment was deleted.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Deleted {}

/// A segment's metadata.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct SegmentInfo {
    pub length: u64,
    pub start_offset: u64,
    pub sealed: bool,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
}

/// An attribute's value; `None` if never set.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct AttributeValue {
    pub key: u128,
    pub value: Option<i64>,
}

/// The attribute now holds `value`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct AttributeUpdated {
    pub key: u128,
    pub value: i64,
}

/// The last event number the segment holds from a writer; `None` if the
/// writer never appended to it.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct WriterState {
    pub writer_id: u128,
    pub last_event_number: Option<i64>,
}

/// Answer to `Ping`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Pong {
    pub nonce: u64,
}

/// Outcome: the named segment does not exist.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct NoSuchSegment {
    pub segment: String,
}

/// Outcome: `CreateSegment` found the segment already there.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct SegmentExists {
    pub segment: String,
}

/// Outcome: the segment is sealed, so it takes no appends (or merges into it).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct SegmentIsSealed {
    pub segment: String,
    pub length: u64,
}

/// Outcome: the read offset is below the segment's start offset.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct SegmentIsTruncated {
    pub segment: String,
    pub start_offset: u64,
}

/// Outcome: a conditional append's expected offset was not the length.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ConditionalAppendFailed {
    pub current_length: u64,
}

/// Outcome: an attribute update's condition did not hold.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct AttributeConflict {
    pub key: u128,
    pub current: Option<i64>,
}

/// The request failed; `retry` says what to do about it.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ErrorReply {
    /// A `StatusCode` number. Kept raw so that a code newer than this build
    /// still decodes; act on `retry` when `status_code()` is `None`.
    pub status: u16,
    pub retry: RetryAdvice,
    /// For humans and logs, at most `MAX_ERROR_MESSAGE_BYTES`.
    pub message: String,
}

impl ErrorReply {
    /// An error reply with the code's usual advice. A message longer than the
    /// limit is cut at a character boundary.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        truncate_at_char(&mut message, MAX_ERROR_MESSAGE_BYTES);
        ErrorReply {
            status: status.code(),
            retry: status.default_advice(),
            message,
        }
    }

    /// The status as a known code, or `None` if newer than this build.
    pub fn status_code(&self) -> Option<StatusCode> {
        StatusCode::from_u16(self.status)
    }
}

impl ArchivedErrorReply {
    /// The status as a known code, or `None` if newer than this build.
    pub fn status_code(&self) -> Option<StatusCode> {
        StatusCode::from_u16(self.status.to_native())
    }
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
    }
}

impl Validate for ArchivedErrorReply {
    fn validate(&self) -> Result<(), FieldError> {
        if self.status.to_native() == 0 {
            return Err(FieldError::invalid("status", "is 0"));
        }
        if self.message.len() > MAX_ERROR_MESSAGE_BYTES {
            return Err(FieldError::invalid(
                "message",
                "exceeds MAX_ERROR_MESSAGE_BYTES",
            ));
        }
        Ok(())
    }
}

validate_segment_only!(
    ArchivedNoSuchSegment,
    ArchivedSegmentExists,
    ArchivedSegmentIsSealed,
    ArchivedSegmentIsTruncated
);

no_field_rules!(
    ArchivedCompactedNow,
    ArchivedSegmentCreated,
    ArchivedAppended,
    ArchivedReadData,
    ArchivedSealed,
    ArchivedTruncated,
    ArchivedMerged,
    ArchivedDeleted,
    ArchivedSegmentInfo,
    ArchivedAttributeValue,
    ArchivedAttributeUpdated,
    ArchivedWriterState,
    ArchivedPong,
    ArchivedConditionalAppendFailed,
    ArchivedAttributeConflict
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_MESSAGE_BYTES);
        let reply = ErrorReply::new(StatusCode::Internal, long);
        assert!(reply.message.len() <= MAX_ERROR_MESSAGE_BYTES);
        assert!(reply.message.chars().all(|c| c == 'é'));
        assert_eq!(reply.retry, RetryAdvice::Retry);
    }
}

/// What `CompactNow` did on the core that answers.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct CompactedNow {
    /// Segment bytes moved out of the journal.
    pub flushed_bytes: u64,
    /// Hot chunk file bytes stored in the tier.
    pub tiered_bytes: u64,
    /// Local hot chunk files deleted (their data is in the tier).
    pub dropped_files: u64,
    /// Whether the node has a tier at all.
    pub has_tier: bool,
}
