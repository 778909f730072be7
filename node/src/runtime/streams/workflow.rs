//! Running a stream's workflow to its end: the segment work its phase still
//! needs (each step idempotent; steps of a kind at once, `waves.rs`), then
//! the event that records completion.
//! The same code finishes a workflow a request started and one that a
//! restart interrupted.

use spate_wire::stream::segment_name;
use spate_wire::{Reply, Request, Seal, Truncate, scope_index_segment};

use super::super::dispatch::CoreContext;
use super::logs::{self, StepError, unexpected};
use super::registry;
use super::slot::StreamSlot;
use super::txn_work;
use super::waves;
use crate::controller::{RegistryEvent, Work};

/// What finishing left.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// The stream is active or sealed, with nothing pending.
    Idle,
    /// The stream was being deleted and is now gone.
    Deleted,
}

/// Finishes whatever workflow the stream is in. The caller holds the lock
/// and has refreshed the slot.
pub async fn finish(ctx: &CoreContext, slot: &StreamSlot) -> Result<Finished, StepError> {
    loop {
        let Some((work, done)) = slot.with_state(|s| s.pending_work()) else {
            return Ok(Finished::Deleted);
        };
        if work.is_empty() && done.is_none() && !slot.with_state(is_deleting).unwrap_or(false) {
            slot.compact_if_long(ctx).await?;
            return Ok(Finished::Idle);
        }
        for wave in waves::waves(work) {
            let steps = wave
                .into_iter()
                .map(|step| do_work(ctx, slot, step))
                .collect();
            waves::all(steps).await?;
        }
        match done {
            Some(event) => slot.append(ctx, event).await?,
            None => {
                remove_stream(ctx, slot).await?;
                return Ok(Finished::Deleted);
            }
        }
    }
}

fn is_deleting(state: &crate::controller::StreamState) -> bool {
    state.phase == crate::controller::Phase::Deleting
}

pub(super) async fn do_work(
    ctx: &CoreContext,
    slot: &StreamSlot,
    step: Work,
) -> Result<(), StepError> {
    let name = |number| segment_name(&slot.scope, &slot.stream, number);
    match step {
        Work::CreateSegment(number) => logs::create(ctx, &name(number)).await.map(drop),
        Work::DeleteSegment(number) => logs::delete(ctx, &name(number)).await,
        Work::SealSegment(number) => seal(ctx, name(number)).await,
        Work::TruncateSegment { number, offset } => {
            let reply = ctx
                .serve_segment(Request::Truncate(Truncate {
                    segment: name(number),
                    start_offset: offset,
                }))
                .await;
            match reply {
                Reply::Truncated(_) | Reply::NoSuchSegment(_) => Ok(()),
                other => Err(unexpected(other)),
            }
        }
        txn => txn_work::do_txn_work(ctx, slot, txn).await,
    }
}

/// Seals `segment` (done already if sealed or gone).
pub(super) async fn seal(ctx: &CoreContext, segment: String) -> Result<(), StepError> {
    match ctx.serve_segment(Request::Seal(Seal { segment })).await {
        Reply::Sealed(_) | Reply::NoSuchSegment(_) => Ok(()),
        other => Err(unexpected(other)),
    }
}

/// The last steps of a delete, once every segment is gone: the log, then
/// the stream's entry in its scope's index.
async fn remove_stream(ctx: &CoreContext, slot: &StreamSlot) -> Result<(), StepError> {
    logs::delete(ctx, &slot.log).await?;
    slot.forget();
    unlist(ctx, slot).await
}

/// Removes the stream from its scope's index (if listed).
pub async fn unlist(ctx: &CoreContext, slot: &StreamSlot) -> Result<(), StepError> {
    let stream = slot.stream.clone();
    registry::update(ctx, &scope_index_segment(&slot.scope), |index| match index
        .is_some_and(|r| r.names.contains(&stream))
    {
        true => (Some(RegistryEvent::Removed(stream.clone())), ()),
        false => (None, ()),
    })
    .await
}
