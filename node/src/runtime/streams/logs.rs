//! Metadata logs (stream logs, the scope registry, scope indexes) are
//! segments; this is how the controller reads and appends them, through
//! the same dispatcher as any client request, so a log on another core is
//! one forwarded request away.
//!
//! Every append is conditional on the length the controller last read, so
//! the log is a strict sequence even if two requests race: the loser sees
//! `Conflict`, rereads, and decides again. Its event number is that length,
//! which keeps the numbers of the controller's writer id increasing.

use spate_wire::{
    ConditionalAppend, CreateSegment, Delete, Encode, ErrorReply, Read, Reply, Request, StatusCode,
};

use super::super::dispatch::CoreContext;

/// The writer id of every controller append.
const CONTROLLER_WRITER: u128 = u128::from_le_bytes(*b"spate-controller");
/// Bytes asked for per read of a log.
const LOG_READ_BYTES: u32 = 1 << 20;
/// The longest metadata log the controller reads: a stream log of this size
/// holds hundreds of thousands of workflows.
pub const MAX_LOG_BYTES: u64 = 256 << 20;

/// Why a controller step failed: the reply to send back.
#[derive(Debug)]
pub enum StepError {
    /// A segment request failed (busy, storage full, shutting down, ...):
    /// its error, passed on.
    Segment(ErrorReply),
    /// A log does not decode or does not fold: the node cannot serve it.
    Corrupt(String),
    /// A conditional append lost to another change: retry.
    Conflict,
}

impl StepError {
    pub fn into_reply(self) -> Reply {
        match self {
            StepError::Segment(error) => Reply::Error(error),
            StepError::Corrupt(why) => Reply::Error(ErrorReply::new(StatusCode::Internal, why)),
            StepError::Conflict => Reply::Error(ErrorReply::new(
                StatusCode::Busy,
                "the metadata changed while the request ran; retry",
            )),
        }
    }
}

/// Turns an unexpected reply into a step error.
pub fn unexpected(reply: Reply) -> StepError {
    match reply {
        Reply::Error(error) => StepError::Segment(error),
        other => StepError::Corrupt(format!(
            "unexpected reply to a controller request: {:?}",
            other.message_type()
        )),
    }
}

/// A log's bytes from some offset to its end.
pub struct LogRead {
    /// Where `bytes` start: `from`, or the log's start if it was truncated
    /// past `from` (a compacted log).
    pub start: u64,
    pub bytes: Vec<u8>,
    pub length: u64,
}

/// Reads `segment` from `from` (or its start, if later) to its end; `None`
/// if it does not exist.
pub async fn read_log(
    ctx: &CoreContext,
    segment: &str,
    from: u64,
) -> Result<Option<LogRead>, StepError> {
    let mut bytes = Vec::new();
    let mut offset = from;
    let mut start = from;
    loop {
        let reply = ctx
            .serve_segment(Request::Read(Read {
                segment: segment.to_owned(),
                offset,
                max_bytes: LOG_READ_BYTES,
                wait_ms: 0,
            }))
            .await;
        match reply {
            Reply::ReadData(data) => {
                if data.length > MAX_LOG_BYTES {
                    return Err(StepError::Corrupt(format!(
                        "metadata log {segment} is {} bytes, over the {MAX_LOG_BYTES} the \
                         controller reads",
                        data.length
                    )));
                }
                offset += data.data.len() as u64;
                bytes.extend_from_slice(&data.data);
                if data.data.is_empty() || offset >= data.length {
                    return Ok(Some(LogRead {
                        start,
                        bytes,
                        length: offset,
                    }));
                }
            }
            Reply::SegmentIsTruncated(t) if bytes.is_empty() && t.start_offset > offset => {
                offset = t.start_offset;
                start = t.start_offset;
            }
            Reply::NoSuchSegment(_) => return Ok(None),
            other => return Err(unexpected(other)),
        }
    }
}

/// The outcome of a conditional append to a log.
pub enum Appended {
    /// The log's length after the append.
    At(u64),
    /// The log does not exist.
    NoLog,
}

/// Appends `bytes` to `segment` if its length is `at`.
pub async fn append_at(
    ctx: &CoreContext,
    segment: &str,
    at: u64,
    bytes: Vec<u8>,
) -> Result<Appended, StepError> {
    let reply = ctx
        .serve_segment(Request::ConditionalAppend(ConditionalAppend {
            segment: segment.to_owned(),
            writer_id: CONTROLLER_WRITER,
            event_number: i64::try_from(at).map_err(|_| StepError::Conflict)?,
            expected_offset: at,
            payload: bytes,
        }))
        .await;
    match reply {
        Reply::Appended(ack) => Ok(Appended::At(ack.length)),
        Reply::ConditionalAppendFailed(_) => Err(StepError::Conflict),
        Reply::NoSuchSegment(_) => Ok(Appended::NoLog),
        other => Err(unexpected(other)),
    }
}

/// Drops `segment`'s bytes before `offset`.
pub async fn truncate(ctx: &CoreContext, segment: &str, offset: u64) -> Result<(), StepError> {
    let reply = ctx
        .serve_segment(Request::Truncate(spate_wire::Truncate {
            segment: segment.to_owned(),
            start_offset: offset,
        }))
        .await;
    match reply {
        Reply::Truncated(_) => Ok(()),
        other => Err(unexpected(other)),
    }
}

/// Creates `segment`; true if it was created, false if it existed.
pub async fn create(ctx: &CoreContext, segment: &str) -> Result<bool, StepError> {
    let reply = ctx
        .serve_segment(Request::CreateSegment(CreateSegment {
            segment: segment.to_owned(),
        }))
        .await;
    match reply {
        Reply::SegmentCreated(_) => Ok(true),
        Reply::SegmentExists(_) => Ok(false),
        other => Err(unexpected(other)),
    }
}

/// Deletes `segment` if it exists.
pub async fn delete(ctx: &CoreContext, segment: &str) -> Result<(), StepError> {
    let reply = ctx
        .serve_segment(Request::Delete(Delete {
            segment: segment.to_owned(),
        }))
        .await;
    match reply {
        Reply::Deleted(_) | Reply::NoSuchSegment(_) => Ok(()),
        other => Err(unexpected(other)),
    }
}
