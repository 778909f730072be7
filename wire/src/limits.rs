//! Every size the protocol bounds, by name.
//!
//! Bytes from the network are untrusted, so every length a peer can declare has
//! a maximum here, checked before anything is allocated for it. The node
//! advertises its [`Limits`] in the handshake so a client can stay inside them
//! instead of discovering them through errors.

use rkyv::{Archive, Deserialize, Serialize};
use thiserror::Error;

use crate::header::HEADER_LEN;

const KIB: u32 = 1024;
const MIB: u32 = 1024 * KIB;

/// Default largest frame, header included, a node accepts.
pub const DEFAULT_MAX_FRAME_BYTES: u32 = 16 * MIB;
/// The largest `max_frame_bytes` any configuration may choose: a frame this
/// size is buffered whole, once per connection.
pub const ABSOLUTE_MAX_FRAME_BYTES: u32 = 64 * MIB;
/// The smallest `max_frame_bytes` a configuration may choose: every control
/// message (handshake, errors, metadata replies) must always fit.
pub const MIN_MAX_FRAME_BYTES: u32 = 64 * KIB;
/// Default requests a connection may have sent but not yet had answered.
pub const DEFAULT_MAX_IN_FLIGHT_REQUESTS: u32 = 1024;
/// Default frame bytes a connection may have in flight (sum of request frames
/// not yet answered). Larger than a frame so one maximal frame always fits.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: u64 = 64 * MIB as u64;
/// Default client connections one node accepts, across all cores.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;

/// Longest segment name, in bytes (names are ASCII, so also characters).
pub const MAX_SEGMENT_NAME_BYTES: usize = 255;
/// Most `/`-separated components in a segment name.
pub const MAX_SEGMENT_NAME_COMPONENTS: usize = 8;
/// Largest single event payload. A batch may carry several such events only
/// if the frame limit allows.
pub const MAX_EVENT_BYTES: usize = 8 * MIB as usize;
/// Most events in one batched append. Bounds the per-event work an attacker
/// can pack into one frame with empty payloads.
pub const MAX_BATCH_EVENTS: usize = 16 * 1024;
/// Longest a read may wait at the tail of a segment for new data.
pub const MAX_READ_WAIT_MS: u32 = 60_000;
/// Longest human-readable message in an error reply.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 4096;
/// Bytes a `ReadData` frame needs besides its data (header, fixed fields,
/// slack). A node sizes a read so that `data.len() <= max_frame_bytes -
/// READ_DATA_OVERHEAD`, and the reply always fits the frame limit.
pub const READ_DATA_OVERHEAD: u32 = 64;
/// Most cores a node may report in the handshake.
pub const MAX_CORES: usize = 1024;
/// Most containers a node may report in the handshake.
pub const MAX_CONTAINERS: usize = 65_536;

/// The per-node and per-connection bounds a node enforces.
///
/// Sent to the client in the handshake (`HelloReply`).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Limits {
    /// Largest frame, header included, either side may send.
    pub max_frame_bytes: u32,
    /// Most unanswered requests per connection; past it the node stops reading
    /// the socket (backpressure) or answers `Busy`.
    pub max_in_flight_requests: u32,
    /// Most bytes of unanswered request frames per connection.
    pub max_in_flight_bytes: u64,
    /// Most client connections per node.
    pub max_connections: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_in_flight_requests: DEFAULT_MAX_IN_FLIGHT_REQUESTS,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A [`Limits`] value that cannot work.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LimitsError {
    #[error("max_frame_bytes {0} is outside {MIN_MAX_FRAME_BYTES}..={ABSOLUTE_MAX_FRAME_BYTES}")]
    FrameSize(u32),
    #[error("max_in_flight_requests must be at least 1")]
    NoInFlightRequests,
    #[error(
        "max_in_flight_bytes {bytes} is below max_frame_bytes {frame}: one frame could never be admitted"
    )]
    InFlightBytesBelowFrame { bytes: u64, frame: u32 },
    #[error("max_connections must be at least 1")]
    NoConnections,
}

impl Limits {
    /// Checks that the limits are usable together.
    pub fn validate(&self) -> Result<(), LimitsError> {
        if !(MIN_MAX_FRAME_BYTES..=ABSOLUTE_MAX_FRAME_BYTES).contains(&self.max_frame_bytes) {
            return Err(LimitsError::FrameSize(self.max_frame_bytes));
        }
        if self.max_in_flight_requests == 0 {
            return Err(LimitsError::NoInFlightRequests);
        }
        if self.max_in_flight_bytes < u64::from(self.max_frame_bytes) {
            return Err(LimitsError::InFlightBytesBelowFrame {
                bytes: self.max_in_flight_bytes,
                frame: self.max_frame_bytes,
            });
        }
        if self.max_connections == 0 {
            return Err(LimitsError::NoConnections);
        }
        Ok(())
    }

    /// Largest body a frame may carry under these limits.
    pub fn max_body_bytes(&self) -> u32 {
        self.max_frame_bytes.saturating_sub(HEADER_LEN as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Limits::default().validate(), Ok(()));
    }

    #[test]
    fn in_flight_bytes_must_hold_one_frame() {
        let limits = Limits {
            max_in_flight_bytes: 1,
            ..Limits::default()
        };
        assert!(matches!(
            limits.validate(),
            Err(LimitsError::InFlightBytesBelowFrame { .. })
        ));
    }

    #[test]
    fn frame_size_is_bounded_both_ways() {
        for bad in [0, MIN_MAX_FRAME_BYTES - 1, ABSOLUTE_MAX_FRAME_BYTES + 1] {
            let limits = Limits {
                max_frame_bytes: bad,
                ..Limits::default()
            };
            assert_eq!(limits.validate(), Err(LimitsError::FrameSize(bad)));
        }
    }
}
