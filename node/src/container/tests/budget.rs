//! The data budget: refusal, and recovery once truncates or deletes are
//! durable.

use spate_wire::{RetryAdvice, StatusCode};

use super::*;

const QUARTER: usize = 256 << 10;

/// A container whose budget (1 MiB) is full: segment "s" holds 4 events of
/// a quarter each.
fn full() -> Container {
    let mut c = container();
    run(&mut c, create("s"));
    for n in 0..4 {
        run(&mut c, append("s", 1, n, &vec![n as u8; QUARTER]));
    }
    assert_eq!(c.stats().data_bytes, limits().data_budget_bytes);
    c
}

fn assert_over_budget(reply: &Reply) {
    assert_eq!(status(reply), StatusCode::Busy);
    let Reply::Error(e) = reply else {
        unreachable!()
    };
    assert_eq!(e.retry, RetryAdvice::Retry);
    assert!(e.message.contains("journal"), "{}", e.message);
}

#[test]
fn an_append_over_the_budget_is_refused_with_a_retryable_error() {
    let mut c = full();
    assert_over_budget(&immediate(&mut c, append("s", 1, 4, b"x")));
    // Empty events and duplicates need no memory.
    assert!(matches!(
        run(&mut c, append("s", 1, 4, b"")),
        Reply::Appended(_)
    ));
    assert!(matches!(
        immediate(&mut c, append("s", 1, 4, b"x")),
        Reply::Appended(_)
    ));
}

#[test]
fn pending_appends_count_against_the_budget() {
    let mut c = container();
    run(&mut c, create("s"));
    let three_quarters = vec![0; 3 * QUARTER];
    journal(&mut c, append("s", 1, 0, &three_quarters));
    assert_over_budget(&immediate(&mut c, append("s", 2, 0, &three_quarters)));
}

#[test]
fn truncation_frees_whole_chunks_once_durable() {
    let mut c = full();
    // Inside the first chunk: nothing freed yet.
    run(&mut c, truncate("s", 10));
    assert_over_budget(&immediate(&mut c, append("s", 1, 4, b"x")));
    // Past it: freed, but only once the truncate is durable (the durable
    // view still holds the chunk until then).
    let (seq, _) = journal(&mut c, truncate("s", QUARTER as u64));
    assert_eq!(c.stats().data_bytes, limits().data_budget_bytes);
    assert_over_budget(&immediate(&mut c, append("s", 1, 4, b"x")));
    c.mark_durable(seq);
    assert_eq!(c.stats().data_bytes, 3 * QUARTER as u64);
    assert!(matches!(
        run(&mut c, append("s", 1, 4, b"x")),
        Reply::Appended(_)
    ));
}

#[test]
fn delete_frees_the_segments_data_once_durable() {
    let mut c = full();
    run(&mut c, create("t"));
    let (seq, _) = journal(&mut c, delete("s"));
    assert_over_budget(&immediate(&mut c, append("t", 1, 0, b"x")));
    c.mark_durable(seq);
    assert_eq!(c.stats().data_bytes, 0);
    let quarter = vec![0; QUARTER];
    assert!(matches!(
        run(&mut c, append("t", 1, 0, &quarter)),
        Reply::Appended(_)
    ));
}

#[test]
fn merge_moves_data_without_using_budget() {
    let mut c = full();
    run(&mut c, seal("s"));
    run(&mut c, create("t"));
    assert!(matches!(run(&mut c, merge("t", "s")), Reply::Merged(_)));
    assert_eq!(c.stats().data_bytes, limits().data_budget_bytes);
    assert_eq!(read_all(&mut c, "t").map(|d| d.len()), Some(4 * QUARTER));
}

/// A refused event must not be overtaken by a later event of the same
/// writer: the client resends the refused one, and if a later one had been
/// accepted meanwhile the resend would look like a duplicate and be lost.
#[test]
fn a_refused_event_holds_back_the_writers_later_events_until_resent() {
    let mut c = full();
    assert_over_budget(&immediate(&mut c, append("s", 1, 4, &vec![4; QUARTER])));
    // Memory frees up: event 5 alone would fit, but must wait for event 4.
    run(&mut c, truncate("s", QUARTER as u64));
    let overtaking = immediate(&mut c, append("s", 1, 5, b"five"));
    assert_eq!(status(&overtaking), StatusCode::Busy);
    // Another writer is not held back.
    assert!(matches!(
        run(&mut c, append("s", 2, 1, b"other")),
        Reply::Appended(_)
    ));
    // The resend of event 4 goes through, then event 5.
    let four = vec![4; QUARTER - 64];
    assert!(matches!(
        run(&mut c, append("s", 1, 4, &four)),
        Reply::Appended(_)
    ));
    assert!(matches!(
        run(&mut c, append("s", 1, 5, b"five")),
        Reply::Appended(_)
    ));
    let data = read_all(&mut c, "s").expect("segment exists");
    assert!(
        data.ends_with(b"otherfive") || data.ends_with(b"five"),
        "events in writer order"
    );
}

#[test]
fn an_event_larger_than_the_budget_goes_in_when_nothing_else_is_held() {
    let mut c = container();
    run(&mut c, create("s"));
    let big = vec![5; 2 * limits().data_budget_bytes as usize];
    let (seq, reply) = journal(&mut c, append("s", 1, 0, &big));
    assert!(matches!(reply, Reply::Appended(_)), "not refused for ever");
    // While it is held, nothing else fits.
    assert_over_budget(&immediate(&mut c, append("s", 2, 0, b"x")));
    c.mark_durable(seq);
}
