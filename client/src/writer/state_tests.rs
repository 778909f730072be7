//! The batching rules of `WriterState`, without a connection.

use super::*;
use crate::completion::completion;

const BUDGET: usize = 1 << 20;

fn options(max_batch_events: usize, max_batch_bytes: usize) -> WriterOptions {
    WriterOptions {
        max_batch_events,
        max_batch_bytes,
        ..WriterOptions::default()
    }
}

fn push(state: &mut WriterState, len: usize, kind: Kind) {
    let (completer, _completion) = completion();
    state.push(vec![0; len], kind, Done::Plain(completer));
}

#[test]
fn an_event_appended_while_idle_goes_alone_and_the_rest_gather() {
    let options = options(100, BUDGET);
    let mut state = WriterState::new(0, None);
    for _ in 0..5 {
        push(&mut state, 10, Kind::Plain);
    }
    assert!(state.should_send(&options, BUDGET));
    assert_eq!(state.next_request_len(&options, BUDGET), 1);
    state.mark_sent(1);
    // In flight now: the other four wait for an ack (or a full batch).
    assert!(!state.should_send(&options, BUDGET));
    state.send_now = true;
    assert_eq!(state.next_request_len(&options, BUDGET), 4);
}

#[test]
fn batches_respect_the_count_and_byte_bounds() {
    let mut state = WriterState::new(0, None);
    state.in_flight = 1; // not idle: nothing goes alone
    for _ in 0..10 {
        push(&mut state, 100, Kind::Plain);
    }
    assert_eq!(state.next_request_len(&options(4, BUDGET), BUDGET), 4);
    // 100 payload + 16 overhead per event: three fit in 350 bytes.
    assert_eq!(state.next_request_len(&options(100, 350), BUDGET), 3);
    // One event always goes, even over the byte bound.
    assert_eq!(state.next_request_len(&options(100, 10), BUDGET), 1);
    assert!(
        state.should_send(&options(10, BUDGET), BUDGET),
        "ten make a full batch"
    );
    assert!(!state.should_send(&options(11, BUDGET), BUDGET));
}

#[test]
fn a_conditional_append_travels_alone() {
    let options = options(100, BUDGET);
    let mut state = WriterState::new(0, None);
    state.in_flight = 1;
    push(&mut state, 1, Kind::Plain);
    push(&mut state, 1, Kind::Conditional { expected_offset: 1 });
    push(&mut state, 1, Kind::Plain);
    assert_eq!(
        state.next_request_len(&options, BUDGET),
        1,
        "stops before it"
    );
    state.mark_sent(1);
    assert_eq!(state.next_request_len(&options, BUDGET), 1, "goes alone");
}

#[test]
fn resolving_pops_in_order_and_rewinding_resends_everything() {
    let options = options(100, BUDGET);
    let mut state = WriterState::new(7, None);
    for _ in 0..4 {
        push(&mut state, 1, Kind::Plain);
    }
    state.mark_sent(1);
    state.mark_sent(2);
    let finished = state.resolve_through(7, |_| Resolution::NoSuchSegment);
    assert_eq!(state.events.front().map(|e| e.number), Some(8));
    assert!(state.send_now, "an ack releases what gathered");
    drop(finished);
    state.rewind();
    assert_eq!((state.sent, state.in_flight), (0, 0));
    assert_eq!(state.next_request_len(&options, BUDGET), 3);
}
