//! Auto-scaling: every tick, for each active stream scaled by event or
//! byte rate, read each current segment's rate (averaged over the scaling
//! window by the core that owns the segment) and make at most one change:
//! split the hottest segment above the target into `scale_factor` parts,
//! or else merge the coldest neighbouring pair that are both under half the
//! target, never going under `min_segments`. A segment younger than the
//! window is left alone: its rate is not measured yet. As Pravega's
//! auto-scaler (`../shared/reference/pravega.md` §4), one node wide.

use spate_wire::stream::{
    KeyRange, MAX_STREAM_SEGMENTS, ScalingPolicy, segment_name, split_evenly,
};
use spate_wire::{GetSegmentLoad, Reply, Request};

use super::super::dispatch::{CoreContext, now_ms};
use super::logs::{StepError, unexpected};
use super::slot::StreamSlot;
use super::workflow::finish;
use crate::controller::Phase;

/// A current segment as the scaler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub number: u64,
    pub range: KeyRange,
    /// In the policy's unit: events/s or KiB/s.
    pub rate: f64,
    /// Old enough to be split or merged.
    pub settled: bool,
}

/// What to do: seal these and create segments over those ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub seal: Vec<u64>,
    pub ranges: Vec<KeyRange>,
}

/// The one change a tick makes, if any. `segments` are in key order.
pub fn decide(policy: ScalingPolicy, segments: &[Measured]) -> Option<Decision> {
    let (target, factor, min) = match policy {
        ScalingPolicy::Fixed { .. } => return None,
        ScalingPolicy::ByEventRate {
            target_events_per_s,
            scale_factor,
            min_segments,
        } => (target_events_per_s, scale_factor, min_segments),
        ScalingPolicy::ByByteRate {
            target_kib_per_s,
            scale_factor,
            min_segments,
        } => (target_kib_per_s, scale_factor, min_segments),
    };
    let target = f64::from(target);
    let room = segments.len() + factor as usize - 1 <= MAX_STREAM_SEGMENTS as usize;
    let hottest = segments
        .iter()
        .filter(|s| s.settled && s.rate > target)
        .max_by(|a, b| a.rate.total_cmp(&b.rate));
    if let Some(hot) = hottest.filter(|_| room)
        && let Ok(ranges) = split_evenly(hot.range, factor)
    {
        return Some(Decision {
            seal: vec![hot.number],
            ranges,
        });
    }
    if segments.len() <= min as usize {
        return None;
    }
    let coldest_pair = segments
        .windows(2)
        .filter(|pair| {
            pair.iter().all(|s| s.settled && s.rate < target / 2.0)
                && pair[0].range.end.checked_add(1) == Some(pair[1].range.start)
        })
        .min_by(|a, b| (a[0].rate + a[1].rate).total_cmp(&(b[0].rate + b[1].rate)))?;
    Some(Decision {
        seal: vec![coldest_pair[0].number, coldest_pair[1].number],
        ranges: vec![KeyRange {
            start: coldest_pair[0].range.start,
            end: coldest_pair[1].range.end,
        }],
    })
}

/// One auto-scaling tick for one stream.
pub async fn tick(ctx: &CoreContext, slot: &StreamSlot) -> Result<(), StepError> {
    let Some(_permit) = slot.lock().await else {
        return Ok(());
    };
    if !slot.refresh(ctx).await? {
        return Ok(());
    }
    let now = now_ms();
    let Some((policy, current)) = slot.with_state(|s| {
        let epoch_starts: Vec<u64> = s.epochs().map(|(at, _)| at).collect();
        let current: Vec<(u64, KeyRange, u64)> = s
            .current_segments()
            .iter()
            .map(|seg| {
                let born = epoch_starts
                    .get(seg.created_epoch as usize)
                    .copied()
                    .unwrap_or(0);
                (seg.number, seg.range, born)
            })
            .collect();
        let scaled = s.phase == Phase::Active;
        (scaled.then_some(s.config.scaling), current)
    }) else {
        return Ok(());
    };
    let Some(policy) = policy.filter(|p| !matches!(p, ScalingPolicy::Fixed { .. })) else {
        return Ok(());
    };
    let window_ms = ctx.streams.settings.scale_window_ms;
    let mut measured = Vec::with_capacity(current.len());
    for (number, range, born_ms) in current {
        let (events, bytes) = load(ctx, slot, number).await?;
        let rate = match policy {
            ScalingPolicy::ByByteRate { .. } => bytes / 1024.0,
            _ => events,
        };
        measured.push(Measured {
            number,
            range,
            rate,
            settled: now.saturating_sub(born_ms) >= window_ms,
        });
    }
    let Some(decision) = decide(policy, &measured) else {
        return Ok(());
    };
    let event = slot
        .with_state(|s| s.scale_event(decision.seal.clone(), decision.ranges.clone(), now))
        .ok_or_else(|| StepError::Corrupt("the stream vanished under its lock".into()))?;
    let Ok(event) = event else {
        return Ok(());
    };
    tracing::info!(stream = %slot.log, seal = ?decision.seal, parts = decision.ranges.len(), "auto-scaling");
    slot.append(ctx, event).await?;
    finish(ctx, slot).await.map(drop)
}

/// A segment's (events/s, bytes/s).
async fn load(ctx: &CoreContext, slot: &StreamSlot, number: u64) -> Result<(f64, f64), StepError> {
    let reply = ctx
        .serve_segment(Request::GetSegmentLoad(GetSegmentLoad {
            segment: segment_name(&slot.scope, &slot.stream, number),
        }))
        .await;
    match reply {
        Reply::SegmentLoad(load) => Ok((
            load.milli_events_per_s as f64 / 1000.0,
            load.bytes_per_s as f64,
        )),
        Reply::NoSuchSegment(_) => Ok((0.0, 0.0)),
        other => Err(unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ScalingPolicy {
        ScalingPolicy::ByEventRate {
            target_events_per_s: 100,
            scale_factor: 2,
            min_segments: 1,
        }
    }

    fn measured(rates: &[f64]) -> Vec<Measured> {
        let ranges = split_evenly(KeyRange::ALL, rates.len() as u32).expect("splits");
        rates
            .iter()
            .zip(ranges)
            .enumerate()
            .map(|(i, (&rate, range))| Measured {
                number: i as u64,
                range,
                rate,
                settled: true,
            })
            .collect()
    }

    #[test]
    fn the_hottest_segment_over_the_target_splits() {
        let segments = measured(&[150.0, 300.0, 10.0]);
        let decision = decide(policy(), &segments).expect("a split");
        assert_eq!(decision.seal, vec![1]);
        assert_eq!(decision.ranges.len(), 2);
        assert_eq!(decision.ranges[0].start, segments[1].range.start);
        assert_eq!(decision.ranges[1].end, segments[1].range.end);
    }

    #[test]
    fn cold_neighbours_merge_but_not_below_the_minimum() {
        let segments = measured(&[10.0, 20.0, 80.0]);
        let decision = decide(policy(), &segments).expect("a merge");
        assert_eq!(decision.seal, vec![0, 1]);
        assert_eq!(
            decision.ranges,
            vec![KeyRange {
                start: segments[0].range.start,
                end: segments[1].range.end
            }]
        );
        let one = measured(&[0.0]);
        assert_eq!(decide(policy(), &one), None);
    }

    #[test]
    fn young_segments_and_fixed_streams_are_left_alone() {
        let mut segments = measured(&[500.0, 0.0, 0.0]);
        segments.iter_mut().for_each(|s| s.settled = false);
        assert_eq!(decide(policy(), &segments), None);
        let settled = measured(&[500.0, 0.0]);
        assert_eq!(decide(ScalingPolicy::Fixed { segments: 2 }, &settled), None);
    }
}
