//! Typed errors for decoding and encoding.
//!
//! Every way bytes from a peer can be wrong is a variant here, so the node can
//! answer with the right status code instead of panicking or guessing.

use thiserror::Error;

use crate::msg::MessageType;
use crate::name::NameError;
use crate::status::StatusCode;

/// A field that passed bytecheck but breaks a protocol rule.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FieldError {
    #[error("{field}: {source}")]
    SegmentName {
        field: &'static str,
        #[source]
        source: NameError,
    },
    #[error("{field}: {source}")]
    StreamName {
        field: &'static str,
        #[source]
        source: crate::stream::StreamNameError,
    },
    #[error("config: {0}")]
    Config(#[source] crate::stream::ConfigError),
    #[error("{field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

impl FieldError {
    pub(crate) fn invalid(field: &'static str, reason: &'static str) -> Self {
        FieldError::Invalid { field, reason }
    }
}

/// Why bytes from a peer are not a valid frame or message.
///
/// Errors for which [`DecodeError::is_framing`] is true leave the byte stream
/// without a known next frame boundary: the connection must be closed.
/// The others concern one complete frame; the node may answer it with an
/// error reply and go on reading.
#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("bad magic {found:02x?}: not a Spate frame")]
    BadMagic { found: [u8; 4] },
    #[error("unsupported protocol version {version}")]
    UnsupportedVersion { version: u16 },
    #[error("unknown message type 0x{code:04x}")]
    UnknownMessageType { code: u16 },
    #[error("unknown flag bits 0x{flags:04x}")]
    UnknownFlags { flags: u16 },
    #[error("reserved header field is 0x{value:04x}, must be 0")]
    ReservedNotZero { value: u16 },
    #[error("frame of {frame_len} bytes exceeds the limit of {max}")]
    FrameTooLarge { frame_len: u64, max: u32 },
    #[error("frame CRC32C mismatch: declared 0x{declared:08x}, computed 0x{computed:08x}")]
    ChecksumMismatch { declared: u32, computed: u32 },
    #[error("stream ended inside a frame: {buffered} bytes buffered, {missing} more needed")]
    Truncated { buffered: usize, missing: usize },
    #[error("decoder already failed; the connection must be closed")]
    AfterError,
    #[error("{msg_type:?} body failed validation: {source}")]
    InvalidBody {
        msg_type: MessageType,
        #[source]
        source: rkyv::rancor::Error,
    },
    #[error("{msg_type:?}: {source}")]
    InvalidField {
        msg_type: MessageType,
        #[source]
        source: FieldError,
    },
    #[error("{msg_type:?} is not a {expected}")]
    UnexpectedMessage {
        msg_type: MessageType,
        expected: &'static str,
    },
}

impl DecodeError {
    /// True if the stream has lost its frame boundary and must be closed.
    pub fn is_framing(&self) -> bool {
        !matches!(
            self,
            DecodeError::InvalidBody { .. }
                | DecodeError::InvalidField { .. }
                | DecodeError::UnexpectedMessage { .. }
        )
    }

    /// The status code to put in the error reply for this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            DecodeError::BadMagic { .. }
            | DecodeError::UnknownFlags { .. }
            | DecodeError::ReservedNotZero { .. }
            | DecodeError::Truncated { .. }
            | DecodeError::AfterError => StatusCode::MalformedFrame,
            DecodeError::UnsupportedVersion { .. } => StatusCode::UnsupportedVersion,
            DecodeError::UnknownMessageType { .. } => StatusCode::UnknownMessageType,
            DecodeError::FrameTooLarge { .. } => StatusCode::FrameTooLarge,
            DecodeError::ChecksumMismatch { .. } => StatusCode::ChecksumMismatch,
            DecodeError::InvalidBody { .. } => StatusCode::InvalidMessage,
            DecodeError::InvalidField {
                source: FieldError::SegmentName { .. },
                ..
            } => StatusCode::InvalidSegmentName,
            DecodeError::InvalidField { .. } => StatusCode::InvalidArgument,
            DecodeError::UnexpectedMessage { .. } => StatusCode::UnexpectedMessage,
        }
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("encoded frame of {frame_len} bytes exceeds the limit of {max}")]
    FrameTooLarge { frame_len: u64, max: u32 },
    #[error("rkyv serialization failed: {0}")]
    Serialize(#[source] rkyv::rancor::Error),
}
