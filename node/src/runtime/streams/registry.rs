//! Reading and changing name registries (the scope registry and the scope
//! indexes; see `controller/registry.rs`) with conditional appends.

use super::super::dispatch::CoreContext;
use super::logs::{self, Appended, StepError};
use crate::controller::{Registry, RegistryEvent, decode_registry, encode_registry_event};

/// A registry as read, with the log length it reflects.
pub struct Loaded {
    pub registry: Registry,
    pub length: u64,
}

/// Reads a registry; `None` if its segment does not exist.
pub async fn load(ctx: &CoreContext, segment: &str) -> Result<Option<Loaded>, StepError> {
    let Some(read) = logs::read_log(ctx, segment, 0).await? else {
        return Ok(None);
    };
    let events = decode_registry(&read.bytes)
        .map_err(|e| StepError::Corrupt(format!("registry {segment}: {e}")))?;
    let mut registry = Registry::default();
    registry.apply(&events);
    Ok(Some(Loaded {
        registry,
        length: read.length,
    }))
}

/// Appends `event` if the registry is still as `loaded` saw it. `false` if
/// the segment is gone.
pub async fn append(
    ctx: &CoreContext,
    segment: &str,
    loaded: &Loaded,
    event: &RegistryEvent,
) -> Result<bool, StepError> {
    let mut bytes = Vec::new();
    encode_registry_event(event, &mut bytes);
    Ok(matches!(
        logs::append_at(ctx, segment, loaded.length, bytes).await?,
        Appended::At(_)
    ))
}

/// Applies `change` (which decides from the registry what to append, or
/// nothing) and retries from a fresh read when another change won the
/// race, a bounded number of times. Returns what `change` decided last.
pub async fn update<T>(
    ctx: &CoreContext,
    segment: &str,
    mut change: impl FnMut(Option<&Registry>) -> (Option<RegistryEvent>, T),
) -> Result<T, StepError> {
    const ATTEMPTS: usize = 8;
    for _ in 0..ATTEMPTS {
        let loaded = load(ctx, segment).await?;
        let (event, outcome) = change(loaded.as_ref().map(|l| &l.registry));
        let (Some(event), Some(loaded)) = (event, loaded) else {
            return Ok(outcome);
        };
        match append(ctx, segment, &loaded, &event).await {
            Ok(_) => return Ok(outcome),
            Err(StepError::Conflict) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(StepError::Conflict)
}
