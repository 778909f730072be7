//! Requests for the segment operations, sent client → node.
//!
//! Every request names its segment(s) by the rule in `name.rs`. The archived
//! form of each struct (`ArchivedAppend`, ...) is what the node reads in place:
//! `ArchivedAppend::payload.as_slice()` borrows the event bytes straight from
//! the receive buffer.

use rkyv::{Archive, Deserialize, Serialize};

use super::{Validate, check_name};
use crate::error::FieldError;
use crate::limits::{MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_READ_WAIT_MS};

/// Creates an empty segment. Answer: `SegmentCreated` or `SegmentExists`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct CreateSegment {
    pub segment: String,
}

/// Appends one event. Events from one writer are applied in event-number
/// order; an event whose number is not above the writer's last is a duplicate
/// and is acked without being written again. Answer: `Appended`,
/// `SegmentIsSealed` or `NoSuchSegment`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Append {
    pub segment: String,
    pub writer_id: u128,
    pub event_number: i64,
    pub payload: Vec<u8>,
}

/// One event of an [`AppendBatch`].
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct BatchEvent {
    pub event_number: i64,
    pub payload: Vec<u8>,
}

/// Appends several events of one writer atomically and in order (event
/// numbers strictly increasing). Answer: as for [`Append`], acking the last.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct AppendBatch {
    pub segment: String,
    pub writer_id: u128,
    pub events: Vec<BatchEvent>,
}

/// Appends one event only if the segment's length equals `expected_offset`.
/// Answer: `Appended` or `ConditionalAppendFailed { current_length }`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ConditionalAppend {
    pub segment: String,
    pub writer_id: u128,
    pub event_number: i64,
    pub expected_offset: u64,
    pub payload: Vec<u8>,
}

/// Reads up to `max_bytes` from `offset`. At the tail (offset = length) of an
/// unsealed segment the node waits up to `wait_ms` for new data, then answers
/// with whatever it has, possibly nothing. Answer: `ReadData`,
/// `SegmentIsTruncated` (offset below the start offset) or `NoSuchSegment`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Read {
    pub segment: String,
    pub offset: u64,
    pub max_bytes: u32,
    pub wait_ms: u32,
}

/// Makes a segment read-only for good (idempotent). Answer: `Sealed`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Seal {
    pub segment: String,
}

/// Raises the start offset; offsets do not shift. A value at or below the
/// current start is a no-op. Answer: `Truncated`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Truncate {
    pub segment: String,
    pub start_offset: u64,
}

/// Appends the whole of sealed segment `source` to `target` atomically; the
/// source ceases to exist. Answer: `Merged`, `SegmentIsSealed` (target).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Merge {
    pub target: String,
    pub source: String,
}

/// Deletes a segment and its data. Answer: `Deleted` or `NoSuchSegment`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Delete {
    pub segment: String,
}

/// Asks for a segment's metadata. Answer: `SegmentInfo`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct GetInfo {
    pub segment: String,
}

/// Reads one attribute. Answer: `AttributeValue` (value absent if unset).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct GetAttribute {
    pub segment: String,
    pub key: u128,
}

/// When an [`UpdateAttribute`] applies.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum AttributeCondition {
    /// Unconditionally.
    Always,
    /// Only if the key has no value yet.
    IfAbsent,
    /// Only if the current value equals this (compare-and-set).
    IfEquals(i64),
}

/// Sets an attribute, subject to `condition`. Answer: `AttributeUpdated` or
/// `AttributeConflict { current }`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct UpdateAttribute {
    pub segment: String,
    pub key: u128,
    pub value: i64,
    pub condition: AttributeCondition,
}

/// Asks for the last event number the segment has from a writer (to resume
/// after a reconnect). Answer: `WriterState`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct GetWriterState {
    pub segment: String,
    pub writer_id: u128,
}

/// Liveness check. Answer: `Pong` with the same nonce.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Ping {
    pub nonce: u64,
}

fn check_event(event_number: i64, payload_len: usize) -> Result<(), FieldError> {
    if event_number < 0 {
        return Err(FieldError::invalid("event_number", "is negative"));
    }
    if payload_len > MAX_EVENT_BYTES {
        return Err(FieldError::invalid("payload", "exceeds MAX_EVENT_BYTES"));
    }
    Ok(())
}

impl Validate for ArchivedAppend {
    fn validate(&self) -> Result<(), FieldError> {
        check_name("segment", &self.segment)?;
        check_event(self.event_number.to_native(), self.payload.len())
    }
}

impl Validate for ArchivedAppendBatch {
    fn validate(&self) -> Result<(), FieldError> {
        check_name("segment", &self.segment)?;
        if self.events.is_empty() || self.events.len() > MAX_BATCH_EVENTS {
            return Err(FieldError::invalid(
                "events",
                "must hold 1..=MAX_BATCH_EVENTS",
            ));
        }
        let mut previous = None;
        for event in self.events.iter() {
            let number = event.event_number.to_native();
            check_event(number, event.payload.len())?;
            if previous.is_some_and(|p| number <= p) {
                return Err(FieldError::invalid(
                    "events",
                    "event numbers not increasing",
                ));
            }
            previous = Some(number);
        }
        Ok(())
    }
}

impl Validate for ArchivedConditionalAppend {
    fn validate(&self) -> Result<(), FieldError> {
        check_name("segment", &self.segment)?;
        check_event(self.event_number.to_native(), self.payload.len())
    }
}

impl Validate for ArchivedRead {
    fn validate(&self) -> Result<(), FieldError> {
        check_name("segment", &self.segment)?;
        if self.max_bytes.to_native() == 0 {
            return Err(FieldError::invalid("max_bytes", "is 0"));
        }
        if self.wait_ms.to_native() > MAX_READ_WAIT_MS {
            return Err(FieldError::invalid("wait_ms", "exceeds MAX_READ_WAIT_MS"));
        }
        Ok(())
    }
}

impl Validate for ArchivedMerge {
    fn validate(&self) -> Result<(), FieldError> {
        check_name("target", &self.target)?;
        check_name("source", &self.source)?;
        if self.target == self.source {
            return Err(FieldError::invalid("source", "is the target"));
        }
        Ok(())
    }
}

validate_segment_only!(
    ArchivedCreateSegment,
    ArchivedSeal,
    ArchivedTruncate,
    ArchivedDelete,
    ArchivedGetInfo,
    ArchivedGetAttribute,
    ArchivedUpdateAttribute,
    ArchivedGetWriterState
);

no_field_rules!(ArchivedPing, ArchivedCompactNow);

impl crate::msg::Request {
    /// The segment a request addresses, which decides the container and so
    /// the core that serves it (the target, for a merge: source and target
    /// share a container). `None` for connection-level requests.
    pub fn segment(&self) -> Option<&str> {
        use crate::msg::Request;
        Some(match self {
            Request::CreateSegment(r) => &r.segment,
            Request::Append(r) => &r.segment,
            Request::AppendBatch(r) => &r.segment,
            Request::ConditionalAppend(r) => &r.segment,
            Request::Read(r) => &r.segment,
            Request::Seal(r) => &r.segment,
            Request::Truncate(r) => &r.segment,
            Request::Merge(r) => &r.target,
            Request::Delete(r) => &r.segment,
            Request::GetInfo(r) => &r.segment,
            Request::GetAttribute(r) => &r.segment,
            Request::UpdateAttribute(r) => &r.segment,
            Request::GetWriterState(r) => &r.segment,
            Request::GetSegmentLoad(r) => &r.segment,
            _ => return None,
        })
    }

    /// The segment whose core serves a request: the addressed segment for
    /// segment requests; for a stream request, the stream's metadata log;
    /// for a scope request, the scope registry (or, to list a scope's
    /// streams, the scope's index). `None` for connection-level requests.
    pub fn routing_segment(&self) -> Option<std::borrow::Cow<'_, str>> {
        use super::stream::{SCOPE_REGISTRY_SEGMENT, scope_index_segment, stream_log_segment};
        use crate::msg::Request;
        use std::borrow::Cow;
        let log = |scope: &str, stream: &str| Some(Cow::Owned(stream_log_segment(scope, stream)));
        match self {
            Request::CreateScope(_) | Request::DeleteScope(_) | Request::ListScopes(_) => {
                Some(Cow::Borrowed(SCOPE_REGISTRY_SEGMENT))
            }
            Request::ListStreams(r) => Some(Cow::Owned(scope_index_segment(&r.scope))),
            Request::CreateStream(r) => log(&r.scope, &r.stream),
            Request::DescribeStream(r) => log(&r.scope, &r.stream),
            Request::UpdateStream(r) => log(&r.scope, &r.stream),
            Request::ScaleStream(r) => log(&r.scope, &r.stream),
            Request::TruncateStream(r) => log(&r.scope, &r.stream),
            Request::SealStream(r) => log(&r.scope, &r.stream),
            Request::DeleteStream(r) => log(&r.scope, &r.stream),
            Request::BeginTxn(r) => log(&r.scope, &r.stream),
            Request::PingTxn(r) => log(&r.scope, &r.stream),
            Request::CommitTxn(r) => log(&r.scope, &r.stream),
            Request::AbortTxn(r) => log(&r.scope, &r.stream),
            Request::GetTxnState(r) => log(&r.scope, &r.stream),
            _ => self.segment().map(Cow::Borrowed),
        }
    }

    /// True for the controller's scope and stream requests.
    pub fn is_stream_request(&self) -> bool {
        use crate::msg::Request;
        matches!(
            self,
            Request::CreateScope(_)
                | Request::DeleteScope(_)
                | Request::ListScopes(_)
                | Request::ListStreams(_)
                | Request::CreateStream(_)
                | Request::DescribeStream(_)
                | Request::UpdateStream(_)
                | Request::ScaleStream(_)
                | Request::TruncateStream(_)
                | Request::SealStream(_)
                | Request::DeleteStream(_)
                | Request::BeginTxn(_)
                | Request::PingTxn(_)
                | Request::CommitTxn(_)
                | Request::AbortTxn(_)
                | Request::GetTxnState(_)
        )
    }
}

/// Asks the core that receives it to move everything it can toward
/// long-term storage now: flush all durable data out of the journal, close
/// the hot chunk files being written, store every closed file in the tier
/// (if the node has one) and, with `drop_hot`, delete the local copies the
/// tier now holds. For tests, benchmarks and operators; a client sends it
/// to every core. Answer: `CompactedNow` once done.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct CompactNow {
    pub drop_hot: bool,
}
