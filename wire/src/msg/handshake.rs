//! The handshake: the first exchange on every connection.
//!
//! The client sends [`Hello`] with the version range it speaks; the node picks
//! the highest version both speak (see [`negotiate`]) and answers with
//! [`HelloReply`], which also tells a shard-aware client where to send each
//! segment's traffic: which core owns each container and on which port each
//! core listens. With no common version the node answers an `ErrorReply`
//! (`UnsupportedVersion`, give up) and closes. Both frames always carry
//! `HANDSHAKE_VERSION` in their header, and their layout never changes.

use rkyv::{Archive, Deserialize, Serialize};

use super::Validate;
use crate::error::FieldError;
use crate::limits::{
    ABSOLUTE_MAX_FRAME_BYTES, Limits, MAX_CONTAINERS, MAX_CORES, MIN_MAX_FRAME_BYTES,
};

/// Client → node: the protocol versions the client speaks.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Hello {
    pub min_version: u16,
    pub max_version: u16,
}

/// Node → client: the agreed version and the node's shape.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct HelloReply {
    /// The version both sides use from now on.
    pub version: u16,
    /// The node's own supported range, for diagnostics.
    pub min_version: u16,
    pub max_version: u16,
    /// Identity of the node (stable across restarts of the same data dir).
    pub node_id: u128,
    /// Number of cores serving segments; cores are numbered `0..core_count`.
    pub core_count: u16,
    /// The core that accepted this connection.
    pub core: u16,
    /// `container_cores[c]` is the core that owns container `c`. Its length is
    /// the container count (see `container_for`).
    pub container_cores: Vec<u16>,
    /// `core_ports[k]` is the TCP port core `k` listens on.
    pub core_ports: Vec<u16>,
    /// The bounds the node enforces on this connection.
    pub limits: Limits,
}

/// The version two ranges have in common: the highest both speak.
pub fn negotiate(client: (u16, u16), node: (u16, u16)) -> Option<u16> {
    let low = client.0.max(node.0);
    let high = client.1.min(node.1);
    (low <= high).then_some(high)
}

impl Validate for ArchivedHello {
    fn validate(&self) -> Result<(), FieldError> {
        check_range(self.min_version.to_native(), self.max_version.to_native())
    }
}

impl Validate for ArchivedHelloReply {
    fn validate(&self) -> Result<(), FieldError> {
        let (min, max) = (self.min_version.to_native(), self.max_version.to_native());
        check_range(min, max)?;
        if !(min..=max).contains(&self.version.to_native()) {
            return Err(FieldError::invalid(
                "version",
                "outside the node's own range",
            ));
        }
        self.check_topology()?;
        self.check_limits()
    }
}

impl ArchivedHelloReply {
    fn check_topology(&self) -> Result<(), FieldError> {
        let cores = usize::from(self.core_count.to_native());
        if cores == 0 || cores > MAX_CORES {
            return Err(FieldError::invalid("core_count", "must be 1..=MAX_CORES"));
        }
        if usize::from(self.core.to_native()) >= cores {
            return Err(FieldError::invalid("core", "not below core_count"));
        }
        if self.core_ports.len() != cores {
            return Err(FieldError::invalid(
                "core_ports",
                "length differs from core_count",
            ));
        }
        let containers = &self.container_cores;
        if containers.is_empty() || containers.len() > MAX_CONTAINERS {
            return Err(FieldError::invalid(
                "container_cores",
                "must have 1..=MAX_CONTAINERS",
            ));
        }
        if containers
            .iter()
            .any(|core| usize::from(core.to_native()) >= cores)
        {
            return Err(FieldError::invalid(
                "container_cores",
                "names a core not below core_count",
            ));
        }
        Ok(())
    }

    /// Checks only what a client relies on; the node validated the rest of
    /// its configuration at start.
    fn check_limits(&self) -> Result<(), FieldError> {
        let frame = self.limits.max_frame_bytes.to_native();
        if !(MIN_MAX_FRAME_BYTES..=ABSOLUTE_MAX_FRAME_BYTES).contains(&frame) {
            return Err(FieldError::invalid(
                "limits.max_frame_bytes",
                "out of range",
            ));
        }
        if self.limits.max_in_flight_requests.to_native() == 0 {
            return Err(FieldError::invalid("limits.max_in_flight_requests", "is 0"));
        }
        Ok(())
    }
}

fn check_range(min: u16, max: u16) -> Result<(), FieldError> {
    if min == 0 || min > max {
        return Err(FieldError::invalid(
            "min_version",
            "must be 1..=max_version",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::negotiate;

    #[test]
    fn negotiation_picks_the_highest_common_version() {
        assert_eq!(negotiate((1, 3), (2, 5)), Some(3));
        assert_eq!(negotiate((1, 1), (1, 1)), Some(1));
        assert_eq!(negotiate((4, 6), (1, 3)), None);
    }
}
