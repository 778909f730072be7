//! Stable status codes and the retry advice that goes with each.
//!
//! The numbers are part of the protocol: a code is never renumbered or reused,
//! only added. A client that meets a code it does not know acts on the
//! [`RetryAdvice`] carried next to it in the error reply, which is why the
//! advice travels on the wire instead of being derived from the code.

use rkyv::{Archive, Deserialize, Serialize};

/// What a client should do about a failed request.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rkyv(derive(Debug, PartialEq, Eq))]
#[repr(u8)]
pub enum RetryAdvice {
    /// The same request may succeed later (after a backoff, possibly on a new
    /// connection). Appends are safe to resend: writer id + event number dedupe.
    Retry = 1,
    /// The request is malformed or invalid; resending it unchanged fails again.
    FixRequest = 2,
    /// The request was valid but cannot succeed against the segment or node as
    /// it stands (sealed, missing, condition failed, version mismatch): report
    /// to the application.
    GiveUp = 3,
}

macro_rules! status_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal => $advice:ident, )*) => {
        /// A stable numeric status code (see the table in `docs/wire.md`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum StatusCode {
            $( $(#[$doc])* $name = $code, )*
        }

        impl StatusCode {
            /// Every code, in table order (for docs and tests).
            pub const ALL: &'static [StatusCode] = &[$(StatusCode::$name,)*];

            /// The code for a number, or `None` if this build does not know it.
            pub fn from_u16(code: u16) -> Option<StatusCode> {
                match code {
                    $( $code => Some(StatusCode::$name), )*
                    _ => None,
                }
            }

            /// What a client should usually do when it gets this code.
            pub fn default_advice(self) -> RetryAdvice {
                match self {
                    $( StatusCode::$name => RetryAdvice::$advice, )*
                }
            }
        }
    };
}

status_codes! {
    // 1xx: the request or frame is wrong.
    /// The frame could not be parsed (magic, flags, reserved bits, truncation).
    /// The node closes the connection.
    MalformedFrame = 100 => FixRequest,
    /// No protocol version in common, or a frame with an unsupported version.
    UnsupportedVersion = 101 => GiveUp,
    /// The frame's message type is not known to the node.
    UnknownMessageType = 102 => FixRequest,
    /// The frame declares a length above the node's `max_frame_bytes`.
    FrameTooLarge = 103 => FixRequest,
    /// The frame's CRC32C does not match: corruption in transit or a bug.
    ChecksumMismatch = 104 => Retry,
    /// The body failed validation (bytecheck) or a field check.
    InvalidMessage = 105 => FixRequest,
    /// A segment name breaks the naming rule.
    InvalidSegmentName = 106 => FixRequest,
    /// A field value is out of range for this operation.
    InvalidArgument = 107 => FixRequest,
    /// A request arrived before the handshake completed.
    HandshakeRequired = 108 => FixRequest,
    /// A reply message was sent where a request was expected, or vice versa.
    UnexpectedMessage = 109 => FixRequest,
    /// A read or truncate offset lies beyond the segment's length.
    OffsetOutOfRange = 110 => FixRequest,
    /// A merge source segment is not sealed.
    SourceNotSealed = 111 => FixRequest,
    /// An event is larger than `MAX_EVENT_BYTES`.
    EventTooLarge = 112 => FixRequest,

    // 2xx: the request was valid; the segment's state says no. These normally
    // travel as their own reply messages; the codes exist for error replies
    // and for clients that want one number per outcome.
    /// The segment does not exist.
    NoSuchSegment = 200 => GiveUp,
    /// The segment already exists.
    SegmentExists = 201 => GiveUp,
    /// The segment is sealed; no more appends.
    SegmentSealed = 202 => GiveUp,
    /// The read offset is below the segment's start offset.
    SegmentTruncated = 203 => GiveUp,
    /// A conditional append's expected offset is not the segment's length.
    ConditionalAppendFailed = 204 => GiveUp,
    /// An attribute compare-and-set found a different value.
    AttributeConflict = 205 => GiveUp,
    /// The stream is not in a state that allows the request (scaling a
    /// sealed stream, deleting an unsealed one).
    StreamStateConflict = 206 => GiveUp,
    /// A scope that still holds streams cannot be deleted.
    ScopeNotEmpty = 207 => GiveUp,

    // 3xx: the node cannot serve the request now.
    /// Over a per-connection or per-core bound; back off and resend.
    Busy = 300 => Retry,
    /// The node is at `max_connections`.
    TooManyConnections = 301 => Retry,
    /// The segment's container is still recovering.
    NotReady = 302 => Retry,
    /// The node is shutting down.
    ShuttingDown = 303 => Retry,
    /// The operation did not finish in time.
    Timeout = 304 => Retry,
    /// The owning journal failed; the node recovers it on restart.
    StorageFailed = 305 => Retry,
    /// A bug in the node. Retried with a bound, it may succeed after recovery.
    Internal = 306 => Retry,
    /// The owning core's journal has no room for more data: every file holds
    /// data not yet released. Nothing acknowledged is affected; retry once
    /// space is released.
    StorageFull = 307 => Retry,
}

impl StatusCode {
    /// The number on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_none() {
        for &status in StatusCode::ALL {
            assert_eq!(StatusCode::from_u16(status.code()), Some(status));
        }
        assert_eq!(StatusCode::from_u16(0), None);
        assert_eq!(StatusCode::from_u16(999), None);
    }

    /// Pins a few numbers: renumbering would break every deployed client.
    #[test]
    fn numbers_are_stable() {
        assert_eq!(StatusCode::MalformedFrame.code(), 100);
        assert_eq!(StatusCode::EventTooLarge.code(), 112);
        assert_eq!(StatusCode::NoSuchSegment.code(), 200);
        assert_eq!(StatusCode::AttributeConflict.code(), 205);
        assert_eq!(StatusCode::Busy.code(), 300);
        assert_eq!(StatusCode::Internal.code(), 306);
        assert_eq!(RetryAdvice::Retry as u8, 1);
        assert_eq!(RetryAdvice::GiveUp as u8, 3);
    }
}
