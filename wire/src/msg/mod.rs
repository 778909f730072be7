//! Every message of the protocol and its stable type code.
//!
//! Each message is its own struct, archived with rkyv as the frame body. The
//! frame header's `msg_type` says which struct the body is, so rkyv's enum
//! tags never become part of the format, and an unknown code is caught from
//! the header alone. After bytecheck validates a body, a per-message
//! [`Validate`] pass enforces the protocol's own rules (segment names, ranges),
//! so a `RequestRef` in the node's hands is always well-formed.

#[macro_use]
mod macros;

/// Implements [`Validate`] for archived messages whose only rule is a valid
/// `segment` field.
macro_rules! validate_segment_only {
    ($($ty:ty),* $(,)?) => {$(
        impl Validate for $ty {
            fn validate(&self) -> Result<(), FieldError> {
                check_name("segment", &self.segment)
            }
        }
    )*};
}

/// Implements [`Validate`] for archived messages in which every value that
/// passes bytecheck is meaningful.
macro_rules! no_field_rules {
    ($($ty:ty),* $(,)?) => {$(
        impl Validate for $ty {
            fn validate(&self) -> Result<(), FieldError> {
                Ok(())
            }
        }
    )*};
}

mod handshake;
mod reply;
mod request;
mod stream;
mod txn;

pub use handshake::{ArchivedHello, ArchivedHelloReply, Hello, HelloReply, negotiate};
pub use reply::*;
pub use request::*;
pub use stream::*;
pub use txn::*;

use rkyv::api::high::{HighDeserializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::string::ArchivedString;
use rkyv::{Archive, Deserialize, Portable};

use crate::encode::{FrameBuf, write_archive};
use crate::error::{DecodeError, FieldError};
use crate::name::validate_segment_name;

/// The high bit of a message type code marks a reply.
pub const REPLY_BIT: u16 = 0x8000;

messages! {
    requests {
        /// Opens the handshake.
        Hello(Hello) = 0x0001,
        Ping(Ping) = 0x0002,
        CreateSegment(CreateSegment) = 0x0010,
        Append(Append) = 0x0011,
        AppendBatch(AppendBatch) = 0x0012,
        ConditionalAppend(ConditionalAppend) = 0x0013,
        Read(Read) = 0x0014,
        Seal(Seal) = 0x0015,
        Truncate(Truncate) = 0x0016,
        Merge(Merge) = 0x0017,
        Delete(Delete) = 0x0018,
        GetInfo(GetInfo) = 0x0019,
        GetAttribute(GetAttribute) = 0x001A,
        UpdateAttribute(UpdateAttribute) = 0x001B,
        GetWriterState(GetWriterState) = 0x001C,
        CompactNow(CompactNow) = 0x0020,
        CreateScope(CreateScope) = 0x0030,
        DeleteScope(DeleteScope) = 0x0031,
        ListScopes(ListScopes) = 0x0032,
        ListStreams(ListStreams) = 0x0033,
        CreateStream(CreateStream) = 0x0034,
        DescribeStream(DescribeStream) = 0x0035,
        UpdateStream(UpdateStream) = 0x0036,
        ScaleStream(ScaleStream) = 0x0037,
        TruncateStream(TruncateStream) = 0x0038,
        SealStream(SealStream) = 0x0039,
        DeleteStream(DeleteStream) = 0x003A,
        GetSegmentLoad(GetSegmentLoad) = 0x003B,
        BeginTxn(BeginTxn) = 0x003C,
        PingTxn(PingTxn) = 0x003D,
        CommitTxn(CommitTxn) = 0x003E,
        AbortTxn(AbortTxn) = 0x003F,
        GetTxnState(GetTxnState) = 0x0040,
    }
    replies {
        /// Completes the handshake.
        HelloReply(HelloReply) = 0x8001,
        Pong(Pong) = 0x8002,
        SegmentCreated(SegmentCreated) = 0x8010,
        /// Answers `Append`, `AppendBatch` and `ConditionalAppend`.
        Appended(Appended) = 0x8011,
        ReadData(ReadData) = 0x8014,
        Sealed(Sealed) = 0x8015,
        Truncated(Truncated) = 0x8016,
        Merged(Merged) = 0x8017,
        Deleted(Deleted) = 0x8018,
        SegmentInfo(SegmentInfo) = 0x8019,
        AttributeValue(AttributeValue) = 0x801A,
        AttributeUpdated(AttributeUpdated) = 0x801B,
        WriterState(WriterState) = 0x801C,
        CompactedNow(CompactedNow) = 0x8020,
        NoSuchSegment(NoSuchSegment) = 0x8040,
        SegmentExists(SegmentExists) = 0x8041,
        SegmentIsSealed(SegmentIsSealed) = 0x8042,
        SegmentIsTruncated(SegmentIsTruncated) = 0x8043,
        ConditionalAppendFailed(ConditionalAppendFailed) = 0x8044,
        AttributeConflict(AttributeConflict) = 0x8045,
        ScopeCreated(ScopeCreated) = 0x8030,
        ScopeDeleted(ScopeDeleted) = 0x8031,
        ScopeList(ScopeList) = 0x8032,
        StreamList(StreamList) = 0x8033,
        StreamCreated(StreamCreated) = 0x8034,
        StreamDescription(StreamDescription) = 0x8035,
        StreamUpdated(StreamUpdated) = 0x8036,
        StreamScaled(StreamScaled) = 0x8037,
        StreamTruncated(StreamTruncated) = 0x8038,
        StreamSealed(StreamSealed) = 0x8039,
        StreamDeleted(StreamDeleted) = 0x803A,
        SegmentLoad(SegmentLoad) = 0x803B,
        TxnBegun(TxnBegun) = 0x803C,
        /// Answers `PingTxn`, `CommitTxn`, `AbortTxn` and `GetTxnState`.
        TxnState(TxnState) = 0x803D,
        NoSuchScope(NoSuchScope) = 0x8046,
        NoSuchStream(NoSuchStream) = 0x8047,
        ScopeExists(ScopeExists) = 0x8048,
        StreamExists(StreamExists) = 0x8049,
        /// The generic failure reply.
        Error(ErrorReply) = 0x80FF,
    }
}

impl MessageType {
    /// The number on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// True for requests (client → node), false for replies.
    pub fn is_request(self) -> bool {
        self.code() & REPLY_BIT == 0
    }
}

/// A message that can be written as a frame body. Sealed: implemented by every
/// message struct and by [`Request`] and [`Reply`].
pub trait Encode: SealedEncode {
    /// The type code for the frame header.
    fn message_type(&self) -> MessageType;
    /// Appends the rkyv archive of the message to `out`.
    #[doc(hidden)]
    fn write_body<B: FrameBuf>(&self, out: &mut B) -> Result<(), rancor::Error>;
}

mod sealed {
    /// Keeps [`Encode`](super::Encode) closed: only this crate's messages
    /// have a type code.
    pub trait SealedEncode {}
}
use sealed::SealedEncode;

/// Protocol rules an archived message must meet beyond bytecheck.
pub(crate) trait Validate {
    fn validate(&self) -> Result<(), FieldError>;
}

pub(crate) fn check_name(field: &'static str, name: &ArchivedString) -> Result<(), FieldError> {
    validate_segment_name(name.as_str()).map_err(|source| FieldError::SegmentName { field, source })
}

/// Bytecheck-validates `body` as a `T`, then checks the protocol rules.
fn access<T>(msg_type: MessageType, body: &[u8]) -> Result<&T::Archived, DecodeError>
where
    T: Archive,
    T::Archived: Portable + for<'v> CheckBytes<HighValidator<'v, rancor::Error>> + Validate,
{
    let archived = rkyv::access::<T::Archived, rancor::Error>(body)
        .map_err(|source| DecodeError::InvalidBody { msg_type, source })?;
    archived
        .validate()
        .map_err(|source| DecodeError::InvalidField { msg_type, source })?;
    Ok(archived)
}

/// Copies a validated archive into its owned form.
fn to_owned<T>(msg_type: MessageType, archived: &T::Archived) -> Result<T, DecodeError>
where
    T: Archive,
    T::Archived: Deserialize<T, HighDeserializer<rancor::Error>>,
{
    rkyv::deserialize::<T, rancor::Error>(archived)
        .map_err(|source| DecodeError::InvalidBody { msg_type, source })
}
