//! Retention: every cycle, for each active stream with a retention policy,
//! record a cut at the tail (every current segment's length: appends hold
//! whole events, so lengths are event boundaries), then truncate at the
//! newest recorded cut the policy's minimum allows: one at least `min_ms`
//! old (by time), or one with at least `min_bytes` after it (by size).
//! Truncating as far as the minimum allows each cycle also keeps the
//! maximum within one cycle. As Pravega's retention set
//! (`../shared/reference/pravega.md` §5), but kept in memory: after a
//! restart cuts are recorded afresh, which only keeps data longer.

use std::collections::{BTreeMap, VecDeque};

use spate_wire::stream::{RetentionPolicy, segment_name};
use spate_wire::{GetInfo, Reply, Request};

use super::super::dispatch::{CoreContext, now_ms};
use super::logs::{StepError, unexpected};
use super::slot::StreamSlot;
use super::workflow::finish;
use crate::controller::{Phase, StreamState};

/// Cuts kept per stream; beyond it every other older cut is dropped, so
/// the set spans the same time more coarsely.
const MAX_CUTS: usize = 256;

/// A tail cut taken at `at_ms` during `epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedCut {
    pub at_ms: u64,
    pub epoch: u32,
    pub positions: BTreeMap<u64, u64>,
}

/// The recorded cuts of one stream, oldest first.
#[derive(Debug, Default)]
pub struct RecordedCuts {
    cuts: VecDeque<RecordedCut>,
}

impl RecordedCuts {
    pub fn record(&mut self, cut: RecordedCut) {
        self.cuts.push_back(cut);
        if self.cuts.len() > MAX_CUTS {
            let older = self.cuts.len() / 2;
            let mut index = 0;
            self.cuts.retain(|_| {
                index += 1;
                index > older || index % 2 == 0
            });
        }
    }

    /// Drops cuts at or before a truncation (they can no longer be used).
    pub fn drop_through(&mut self, at_ms: u64) {
        self.cuts.retain(|c| c.at_ms > at_ms);
    }

    pub fn iter_newest_first(&self) -> impl Iterator<Item = &RecordedCut> {
        self.cuts.iter().rev()
    }
}

/// Bytes of the stream after `cut`, from each segment's length now.
pub fn bytes_after(cut: &RecordedCut, state: &StreamState, lengths: &BTreeMap<u64, u64>) -> u64 {
    state
        .all_segments()
        .filter(|s| !s.deleted)
        .map(|s| {
            let length = lengths.get(&s.number).copied().unwrap_or(0);
            match cut.positions.get(&s.number) {
                Some(&position) => length.saturating_sub(position),
                None if s.created_epoch > cut.epoch => length,
                None => 0,
            }
        })
        .sum()
}

/// The newest cut the policy lets the stream truncate at.
pub fn choose<'a>(
    cuts: &'a RecordedCuts,
    policy: RetentionPolicy,
    state: &StreamState,
    lengths: &BTreeMap<u64, u64>,
    now_ms: u64,
) -> Option<&'a RecordedCut> {
    cuts.iter_newest_first().find(|cut| match policy {
        RetentionPolicy::None => false,
        RetentionPolicy::ByTime { min_ms, .. } => now_ms.saturating_sub(cut.at_ms) >= min_ms,
        RetentionPolicy::BySize { min_bytes, .. } => bytes_after(cut, state, lengths) >= min_bytes,
    })
}

/// One retention cycle for one stream.
pub async fn cycle(ctx: &CoreContext, slot: &StreamSlot) -> Result<(), StepError> {
    let Some(_permit) = slot.lock().await else {
        return Ok(());
    };
    if !slot.refresh(ctx).await? {
        return Ok(());
    }
    let Some((policy, active, numbers, epoch, current)) = slot.with_state(|s| {
        let numbers: Vec<u64> = s
            .all_segments()
            .filter(|s| !s.deleted)
            .map(|s| s.number)
            .collect();
        let current: Vec<u64> = s.current_segments().iter().map(|s| s.number).collect();
        (
            s.config.retention,
            s.phase == Phase::Active,
            numbers,
            s.epoch(),
            current,
        )
    }) else {
        return Ok(());
    };
    if policy == RetentionPolicy::None || !active {
        return Ok(());
    }
    let lengths = segment_lengths(ctx, slot, &numbers).await?;
    let now = now_ms();
    let positions = current
        .iter()
        .map(|n| (*n, lengths.get(n).copied().unwrap_or(0)))
        .collect();
    slot.cuts.borrow_mut().record(RecordedCut {
        at_ms: now,
        epoch,
        positions,
    });
    let chosen = {
        let cuts = slot.cuts.borrow();
        slot.with_state(|s| choose(&cuts, policy, s, &lengths, now).cloned())
            .flatten()
    };
    let Some(cut) = chosen else {
        return Ok(());
    };
    let already = slot
        .with_state(|s| s.truncation().clone())
        .unwrap_or_default();
    if already == cut.positions {
        return Ok(());
    }
    let event = slot
        .with_state(|s| s.truncate_event(cut.positions.clone()))
        .ok_or_else(|| StepError::Corrupt("the stream vanished under its lock".into()))?;
    match event {
        Ok(event) => {
            slot.append(ctx, event).await?;
            finish(ctx, slot).await?;
            slot.cuts.borrow_mut().drop_through(cut.at_ms);
            tracing::info!(stream = %slot.log, at_ms = cut.at_ms, "retention truncated");
        }
        // A cut that no longer fits (a manual truncation went past it).
        Err(error) => {
            tracing::debug!(stream = %slot.log, %error, "retention cut skipped");
            slot.cuts.borrow_mut().drop_through(cut.at_ms);
        }
    }
    Ok(())
}

async fn segment_lengths(
    ctx: &CoreContext,
    slot: &StreamSlot,
    numbers: &[u64],
) -> Result<BTreeMap<u64, u64>, StepError> {
    let mut lengths = BTreeMap::new();
    for &number in numbers {
        let reply = ctx
            .serve_segment(Request::GetInfo(GetInfo {
                segment: segment_name(&slot.scope, &slot.stream, number),
            }))
            .await;
        match reply {
            Reply::SegmentInfo(info) => {
                lengths.insert(number, info.length);
            }
            Reply::NoSuchSegment(_) => {}
            other => return Err(unexpected(other)),
        }
    }
    Ok(lengths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(at_ms: u64) -> RecordedCut {
        RecordedCut {
            at_ms,
            epoch: 0,
            positions: BTreeMap::from([(0, at_ms)]),
        }
    }

    #[test]
    fn the_cut_set_stays_bounded_and_keeps_the_newest() {
        let mut cuts = RecordedCuts::default();
        for at in 0..10_000 {
            cuts.record(cut(at));
        }
        assert!(cuts.cuts.len() <= MAX_CUTS);
        assert_eq!(cuts.iter_newest_first().next(), Some(&cut(9_999)));
        cuts.drop_through(9_998);
        assert_eq!(cuts.cuts.len(), 1);
    }
}
