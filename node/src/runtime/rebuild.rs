//! Rebuilding a core's containers from what journal recovery handed back:
//! the last checkpoint (if any), then every record after it, in order.
//!
//! Storage-agnostic, so the node's start-up and the simulated power-cut
//! tests run the same code.

use std::collections::BTreeMap;

use spate_journal::{RecordKind, Recovered};

use crate::container::{
    Container, ContainerId, ContainerLimits, decode_checkpoint, record_container,
};

/// The containers `owned` by a core, as the recovered records leave them.
/// Errors name the record's LSN and what is wrong with it.
pub fn rebuild(
    recovered: &Recovered,
    owned: &[ContainerId],
    limits: &ContainerLimits,
) -> Result<BTreeMap<ContainerId, Container>, String> {
    let mut containers: BTreeMap<ContainerId, Container> = owned
        .iter()
        .map(|&id| (id, Container::new(id, limits.clone())))
        .collect();
    for record in &recovered.records {
        if record.kind == RecordKind::Checkpoint {
            containers = restore(&record.payload, owned, limits)
                .map_err(|e| format!("checkpoint at LSN {}: {e}", record.lsn))?;
            continue;
        }
        let id = record_container(&record.payload)
            .map_err(|e| format!("journal record LSN {}: {e}", record.lsn))?;
        let container = containers.get_mut(&id).ok_or_else(|| {
            format!(
                "journal record LSN {} belongs to container {id}, not owned by this core",
                record.lsn
            )
        })?;
        container
            .replay(&record.payload, Some(record.location))
            .map_err(|e| format!("replaying LSN {}: {e}", record.lsn))?;
    }
    Ok(containers)
}

/// The containers a checkpoint record holds. Each one the core owns must be
/// there, and no other.
fn restore(
    payload: &[u8],
    owned: &[ContainerId],
    limits: &ContainerLimits,
) -> Result<BTreeMap<ContainerId, Container>, String> {
    let snapshots = decode_checkpoint(payload).map_err(|e| e.to_string())?;
    let mut containers = BTreeMap::new();
    for snapshot in &snapshots {
        let id = snapshot.container;
        let container =
            Container::restore(id, limits.clone(), snapshot).map_err(|e| e.to_string())?;
        if containers.insert(id, container).is_some() {
            return Err(format!("container {id} appears twice"));
        }
    }
    if !containers.keys().copied().eq(owned.iter().copied()) {
        return Err(format!(
            "holds containers {:?}, but this core owns {owned:?}",
            containers.keys().collect::<Vec<_>>()
        ));
    }
    Ok(containers)
}
