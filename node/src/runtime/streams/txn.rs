//! Transaction requests: begin, ping, commit, abort, state; and the lease
//! job that aborts transactions nobody kept alive.
//!
//! Leases live in memory on the core that owns the stream (`StreamSlot`),
//! so a ping costs no log entry; after a restart every open transaction
//! gets its whole lease again. A commit or ping that finds the lease run
//! out aborts first, so the answer never depends on when the job last ran.

use std::cell::Cell;

use spate_wire::{Reply, TxnBegun, TxnSegment, TxnState, TxnStatus};

use super::super::dispatch::{CoreContext, now_ms};
use super::lifecycle::{no_such_stream, ready, run_workflow};
use super::logs::StepError;
use super::slot::StreamSlot;
use crate::controller::{StreamEvent, StreamState, TxnOutcome};

pub async fn begin(
    ctx: &CoreContext,
    slot: &StreamSlot,
    lease_ms: u64,
) -> Result<Reply, StepError> {
    let begun = Cell::new(None);
    let decide = |s: &StreamState| {
        let event = s.begin_txn_event(lease_ms)?;
        if let StreamEvent::TxnBegun { id, .. } = event {
            begun.set(Some(id));
        }
        Ok(event)
    };
    if let Some(reply) = run_workflow(ctx, slot, decide).await? {
        return Ok(reply);
    }
    let id = begun
        .get()
        .ok_or_else(|| StepError::Corrupt("a begin recorded no transaction".into()))?;
    slot.renew_lease(id, lease_ms);
    let reply = slot.with_state(|s| {
        let txn = s.txn(id)?;
        let segments = txn
            .parents
            .iter()
            .filter_map(|&parent| {
                let range = s.segment(parent)?.range;
                Some(TxnSegment { parent, range })
            })
            .collect();
        Some(Reply::TxnBegun(TxnBegun {
            id,
            epoch: txn.epoch,
            lease_ms,
            segments,
        }))
    });
    reply
        .flatten()
        .ok_or_else(|| StepError::Corrupt(format!("transaction {id} vanished after its begin")))
}

pub async fn ping(
    ctx: &CoreContext,
    slot: &StreamSlot,
    id: u64,
    lease_ms: u64,
) -> Result<Reply, StepError> {
    let Some(outcome) = live_outcome(ctx, slot, id).await? else {
        return Ok(no_such_stream(slot));
    };
    if outcome == TxnOutcome::Open {
        slot.renew_lease(id, lease_ms);
    }
    Ok(state(id, outcome))
}

pub async fn commit(ctx: &CoreContext, slot: &StreamSlot, id: u64) -> Result<Reply, StepError> {
    let Some(outcome) = live_outcome(ctx, slot, id).await? else {
        return Ok(no_such_stream(slot));
    };
    if outcome != TxnOutcome::Open {
        return Ok(state(id, outcome));
    }
    let at_ms = now_ms();
    if let Some(reply) = run_workflow(ctx, slot, |s| s.commit_txn_event(id, at_ms)).await? {
        return Ok(reply);
    }
    slot.drop_lease(id);
    Ok(state(id, TxnOutcome::Committed))
}

pub async fn abort(ctx: &CoreContext, slot: &StreamSlot, id: u64) -> Result<Reply, StepError> {
    let Some(outcome) = live_outcome(ctx, slot, id).await? else {
        return Ok(no_such_stream(slot));
    };
    if outcome != TxnOutcome::Open {
        return Ok(state(id, outcome));
    }
    abort_open(ctx, slot, id).await?;
    Ok(state(id, TxnOutcome::Aborted))
}

pub async fn get_state(ctx: &CoreContext, slot: &StreamSlot, id: u64) -> Result<Reply, StepError> {
    Ok(match ready(ctx, slot).await? {
        Some(()) => state(id, outcome(slot, id)),
        None => no_such_stream(slot),
    })
}

/// Aborts the stream's open transactions whose leases ran out. The caller
/// holds the stream's lock.
pub async fn expire(ctx: &CoreContext, slot: &StreamSlot) -> Result<(), StepError> {
    if ready(ctx, slot).await?.is_none() {
        return Ok(());
    }
    let open: Vec<(u64, u64)> = slot
        .with_state(|s| s.open_txns().map(|t| (t.id, t.lease_ms)).collect())
        .unwrap_or_default();
    for (id, lease_ms) in open {
        if slot.lease_expired(id, lease_ms) {
            tracing::info!(stream = %slot.log, txn = id, lease_ms, "transaction lease ran out; aborting it");
            abort_open(ctx, slot, id).await?;
        }
    }
    Ok(())
}

/// Whether the stream has open transactions (so the lease job looks at it).
pub fn has_open(slot: &StreamSlot) -> bool {
    slot.with_state(|s| s.open_txns().next().is_some())
        .unwrap_or(false)
}

/// The transaction's outcome once pending workflows are done, with an open
/// one whose lease ran out aborted first. `None`: no such stream.
async fn live_outcome(
    ctx: &CoreContext,
    slot: &StreamSlot,
    id: u64,
) -> Result<Option<TxnOutcome>, StepError> {
    if ready(ctx, slot).await?.is_none() {
        return Ok(None);
    }
    let lease = slot.with_state(|s| s.txn(id).map(|t| t.lease_ms)).flatten();
    if let Some(lease_ms) = lease
        && slot.lease_expired(id, lease_ms)
    {
        abort_open(ctx, slot, id).await?;
    }
    Ok(Some(outcome(slot, id)))
}

async fn abort_open(ctx: &CoreContext, slot: &StreamSlot, id: u64) -> Result<(), StepError> {
    if let Some(reply) = run_workflow(ctx, slot, |s| s.abort_txn_event(id)).await? {
        return Err(StepError::Corrupt(format!(
            "aborting open transaction {id} was refused: {reply:?}"
        )));
    }
    slot.drop_lease(id);
    Ok(())
}

fn outcome(slot: &StreamSlot, id: u64) -> TxnOutcome {
    slot.with_state(|s| s.txn_outcome(id))
        .unwrap_or(TxnOutcome::Unknown)
}

fn state(id: u64, outcome: TxnOutcome) -> Reply {
    let status = match outcome {
        TxnOutcome::Open => TxnStatus::Open,
        TxnOutcome::Committed => TxnStatus::Committed,
        TxnOutcome::Aborted => TxnStatus::Aborted,
        TxnOutcome::Unknown => TxnStatus::Unknown,
    };
    Reply::TxnState(TxnState { id, status })
}
