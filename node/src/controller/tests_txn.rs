//! Transactions in the stream model: begin, commit by merge, commit by
//! roll after a scale, abort, abort by seal, refusals, and replay.

use spate_wire::stream::{StreamConfig, split_evenly};

use super::*;

fn created(segments: u32) -> (StreamState, Vec<StreamEvent>) {
    let event = StreamState::create_event(StreamConfig::fixed(segments), 1000).expect("valid");
    let mut state = StreamState::from_created(&event).expect("created");
    let mut log = vec![event];
    run_pending(&mut state, &mut log);
    (state, log)
}

/// Records each pending phase's completion until the stream is idle,
/// returning the work each asked for.
fn run_pending(state: &mut StreamState, log: &mut Vec<StreamEvent>) -> Vec<Work> {
    let mut all = Vec::new();
    while let (work, Some(done)) = state.pending_work() {
        all.extend(work);
        state.apply(&done).expect("completion fits");
        log.push(done);
    }
    all
}

fn record(state: &mut StreamState, log: &mut Vec<StreamEvent>, event: StreamEvent) -> Vec<Work> {
    state.apply(&event).expect("fits");
    log.push(event);
    run_pending(state, log)
}

fn replay(log: &[StreamEvent]) -> StreamState {
    let mut state = StreamState::from_created(&log[0]).expect("created");
    for event in &log[1..] {
        state.apply(event).expect("replays");
    }
    state
}

#[test]
fn a_transaction_opens_over_the_current_segments_and_commits_by_merging() {
    let (mut state, mut log) = created(2);
    let begin = state.begin_txn_event(30_000).expect("active");
    assert_eq!(
        begin,
        StreamEvent::TxnBegun {
            id: 0,
            lease_ms: 30_000
        }
    );
    let work = record(&mut state, &mut log, begin);
    assert_eq!(
        work,
        vec![
            Work::CreateTxnSegment { parent: 0, id: 0 },
            Work::CreateTxnSegment { parent: 1, id: 0 }
        ]
    );
    assert_eq!(state.txn_outcome(0), TxnOutcome::Open);
    assert_eq!(state.txn(0).expect("open").parents, vec![0, 1]);
    let second = state.begin_txn_event(1000).expect("active");
    record(&mut state, &mut log, second);
    let commit = state.commit_txn_event(0, 5).expect("open");
    let work = record(&mut state, &mut log, commit);
    assert_eq!(
        work,
        vec![
            Work::SealTxnSegment { parent: 0, id: 0 },
            Work::SealTxnSegment { parent: 1, id: 0 },
            Work::MergeTxnSegment { parent: 0, id: 0 },
            Work::MergeTxnSegment { parent: 1, id: 0 },
        ],
        "every segment is sealed before any merges"
    );
    assert_eq!(state.txn_outcome(0), TxnOutcome::Committed);
    assert_eq!(state.txn_outcome(1), TxnOutcome::Open, "others stay open");
    assert_eq!(state.epoch(), 0, "a merge makes no epoch");
    assert_eq!(replay(&log), state);
}

#[test]
fn a_commit_after_a_scale_rolls_the_transaction_into_two_new_epochs() {
    let (mut state, mut log) = created(2);
    let begin = state.begin_txn_event(30_000).expect("active");
    record(&mut state, &mut log, begin);
    // Split segment 1 while the transaction is open: scaling is not blocked.
    let high = state.segment(1).expect("exists").range;
    let split = state
        .scale_event(vec![1], split_evenly(high, 2).expect("splits"), 2000)
        .expect("valid with a transaction open");
    record(&mut state, &mut log, split);
    let current: Vec<u64> = state.current_segments().iter().map(|s| s.number).collect();
    assert_eq!(current, vec![0, 2, 3]);
    let commit = state.commit_txn_event(0, 3000).expect("open");
    state.apply(&commit).expect("fits");
    log.push(commit);
    let Phase::RollingTxn { copies, next, .. } = state.phase.clone() else {
        panic!(
            "a transaction over a sealed parent rolls: {:?}",
            state.phase
        );
    };
    assert_eq!(
        copies,
        vec![(0, 4), (1, 5)],
        "one copy per parent, in key order"
    );
    assert_eq!(next, vec![6, 7, 8], "one successor per current segment");
    let work = run_pending(&mut state, &mut log);
    assert_eq!(
        work,
        vec![
            Work::CreateSegment(4),
            Work::CreateSegment(5),
            Work::SealTxnSegment { parent: 0, id: 0 },
            Work::SealTxnSegment { parent: 1, id: 0 },
            Work::CopyTxnSegment {
                parent: 0,
                id: 0,
                into: 4
            },
            Work::CopyTxnSegment {
                parent: 1,
                id: 0,
                into: 5
            },
            Work::DeleteTxnSegment { parent: 0, id: 0 },
            Work::DeleteTxnSegment { parent: 1, id: 0 },
            Work::SealSegment(4),
            Work::SealSegment(5),
            Work::CreateSegment(6),
            Work::CreateSegment(7),
            Work::CreateSegment(8),
            Work::SealSegment(0),
            Work::SealSegment(2),
            Work::SealSegment(3),
        ]
    );
    assert_eq!(state.txn_outcome(0), TxnOutcome::Committed);
    assert_eq!(state.epoch(), 3, "the split, then the copies, then next");
    let current: Vec<u64> = state.current_segments().iter().map(|s| s.number).collect();
    assert_eq!(current, vec![6, 7, 8]);
    // Every key reads the old segments, then the copy, then the successor.
    let successors = |n: u64| -> Vec<u64> {
        let mut s: Vec<u64> = state
            .successors(n)
            .expect("exists")
            .iter()
            .map(|s| s.number)
            .collect();
        s.sort_unstable();
        s
    };
    assert_eq!(successors(0), vec![4]);
    assert_eq!(successors(2), vec![5]);
    assert_eq!(successors(3), vec![5]);
    assert_eq!(successors(4), vec![6]);
    assert_eq!(successors(5), vec![7, 8]);
    for (number, range) in [(4, state.segment(0)), (5, state.segment(1))] {
        assert_eq!(
            state.segment(number).expect("copy").range,
            range.expect("parent").range
        );
        assert_eq!(state.segment(number).expect("copy").sealed_epoch, Some(3));
    }
    assert_eq!(replay(&log), state);
}

#[test]
fn an_abort_deletes_the_segments_and_a_seal_aborts_what_is_open() {
    let (mut state, mut log) = created(1);
    for _ in 0..2 {
        let begin = state.begin_txn_event(1000).expect("active");
        record(&mut state, &mut log, begin);
    }
    let abort = state.abort_txn_event(0).expect("open");
    let work = record(&mut state, &mut log, abort);
    assert_eq!(work, vec![Work::DeleteTxnSegment { parent: 0, id: 0 }]);
    assert_eq!(state.txn_outcome(0), TxnOutcome::Aborted);
    let seal = state.seal_event().expect("active");
    let work = record(&mut state, &mut log, seal);
    assert_eq!(
        work,
        vec![
            Work::SealSegment(0),
            Work::DeleteTxnSegment { parent: 0, id: 1 }
        ]
    );
    assert_eq!(state.txn_outcome(1), TxnOutcome::Aborted);
    assert_eq!(state.open_txns().count(), 0);
    assert_eq!(replay(&log), state);
}

#[test]
fn transaction_requests_that_do_not_fit_are_refused() {
    let (mut state, mut log) = created(1);
    assert_eq!(
        state.commit_txn_event(0, 1),
        Err(StreamError::TxnNotOpen(0))
    );
    assert_eq!(state.abort_txn_event(3), Err(StreamError::TxnNotOpen(3)));
    assert_eq!(state.txn_outcome(0), TxnOutcome::Unknown);
    let begin = state.begin_txn_event(1000).expect("active");
    record(&mut state, &mut log, begin);
    let commit = state.commit_txn_event(0, 1).expect("open");
    record(&mut state, &mut log, commit);
    assert_eq!(
        state.commit_txn_event(0, 1),
        Err(StreamError::TxnNotOpen(0))
    );
    // A log event that reuses an id or names no open transaction.
    let before = state.clone();
    for event in [
        StreamEvent::TxnBegun { id: 0, lease_ms: 1 },
        StreamEvent::TxnCommitted { id: 0 },
        StreamEvent::TxnAbortStarted { id: 0 },
        StreamEvent::TxnOpened { id: 1 },
    ] {
        assert!(state.apply(&event).is_err(), "{event:?}");
        assert_eq!(state, before, "a misfit changes nothing");
    }
    // Open transactions are bounded.
    let mut crowded = state.clone();
    for _ in 0..super::state::MAX_OPEN_TXNS {
        let begin = crowded.begin_txn_event(1000).expect("room");
        crowded.apply(&begin).expect("fits");
        let opened = crowded.pending_work().1.expect("opening");
        crowded.apply(&opened).expect("fits");
    }
    assert!(matches!(
        crowded.begin_txn_event(1000),
        Err(StreamError::TooManyTxns(_))
    ));
    let seal = state.seal_event().expect("active");
    record(&mut state, &mut log, seal);
    assert!(matches!(
        state.begin_txn_event(1000),
        Err(StreamError::WrongPhase { .. })
    ));
}
