//! `DescribeStream`: the stream's state with each segment's length.

use spate_wire::stream::segment_name;
use spate_wire::{
    CutPosition, EpochSegments, GetInfo, Reply, Request, StreamDescription, StreamPhase,
    StreamSegment,
};

use super::super::dispatch::CoreContext;
use super::lifecycle::no_such_stream;
use super::logs::{StepError, unexpected};
use super::slot::StreamSlot;
use crate::controller::{Phase, StreamState};

pub async fn describe(ctx: &CoreContext, slot: &StreamSlot) -> Result<Reply, StepError> {
    if !slot.refresh(ctx).await? {
        return Ok(no_such_stream(slot));
    }
    let Some(mut description) = slot.with_state(description_of) else {
        return Ok(no_such_stream(slot));
    };
    for segment in &mut description.segments {
        let reply = ctx
            .serve_segment(Request::GetInfo(GetInfo {
                segment: segment_name(&slot.scope, &slot.stream, segment.number),
            }))
            .await;
        match reply {
            Reply::SegmentInfo(info) => {
                segment.length = info.length;
                segment.start_offset = info.start_offset;
            }
            // Not created yet (a workflow is under way) or already deleted
            // (a truncation is): nothing to report.
            Reply::NoSuchSegment(_) => {}
            other => return Err(unexpected(other)),
        }
    }
    Ok(Reply::StreamDescription(description))
}

/// The description without segment lengths.
pub fn description_of(state: &StreamState) -> StreamDescription {
    StreamDescription {
        config: state.config,
        phase: phase_of(&state.phase),
        epoch: state.epoch(),
        created_unix_ms: state.created_ms,
        segments: state
            .all_segments()
            .filter(|s| !s.deleted)
            .map(|s| StreamSegment {
                number: s.number,
                range: s.range,
                created_epoch: s.created_epoch,
                sealed_epoch: s.sealed_epoch,
                predecessors: s.predecessors.clone(),
                length: 0,
                start_offset: 0,
            })
            .collect(),
        epochs: state
            .epochs()
            .map(|(at_ms, segments)| EpochSegments {
                at_ms,
                segments: segments.to_vec(),
            })
            .collect(),
        truncation: state
            .truncation()
            .iter()
            .map(|(&segment, &offset)| CutPosition { segment, offset })
            .collect(),
    }
}

fn phase_of(phase: &Phase) -> StreamPhase {
    match phase {
        Phase::Creating => StreamPhase::Creating,
        Phase::Active => StreamPhase::Active,
        Phase::Scaling { .. } => StreamPhase::Scaling,
        Phase::Truncating { .. } => StreamPhase::Truncating,
        Phase::Sealing => StreamPhase::Sealing,
        Phase::Sealed => StreamPhase::Sealed,
        Phase::Deleting => StreamPhase::Deleting,
        // The stream takes writes as usual while a transaction begins, merges
        // into current segments or is aborted.
        Phase::OpeningTxn { .. } | Phase::CommittingTxn { .. } | Phase::AbortingTxn { .. } => {
            StreamPhase::Active
        }
        // A roll makes two epochs, as a scale makes one.
        Phase::RollingTxn { .. } => StreamPhase::Scaling,
    }
}
