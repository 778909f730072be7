//! The segment work of a transaction's workflows: creating, sealing,
//! merging, copying and deleting its segments. Each step is idempotent, and
//! the order the model gives them makes a missing transaction segment mean
//! "already merged or copied" (see `controller::state::txn_rules`).

use spate_wire::stream::segment_name;
use spate_wire::{Merge, Read, Reply, Request, txn_segment_name};

use super::super::dispatch::CoreContext;
use super::logs::{self, Appended, StepError, unexpected};
use super::slot::StreamSlot;
use super::workflow::seal;
use crate::controller::Work;

/// Bytes a roll copies per read and conditional append: large enough for
/// few round trips, well under the largest append.
const COPY_CHUNK_BYTES: u32 = 1 << 20;

pub async fn do_txn_work(
    ctx: &CoreContext,
    slot: &StreamSlot,
    step: Work,
) -> Result<(), StepError> {
    let txn = |parent, id| txn_segment_name(&slot.scope, &slot.stream, parent, id);
    match step {
        Work::CreateTxnSegment { parent, id } => {
            logs::create(ctx, &txn(parent, id)).await.map(drop)
        }
        Work::SealTxnSegment { parent, id } => seal(ctx, txn(parent, id)).await,
        Work::DeleteTxnSegment { parent, id } => logs::delete(ctx, &txn(parent, id)).await,
        Work::MergeTxnSegment { parent, id } => {
            let target = segment_name(&slot.scope, &slot.stream, parent);
            merge(ctx, target, txn(parent, id)).await
        }
        Work::CopyTxnSegment { parent, id, into } => {
            let into = segment_name(&slot.scope, &slot.stream, into);
            copy(ctx, &txn(parent, id), &into).await
        }
        other => Err(StepError::Corrupt(format!(
            "{other:?} is not a transaction's segment work"
        ))),
    }
}

/// Merges sealed `source` into `target`; a missing source was merged by an
/// earlier try of this step.
async fn merge(ctx: &CoreContext, target: String, source: String) -> Result<(), StepError> {
    match ctx
        .serve_segment(Request::Merge(Merge { target, source }))
        .await
    {
        Reply::Merged(_) | Reply::NoSuchSegment(_) => Ok(()),
        other => Err(unexpected(other)),
    }
}

/// Copies sealed `source` to the end of `into`, which nothing else writes:
/// `into`'s length says how much an earlier try already copied, and each
/// chunk is a conditional append at that length, so a retry neither skips
/// nor repeats bytes. A missing source was copied and deleted already.
async fn copy(ctx: &CoreContext, source: &str, into: &str) -> Result<(), StepError> {
    let Some(mut offset) = length(ctx, into).await? else {
        return Err(StepError::Corrupt(format!(
            "the roll's copy segment {into} does not exist"
        )));
    };
    loop {
        let reply = ctx
            .serve_segment(Request::Read(Read {
                segment: source.to_owned(),
                offset,
                max_bytes: COPY_CHUNK_BYTES,
                wait_ms: 0,
            }))
            .await;
        let data = match reply {
            Reply::ReadData(data) => data,
            Reply::NoSuchSegment(_) => return Ok(()),
            other => return Err(unexpected(other)),
        };
        if data.data.is_empty() {
            return Ok(());
        }
        let read = data.data.len() as u64;
        match logs::append_at(ctx, into, offset, data.data).await? {
            Appended::At(_) => offset += read,
            Appended::NoLog => {
                return Err(StepError::Corrupt(format!("{into} vanished during a roll")));
            }
        }
        if data.end_of_segment || offset >= data.length {
            return Ok(());
        }
    }
}

/// A segment's length; `None` if it does not exist.
async fn length(ctx: &CoreContext, segment: &str) -> Result<Option<u64>, StepError> {
    let reply = ctx
        .serve_segment(Request::GetInfo(spate_wire::GetInfo {
            segment: segment.to_owned(),
        }))
        .await;
    match reply {
        Reply::SegmentInfo(info) => Ok(Some(info.length)),
        Reply::NoSuchSegment(_) => Ok(None),
        other => Err(unexpected(other)),
    }
}
