//! Stream requests: create, update, scale, truncate, seal, delete. Each
//! runs with the stream's lock held, first finishes any workflow a crash
//! or a failed step left behind, then records its own intent and runs it.

use std::collections::BTreeMap;

use spate_wire::stream::{KeyRange, StreamConfig, segment_name};
use spate_wire::{
    CutPosition, ErrorReply, GetInfo, NoSuchScope, NoSuchStream, Reply, Request, StatusCode,
    StreamCreated, StreamDeleted, StreamExists, StreamScaled, StreamSealed, StreamTruncated,
    StreamUpdated, scope_index_segment,
};

use super::super::dispatch::{CoreContext, now_ms};
use super::logs::{self, StepError, unexpected};
use super::registry;
use super::slot::StreamSlot;
use super::workflow::{Finished, finish};
use crate::controller::{Phase, RegistryEvent, StreamError, StreamEvent, StreamState};

/// The reply for a stream the log does not hold.
pub fn no_such_stream(slot: &StreamSlot) -> Reply {
    Reply::NoSuchStream(NoSuchStream {
        scope: slot.scope.clone(),
        stream: slot.stream.clone(),
    })
}

/// The reply for a request the stream's state refuses.
pub fn refused(error: StreamError) -> Reply {
    let status = match error {
        StreamError::WrongPhase { .. } => StatusCode::StreamStateConflict,
        StreamError::TooManyTxns(_) => StatusCode::Busy,
        StreamError::Replay { .. } => StatusCode::Internal,
        _ => StatusCode::InvalidArgument,
    };
    Reply::Error(ErrorReply::new(status, error.to_string()))
}

/// Loads the stream and finishes any pending workflow. `None` if it does
/// not exist (any more).
pub(super) async fn ready(ctx: &CoreContext, slot: &StreamSlot) -> Result<Option<()>, StepError> {
    if !slot.refresh(ctx).await? {
        return Ok(None);
    }
    Ok(match finish(ctx, slot).await? {
        Finished::Idle => Some(()),
        Finished::Deleted => None,
    })
}

pub async fn create(
    ctx: &CoreContext,
    slot: &StreamSlot,
    config: StreamConfig,
) -> Result<Reply, StepError> {
    if ready(ctx, slot).await?.is_some() {
        return Ok(Reply::StreamExists(StreamExists {
            scope: slot.scope.clone(),
            stream: slot.stream.clone(),
        }));
    }
    let event = match StreamState::create_event(config, now_ms()) {
        Ok(event) => event,
        Err(error) => return Ok(refused(error)),
    };
    if !list(ctx, slot).await? {
        return Ok(Reply::NoSuchScope(NoSuchScope {
            scope: slot.scope.clone(),
        }));
    }
    logs::create(ctx, &slot.log).await?;
    slot.append(ctx, event).await?;
    finish(ctx, slot).await?;
    Ok(Reply::StreamCreated(StreamCreated {}))
}

/// Adds the stream to its scope's index (before its log exists, so a
/// stream never exists unlisted). False if the scope does not exist or is
/// being deleted.
async fn list(ctx: &CoreContext, slot: &StreamSlot) -> Result<bool, StepError> {
    let stream = slot.stream.clone();
    registry::update(
        ctx,
        &scope_index_segment(&slot.scope),
        |index| match index {
            Some(r) if r.closed => (None, false),
            Some(r) if r.names.contains(&stream) => (None, true),
            Some(_) => (Some(RegistryEvent::Added(stream.clone())), true),
            None => (None, false),
        },
    )
    .await
}

/// Records `decide`'s event (if the state allows it) and runs the
/// workflow it starts; `reply` builds the answer from the state after.
async fn change(
    ctx: &CoreContext,
    slot: &StreamSlot,
    decide: impl FnOnce(&StreamState) -> Result<StreamEvent, StreamError>,
    reply: impl FnOnce(&StreamState) -> Reply,
) -> Result<Reply, StepError> {
    if let Some(answer) = run_workflow(ctx, slot, decide).await? {
        return Ok(answer);
    }
    Ok(slot
        .with_state(reply)
        .unwrap_or_else(|| no_such_stream(slot)))
}

/// Loads the stream, records `decide`'s event and runs its workflow to the
/// end. `Some(reply)` if it stopped early: no such stream, or refused.
pub(super) async fn run_workflow(
    ctx: &CoreContext,
    slot: &StreamSlot,
    decide: impl FnOnce(&StreamState) -> Result<StreamEvent, StreamError>,
) -> Result<Option<Reply>, StepError> {
    if ready(ctx, slot).await?.is_none() {
        return Ok(Some(no_such_stream(slot)));
    }
    let decided = slot
        .with_state(decide)
        .ok_or_else(|| StepError::Corrupt("the stream vanished under its lock".into()))?;
    let event = match decided {
        Ok(event) => event,
        Err(error) => return Ok(Some(refused(error))),
    };
    slot.append(ctx, event).await?;
    finish(ctx, slot).await?;
    Ok(None)
}

pub async fn update(
    ctx: &CoreContext,
    slot: &StreamSlot,
    config: StreamConfig,
) -> Result<Reply, StepError> {
    change(
        ctx,
        slot,
        |s| s.update_event(config),
        |_| Reply::StreamUpdated(StreamUpdated {}),
    )
    .await
}

pub async fn scale(
    ctx: &CoreContext,
    slot: &StreamSlot,
    seal: Vec<u64>,
    ranges: Vec<KeyRange>,
) -> Result<Reply, StepError> {
    let at_ms = now_ms();
    change(
        ctx,
        slot,
        |s| s.scale_event(seal, ranges, at_ms),
        |s| {
            let new_segments = s
                .all_segments()
                .filter(|seg| seg.created_epoch == s.epoch())
                .map(|seg| seg.number)
                .collect();
            Reply::StreamScaled(StreamScaled {
                epoch: s.epoch(),
                new_segments,
            })
        },
    )
    .await
}

pub async fn truncate(
    ctx: &CoreContext,
    slot: &StreamSlot,
    positions: Vec<CutPosition>,
) -> Result<Reply, StepError> {
    let positions: BTreeMap<u64, u64> = positions.iter().map(|p| (p.segment, p.offset)).collect();
    if let Some(reply) = check_offsets(ctx, slot, &positions).await? {
        return Ok(reply);
    }
    change(
        ctx,
        slot,
        |s| s.truncate_event(positions),
        |_| Reply::StreamTruncated(StreamTruncated {}),
    )
    .await
}

/// A cut may not point past a segment's end (its offsets are event
/// boundaries the caller read; the node cannot check that part).
async fn check_offsets(
    ctx: &CoreContext,
    slot: &StreamSlot,
    positions: &BTreeMap<u64, u64>,
) -> Result<Option<Reply>, StepError> {
    for (&number, &offset) in positions {
        let reply = ctx
            .serve_segment(Request::GetInfo(GetInfo {
                segment: segment_name(&slot.scope, &slot.stream, number),
            }))
            .await;
        let length = match reply {
            Reply::SegmentInfo(info) => info.length,
            // The model names the missing segment more precisely.
            Reply::NoSuchSegment(_) => continue,
            other => return Err(unexpected(other)),
        };
        if offset > length {
            let message =
                format!("the cut puts segment {number} at {offset}, past its end at {length}");
            return Ok(Some(Reply::Error(ErrorReply::new(
                StatusCode::InvalidArgument,
                message,
            ))));
        }
    }
    Ok(None)
}

pub async fn seal(ctx: &CoreContext, slot: &StreamSlot) -> Result<Reply, StepError> {
    if ready(ctx, slot).await?.is_none() {
        return Ok(no_such_stream(slot));
    }
    if slot.with_state(|s| s.phase == Phase::Sealed) == Some(true) {
        return Ok(Reply::StreamSealed(StreamSealed {}));
    }
    change(ctx, slot, StreamState::seal_event, |_| {
        Reply::StreamSealed(StreamSealed {})
    })
    .await
}

pub async fn delete(ctx: &CoreContext, slot: &StreamSlot) -> Result<Reply, StepError> {
    // Nothing is left to describe afterwards: the answer is fixed.
    let stopped = run_workflow(ctx, slot, StreamState::delete_event).await?;
    Ok(stopped.unwrap_or(Reply::StreamDeleted(StreamDeleted {})))
}
