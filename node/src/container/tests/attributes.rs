//! Attributes: conditions, compare-and-set against pending values, limits.

use spate_wire::{
    AttributeConflict, AttributeUpdated, AttributeValue, RetryAdvice, SegmentIsSealed, StatusCode,
};

use super::*;

use AttributeCondition::{Always, IfAbsent, IfEquals};

fn updated(key: u128, value: i64) -> Reply {
    Reply::from(AttributeUpdated { key, value })
}

fn conflict(key: u128, current: Option<i64>) -> Reply {
    Reply::from(AttributeConflict { key, current })
}

#[test]
fn conditions_decide_whether_an_update_applies() {
    let mut c = container();
    run(&mut c, create("s"));
    let key = u128::MAX - 1;
    assert_eq!(
        run(&mut c, set_attribute("s", key, 1, IfEquals(0))),
        conflict(key, None)
    );
    assert_eq!(
        run(&mut c, set_attribute("s", key, 1, IfAbsent)),
        updated(key, 1)
    );
    assert_eq!(
        run(&mut c, set_attribute("s", key, 2, IfAbsent)),
        conflict(key, Some(1))
    );
    assert_eq!(
        run(&mut c, set_attribute("s", key, 3, IfEquals(2))),
        conflict(key, Some(1))
    );
    assert_eq!(
        run(&mut c, set_attribute("s", key, 3, IfEquals(1))),
        updated(key, 3)
    );
    assert_eq!(
        run(&mut c, set_attribute("s", key, -7, Always)),
        updated(key, -7)
    );
    let value = AttributeValue {
        key,
        value: Some(-7),
    };
    assert_eq!(run(&mut c, get_attribute("s", key)), Reply::from(value));
    assert_eq!(c.stats().last_seq, 4);
}

#[test]
fn compare_and_set_sees_pending_values_and_its_conflict_waits_for_them() {
    let mut c = container();
    run(&mut c, create("s"));
    let (first, _) = journal(&mut c, set_attribute("s", 1, 10, IfAbsent));
    let (second, ok) = journal(&mut c, set_attribute("s", 1, 11, IfEquals(10)));
    assert_eq!(ok, updated(1, 11));
    assert_eq!(second, first + 1);
    let (seq, lost) = deferred(&mut c, set_attribute("s", 1, 12, IfEquals(10)));
    assert_eq!((seq, lost), (second, conflict(1, Some(11))));
    c.mark_durable(second);
    assert_eq!(
        immediate(&mut c, set_attribute("s", 1, 12, IfEquals(10))),
        conflict(1, Some(11))
    );
}

#[test]
fn a_sealed_segments_attributes_are_read_only() {
    let mut c = container();
    run(&mut c, create("s"));
    run(&mut c, set_attribute("s", 1, 1, Always));
    run(&mut c, seal("s"));
    let sealed = Reply::from(SegmentIsSealed {
        segment: "s".into(),
        length: 0,
    });
    assert_eq!(immediate(&mut c, set_attribute("s", 1, 2, Always)), sealed);
    let value = AttributeValue {
        key: 1,
        value: Some(1),
    };
    assert_eq!(immediate(&mut c, get_attribute("s", 1)), Reply::from(value));
}

#[test]
fn the_attribute_keys_per_segment_are_bounded() {
    let mut c = container();
    run(&mut c, create("s"));
    let max = limits().max_attributes_per_segment as u128;
    for key in 0..max {
        run(&mut c, set_attribute("s", key, 0, Always));
    }
    let refused = immediate(&mut c, set_attribute("s", max, 0, Always));
    assert_eq!(status(&refused), StatusCode::InvalidArgument);
    let Reply::Error(e) = &refused else {
        unreachable!()
    };
    assert_eq!(e.retry, RetryAdvice::GiveUp);
    // Existing keys still update.
    assert_eq!(
        run(&mut c, set_attribute("s", 0, 5, IfEquals(0))),
        updated(0, 5)
    );
}
