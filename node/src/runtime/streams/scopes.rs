//! Scope requests: create, delete, list scopes, list a scope's streams.
//!
//! The scope registry (`_system/scopes`) lists scopes; each scope's index
//! (`_system/scope/SCOPE`) lists its streams and is what stream creation
//! checks. Creating a scope makes its index before registering it; deleting
//! one closes its index (so no stream can join), unregisters it, then
//! deletes the index. Each step is idempotent, so repeating a request that
//! a crash cut short finishes it.

use spate_wire::{
    ErrorReply, NoSuchScope, Reply, SCOPE_REGISTRY_SEGMENT, ScopeCreated, ScopeDeleted,
    ScopeExists, ScopeList, StatusCode, StreamList, scope_index_segment,
};

use super::super::dispatch::CoreContext;
use super::logs::{self, StepError};
use super::registry;
use crate::controller::RegistryEvent;

pub async fn create_scope(ctx: &CoreContext, scope: String) -> Result<Reply, StepError> {
    logs::create(ctx, SCOPE_REGISTRY_SEGMENT).await?;
    let index = scope_index_segment(&scope);
    if !logs::create(ctx, &index).await? {
        // An index left closed by a delete that a crash cut short belongs
        // to no scope: start the new scope with a fresh one.
        let registered = registry::load(ctx, SCOPE_REGISTRY_SEGMENT)
            .await?
            .is_some_and(|l| l.registry.names.contains(&scope));
        let closed = registry::load(ctx, &index)
            .await?
            .is_some_and(|l| l.registry.closed);
        if closed && !registered {
            logs::delete(ctx, &index).await?;
            logs::create(ctx, &index).await?;
        }
    }
    let created = registry::update(ctx, SCOPE_REGISTRY_SEGMENT, |registry| {
        match registry.is_some_and(|r| r.names.contains(&scope)) {
            true => (None, false),
            false => (Some(RegistryEvent::Added(scope.clone())), true),
        }
    })
    .await?;
    Ok(match created {
        true => Reply::ScopeCreated(ScopeCreated {}),
        false => Reply::ScopeExists(ScopeExists { scope }),
    })
}

pub async fn delete_scope(ctx: &CoreContext, scope: String) -> Result<Reply, StepError> {
    let registered = registry::load(ctx, SCOPE_REGISTRY_SEGMENT)
        .await?
        .is_some_and(|l| l.registry.names.contains(&scope));
    if !registered {
        return Ok(Reply::NoSuchScope(NoSuchScope { scope }));
    }
    let index = scope_index_segment(&scope);
    let streams = registry::update(ctx, &index, |registry| match registry {
        Some(r) if !r.names.is_empty() => (None, r.names.len()),
        Some(r) if !r.closed => (Some(RegistryEvent::Closed), 0),
        _ => (None, 0),
    })
    .await?;
    if streams > 0 {
        return Ok(Reply::Error(ErrorReply::new(
            StatusCode::ScopeNotEmpty,
            format!("scope {scope} has {streams} streams; seal and delete them first"),
        )));
    }
    registry::update(ctx, SCOPE_REGISTRY_SEGMENT, |_| {
        (Some(RegistryEvent::Removed(scope.clone())), ())
    })
    .await?;
    logs::delete(ctx, &index).await?;
    Ok(Reply::ScopeDeleted(ScopeDeleted {}))
}

pub async fn list_scopes(ctx: &CoreContext) -> Result<Reply, StepError> {
    let scopes = registry::load(ctx, SCOPE_REGISTRY_SEGMENT)
        .await?
        .map_or_else(Vec::new, |l| l.registry.names.into_iter().collect());
    Ok(Reply::ScopeList(ScopeList { scopes }))
}

pub async fn list_streams(ctx: &CoreContext, scope: String) -> Result<Reply, StepError> {
    match registry::load(ctx, &scope_index_segment(&scope)).await? {
        Some(loaded) if !loaded.registry.closed => Ok(Reply::StreamList(StreamList {
            streams: loaded.registry.names.into_iter().collect(),
        })),
        _ => Ok(Reply::NoSuchScope(NoSuchScope { scope })),
    }
}
