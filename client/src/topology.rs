//! The node's shape as the handshake tells it: which core owns which
//! container, and on which port each core listens. This is what makes the
//! client shard-aware: a segment's traffic goes straight to its core.

use std::num::NonZeroU32;

use spate_wire::{HelloReply, Limits, container_for};

use crate::error::ClientError;

/// What a node said about itself in the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The node's identity, stable for its data directory.
    pub node_id: u128,
    /// The protocol version agreed for the connection.
    pub version: u16,
    /// `container_cores[c]` is the core owning container `c`.
    pub container_cores: Vec<u16>,
    /// `core_ports[k]` is the TCP port core `k` listens on.
    pub core_ports: Vec<u16>,
    /// The node's bounds, per connection.
    pub limits: Limits,
    container_count: NonZeroU32,
}

impl Topology {
    /// Takes the routing tables from a `HelloReply` (which the wire crate has
    /// already checked for consistency).
    pub(crate) fn from_hello(reply: &HelloReply) -> Result<Self, ClientError> {
        let container_count = u32::try_from(reply.container_cores.len())
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| ClientError::protocol("HelloReply without containers"))?;
        Ok(Topology {
            node_id: reply.node_id,
            version: reply.version,
            container_cores: reply.container_cores.clone(),
            core_ports: reply.core_ports.clone(),
            limits: reply.limits,
            container_count,
        })
    }

    /// Cores serving segments.
    pub fn core_count(&self) -> usize {
        self.core_ports.len()
    }

    /// The container that owns `segment`.
    pub fn container_for(&self, segment: &str) -> u32 {
        container_for(segment, self.container_count)
    }

    /// The core that owns `segment`.
    pub fn core_for(&self, segment: &str) -> u16 {
        let container = self.container_for(segment) as usize;
        // In range: container_for is below the count, which is the length.
        self.container_cores.get(container).copied().unwrap_or(0)
    }

    /// The port of core `core`, if the node has such a core.
    pub fn port_of(&self, core: u16) -> Option<u16> {
        self.core_ports.get(usize::from(core)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(cores: Vec<u16>, ports: Vec<u16>) -> HelloReply {
        HelloReply {
            version: 1,
            min_version: 1,
            max_version: 1,
            node_id: 9,
            core_count: ports.len() as u16,
            core: 0,
            container_cores: cores,
            core_ports: ports,
            limits: Limits::default(),
        }
    }

    #[test]
    fn routes_by_container_then_core() {
        let topology =
            Topology::from_hello(&hello(vec![0, 1, 1, 0], vec![7000, 7001])).expect("valid reply");
        for name in [
            "a",
            "b/c",
            "scope/stream/3",
            "scope/stream/3#transaction.ff",
        ] {
            let container = topology.container_for(name) as usize;
            assert_eq!(topology.core_for(name), topology.container_cores[container]);
        }
        assert_eq!(
            topology.core_for("scope/stream/3"),
            topology.core_for("scope/stream/3#transaction.ff")
        );
        assert_eq!(topology.port_of(1), Some(7001));
        assert_eq!(topology.port_of(2), None);
    }

    #[test]
    fn a_reply_without_containers_is_refused() {
        assert!(Topology::from_hello(&hello(vec![], vec![7000])).is_err());
    }
}
