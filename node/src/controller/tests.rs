//! The stream model: creation, scaling (splits and merges), successors,
//! truncation at stream cuts, seal and delete; every refusal; and replay of
//! a log rebuilding the same state, including a log cut off mid-workflow.

use std::collections::BTreeMap;

use spate_wire::stream::{KeyRange, StreamConfig, check_cover, split_evenly};

use super::*;

fn created(segments: u32) -> (StreamState, Vec<StreamEvent>) {
    let event = StreamState::create_event(StreamConfig::fixed(segments), 1000).expect("valid");
    let mut state = StreamState::from_created(&event).expect("created");
    let mut log = vec![event];
    finish(&mut state, &mut log);
    (state, log)
}

/// Does the phase's work (nothing to do here: no segments) and records its
/// completion, as the runtime would after the segment work.
fn finish(state: &mut StreamState, log: &mut Vec<StreamEvent>) {
    let (_, done) = state.pending_work();
    if let Some(done) = done {
        state.apply(&done).expect("completion fits");
        log.push(done);
    }
}

fn run(state: &mut StreamState, log: &mut Vec<StreamEvent>, event: StreamEvent) {
    state.apply(&event).expect("fits");
    log.push(event);
    finish(state, log);
}

fn replay(log: &[StreamEvent]) -> StreamState {
    let mut state = StreamState::from_created(&log[0]).expect("created");
    for event in &log[1..] {
        state.apply(event).expect("replays");
    }
    state
}

fn current(state: &StreamState) -> Vec<(u64, KeyRange)> {
    state
        .current_segments()
        .iter()
        .map(|s| (s.number, s.range))
        .collect()
}

#[test]
fn a_new_stream_splits_the_key_space_evenly_and_creates_its_segments_first() {
    let event = StreamState::create_event(StreamConfig::fixed(4), 5).expect("valid");
    let state = StreamState::from_created(&event).expect("created");
    assert_eq!(state.phase, Phase::Creating);
    let (work, done) = state.pending_work();
    assert_eq!(work, (0..4).map(Work::CreateSegment).collect::<Vec<_>>());
    assert_eq!(done, Some(StreamEvent::Activated));
    let ranges: Vec<KeyRange> = current(&state).into_iter().map(|(_, r)| r).collect();
    assert_eq!(check_cover(&ranges, KeyRange::ALL), Ok(()));
    assert!(StreamState::create_event(StreamConfig::fixed(0), 5).is_err());
}

#[test]
fn a_split_and_a_merge_make_epochs_with_successors_and_predecessors() {
    let (mut state, mut log) = created(2);
    let (low, high) = (current(&state)[0], current(&state)[1]);
    // Split the upper half in three.
    let parts = split_evenly(high.1, 3).expect("splits");
    let split = state
        .scale_event(vec![high.0], parts.clone(), 2000)
        .expect("valid");
    state.apply(&split).expect("fits");
    log.push(split);
    let (work, done) = state.pending_work();
    assert_eq!(
        work,
        vec![
            Work::CreateSegment(2),
            Work::CreateSegment(3),
            Work::CreateSegment(4),
            Work::SealSegment(1)
        ],
        "successors exist before their predecessor is sealed"
    );
    assert_eq!(done, Some(StreamEvent::ScaleCompleted));
    finish(&mut state, &mut log);
    assert_eq!(state.epoch(), 1);
    assert_eq!(current(&state).len(), 4);
    let successors: Vec<u64> = state
        .successors(1)
        .expect("exists")
        .iter()
        .map(|s| s.number)
        .collect();
    assert_eq!(successors, vec![2, 3, 4]);
    assert_eq!(state.segment(1).expect("kept").sealed_epoch, Some(1));
    // Merge segment 0 and 2 (neighbours: the lower half and the first third
    // of the upper half).
    let merged = KeyRange::new(low.1.start, parts[0].end).expect("range");
    let merge = state
        .scale_event(vec![0, 2], vec![merged], 3000)
        .expect("valid");
    run(&mut state, &mut log, merge);
    let five = state.segment(5).expect("new segment");
    assert_eq!(five.predecessors, vec![0, 2]);
    assert_eq!(state.segment_for(0), Some(5));
    assert_eq!(state.segment_for(u64::MAX), Some(4));
    assert_eq!(state.segments_at(1500), vec![0, 1]);
    assert_eq!(state.segments_at(2500), vec![0, 2, 3, 4]);
    assert_eq!(state.segments_at(3000), vec![3, 4, 5]);
    assert_eq!(replay(&log), state, "replay rebuilds the same state");
}

#[test]
fn scales_that_do_not_replace_exactly_what_they_seal_are_refused() {
    let (state, _) = created(4);
    let segs = current(&state);
    let all = |s: &[u64]| s.to_vec();
    // Not current.
    assert_eq!(
        state.scale_event(all(&[9]), vec![segs[0].1], 1),
        Err(StreamError::NotCurrent(9))
    );
    // Not neighbours.
    let far = KeyRange::new(segs[0].1.start, segs[2].1.end).expect("r");
    assert_eq!(
        state.scale_event(all(&[0, 2]), vec![far], 1),
        Err(StreamError::NotAdjacent)
    );
    // New ranges leave a gap or reach outside.
    let short = KeyRange::new(segs[0].1.start, segs[0].1.end - 1).expect("r");
    assert!(matches!(
        state.scale_event(all(&[0]), vec![short], 1),
        Err(StreamError::Range(_))
    ));
    let wide = KeyRange::new(segs[0].1.start, segs[1].1.start).expect("r");
    assert!(state.scale_event(all(&[0]), vec![wide], 1).is_err());
    assert!(state.scale_event(Vec::new(), Vec::new(), 1).is_err());
}

#[test]
fn one_workflow_at_a_time_and_delete_only_when_sealed() {
    let (mut state, mut log) = created(2);
    assert!(matches!(
        state.delete_event(),
        Err(StreamError::WrongPhase { .. })
    ));
    let seal = state.seal_event().expect("active");
    state.apply(&seal).expect("fits");
    log.push(seal);
    assert_eq!(
        state.pending_work().0,
        vec![Work::SealSegment(0), Work::SealSegment(1)]
    );
    let busy = state.scale_event(vec![0], vec![current(&state)[0].1], 1);
    assert!(
        matches!(busy, Err(StreamError::WrongPhase { .. })),
        "{busy:?}"
    );
    finish(&mut state, &mut log);
    assert_eq!(state.phase, Phase::Sealed);
    assert!(state.seal_event().is_err(), "sealing is final");
    let delete = state.delete_event().expect("sealed");
    state.apply(&delete).expect("fits");
    let (work, done) = state.pending_work();
    assert_eq!(work, vec![Work::DeleteSegment(0), Work::DeleteSegment(1)]);
    assert_eq!(done, None);
}

#[test]
fn truncation_at_a_cut_truncates_its_segments_and_deletes_those_before_it() {
    let (mut state, mut log) = created(2);
    let upper = current(&state)[1];
    let parts = split_evenly(upper.1, 2).expect("halves");
    let split = state
        .scale_event(vec![upper.0], parts, 2000)
        .expect("valid");
    run(&mut state, &mut log, split);
    // A cut at segments 0 (old, still current), 2 and 3 (successors of 1).
    let cut = BTreeMap::from([(0, 100), (2, 0), (3, 50)]);
    let truncate = state.truncate_event(cut.clone()).expect("valid cut");
    state.apply(&truncate).expect("fits");
    log.push(truncate);
    let (work, done) = state.pending_work();
    assert_eq!(
        work,
        vec![
            Work::TruncateSegment {
                number: 0,
                offset: 100
            },
            Work::TruncateSegment {
                number: 3,
                offset: 50
            },
            Work::DeleteSegment(1)
        ]
    );
    assert_eq!(done, Some(StreamEvent::TruncateCompleted));
    finish(&mut state, &mut log);
    assert!(state.segment(1).expect("kept as a record").deleted);
    assert_eq!(state.truncation(), &cut);
    // A cut behind the truncation, over a deleted segment, or one that does
    // not cover the key space is refused.
    let behind = BTreeMap::from([(0, 10), (2, 0), (3, 50)]);
    assert_eq!(
        state.truncate_event(behind),
        Err(StreamError::CutBeforeTruncation(0))
    );
    let deleted = BTreeMap::from([(0, 100), (1, 0)]);
    assert_eq!(
        state.truncate_event(deleted),
        Err(StreamError::CutBeforeTruncation(1))
    );
    let partial = BTreeMap::from([(0, 100), (2, 0)]);
    assert!(matches!(
        state.truncate_event(partial),
        Err(StreamError::CutCover(_))
    ));
    let overlapping = BTreeMap::from([(0, 100), (1, 0), (2, 0), (3, 50)]);
    assert!(state.truncate_event(overlapping).is_err());
    assert_eq!(
        state.truncate_event(BTreeMap::new()),
        Err(StreamError::EmptyCut)
    );
    assert_eq!(replay(&log), state);
}

#[test]
fn a_log_cut_off_mid_workflow_replays_to_the_same_pending_work() {
    let (mut state, mut log) = created(3);
    let scale = state
        .scale_event(
            vec![1],
            split_evenly(current(&state)[1].1, 2).expect("2"),
            7,
        )
        .expect("valid");
    state.apply(&scale).expect("fits");
    log.push(scale);
    // The node restarts here: the intent is in the log, the work is not done.
    let restarted = replay(&log);
    assert_eq!(restarted.pending_work(), state.pending_work());
    assert!(matches!(restarted.phase, Phase::Scaling { .. }));
}

#[test]
fn events_that_do_not_fit_the_log_are_errors_that_change_nothing() {
    let (state, _) = created(2);
    for event in [
        StreamEvent::Activated,
        StreamEvent::ScaleCompleted,
        StreamEvent::TruncateCompleted,
        StreamEvent::SealCompleted,
        StreamEvent::DeleteStarted,
    ] {
        let mut copy = state.clone();
        assert!(
            matches!(copy.apply(&event), Err(StreamError::Replay { .. })),
            "{event:?}"
        );
        assert_eq!(copy, state, "{event:?} changed nothing");
    }
    assert!(StreamState::from_created(&StreamEvent::Activated).is_err());
    let bad_cover = StreamEvent::Created {
        config: StreamConfig::fixed(2),
        ranges: vec![KeyRange::new(0, 5).expect("r")],
        at_ms: 0,
    };
    assert!(StreamState::from_created(&bad_cover).is_err());
}

#[test]
fn random_splits_and_merges_keep_the_key_space_covered_and_replay_exactly() {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    for seed in 0..200 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let (mut state, mut log) = created(rng.random_range(1..5));
        for step in 0..30u64 {
            let segs = current(&state);
            let event = if segs.len() > 1 && rng.random_bool(0.4) {
                let i = rng.random_range(0..segs.len() - 1);
                let merged = KeyRange::new(segs[i].1.start, segs[i + 1].1.end).expect("r");
                state.scale_event(vec![segs[i].0, segs[i + 1].0], vec![merged], step)
            } else {
                let i = rng.random_range(0..segs.len());
                let parts = split_evenly(segs[i].1, rng.random_range(2..5)).expect("wide");
                state.scale_event(vec![segs[i].0], parts, step)
            };
            run(&mut state, &mut log, event.expect("a valid scale"));
            let ranges: Vec<KeyRange> = current(&state).into_iter().map(|(_, r)| r).collect();
            assert_eq!(check_cover(&ranges, KeyRange::ALL), Ok(()), "seed {seed}");
        }
        for segment in state.all_segments() {
            for p in &segment.predecessors {
                let predecessor = state.segment(*p).expect("exists");
                assert!(predecessor.range.overlaps(&segment.range), "seed {seed}");
                assert!(predecessor.sealed_epoch.is_some(), "seed {seed}");
            }
        }
        assert_eq!(replay(&log), state, "seed {seed}");
    }
}
