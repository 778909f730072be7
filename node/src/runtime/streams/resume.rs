//! After a start, each core finds the streams whose logs it owns (through
//! the scope registry and the scope indexes), finishes every workflow a
//! stop interrupted, and drops index entries of streams whose creation
//! never wrote their log. It also loads every stream, so the periodic
//! jobs (auto-scaling, retention) know them.

use std::time::Duration;

use spate_wire::{SCOPE_REGISTRY_SEGMENT, container_for, scope_index_segment};

use super::super::dispatch::CoreContext;
use super::logs::StepError;
use super::registry;
use super::workflow::{finish, unlist};

/// Attempts at reading the registries while other cores still start.
const ATTEMPTS: u32 = 30;
const PAUSE: Duration = Duration::from_millis(500);

pub async fn resume(ctx: &CoreContext) {
    for attempt in 1..=ATTEMPTS {
        match resume_once(ctx).await {
            Ok(resumed) => {
                if resumed > 0 {
                    tracing::info!(core = ctx.index, streams = resumed, "streams loaded");
                }
                return;
            }
            Err(error) => {
                tracing::debug!(core = ctx.index, attempt, ?error, "resuming streams");
                glommio::timer::sleep(PAUSE).await;
            }
        }
    }
    tracing::warn!(
        core = ctx.index,
        "could not read the stream registries; interrupted workflows finish on the next request"
    );
}

async fn resume_once(ctx: &CoreContext) -> Result<usize, StepError> {
    let Some(scopes) = registry::load(ctx, SCOPE_REGISTRY_SEGMENT).await? else {
        return Ok(0);
    };
    let mut resumed = 0;
    for scope in &scopes.registry.names {
        let Some(index) = registry::load(ctx, &scope_index_segment(scope)).await? else {
            continue;
        };
        for stream in &index.registry.names {
            let log = spate_wire::stream_log_segment(scope, stream);
            let container = container_for(&log, ctx.containers);
            if usize::from(ctx.container_cores[container as usize]) != ctx.index {
                continue;
            }
            let slot = ctx.streams.slot(scope, stream);
            let Some(_permit) = slot.lock().await else {
                continue;
            };
            if slot.refresh(ctx).await? {
                finish(ctx, &slot).await?;
                resumed += 1;
            } else {
                // Listed, but its creation stopped before its log: unlist.
                unlist(ctx, &slot).await?;
                ctx.streams.remove(&slot.log);
            }
        }
    }
    Ok(resumed)
}
