//! Stream policies against a real node with short windows: auto-scaling
//! splits a hot segment and merges cold ones; retention by size and by time
//! truncates old data and keeps the minimum.

use std::time::Duration;

use spate_client::{EventWriter, EventWriterOptions};
use spate_wire::stream::{RetentionPolicy, ScalingPolicy, StreamConfig};

use crate::streams::{connect, describe, eventually, stream};
use crate::support::{Extra, Node};

#[test]
fn auto_scaling_splits_a_hot_segment_and_merges_cold_ones() {
    let extra = Extra {
        args: vec!["--scale-window-secs".into(), "1".into()],
        env: vec![],
    };
    let node = Node::start_extra("streams-autoscale", 2, extra);
    let client = connect(&node);
    let config = StreamConfig {
        scaling: ScalingPolicy::ByEventRate {
            target_events_per_s: 50,
            scale_factor: 2,
            min_segments: 1,
        },
        retention: RetentionPolicy::None,
    };
    let name = stream(&client, "auto", "hot", config);
    assert_eq!(describe(&client, &name).current_segments().len(), 1);
    let writer = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    // About 1,000 events a second, twenty times the target, until it splits.
    eventually("the hot segment splits", || {
        let acks: Vec<_> = (0..100)
            .map(|_| writer.write_event(None, b"hot event"))
            .collect();
        acks.into_iter().for_each(|a| {
            a.wait().expect("durable");
        });
        describe(&client, &name).current_segments().len() >= 2
    });
    let split = describe(&client, &name);
    assert!(split.description.epoch >= 1);
    assert_eq!(split.successors(0).len(), 2, "segment 0 split in two");
    writer.close().expect("closed");
    // Idle now: the segments cool down and merge back to the minimum.
    eventually("cold segments merge", || {
        let info = describe(&client, &name);
        info.current_segments().len() == 1 && info.description.epoch > split.description.epoch
    });
}

fn retention_node(name: &str) -> Node {
    let extra = Extra {
        args: vec!["--retention-interval-secs".into(), "1".into()],
        env: vec![],
    };
    Node::start_extra(name, 2, extra)
}

/// Writes `bursts` bursts of 200 events of 100 bytes, a retention cycle
/// apart, so retention records cuts between them.
fn write_bursts(writer: &EventWriter, bursts: usize) {
    for _ in 0..bursts {
        let acks: Vec<_> = (0..200)
            .map(|_| writer.write_event(None, &[7; 100]))
            .collect();
        acks.into_iter().for_each(|a| {
            a.wait().expect("durable");
        });
        std::thread::sleep(Duration::from_millis(1100));
    }
}

#[test]
fn retention_by_size_truncates_and_keeps_the_minimum() {
    let node = retention_node("streams-retain-size");
    let client = connect(&node);
    const MIN: u64 = 20_000;
    let config = StreamConfig {
        scaling: ScalingPolicy::Fixed { segments: 2 },
        retention: RetentionPolicy::BySize {
            min_bytes: MIN,
            max_bytes: Some(4 * MIN),
        },
    };
    let name = stream(&client, "retain", "size", config);
    let writer = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    write_bursts(&writer, 6);
    let written: u64 = describe(&client, &name)
        .current_segments()
        .iter()
        .map(|s| s.length)
        .sum();
    assert!(written > 4 * MIN, "wrote {written} bytes");
    eventually("retention truncates by size", || {
        !describe(&client, &name).description.truncation.is_empty()
    });
    let info = describe(&client, &name);
    assert!(info.held_bytes() >= MIN, "kept {} bytes", info.held_bytes());
    assert!(info.held_bytes() < written, "dropped some of {written}");
    assert!(info.current_segments().iter().any(|s| s.start_offset > 0));
}

#[test]
fn retention_by_time_truncates_old_data() {
    let node = retention_node("streams-retain-time");
    let client = connect(&node);
    let config = StreamConfig {
        scaling: ScalingPolicy::Fixed { segments: 1 },
        retention: RetentionPolicy::ByTime {
            min_ms: 2_000,
            max_ms: None,
        },
    };
    let name = stream(&client, "retain", "time", config);
    let writer = EventWriter::open(&client, &name, EventWriterOptions::default()).expect("writer");
    write_bursts(&writer, 4);
    eventually("retention truncates by time", || {
        describe(&client, &name).current_segments()[0].start_offset > 0
    });
    // Everything is older than the minimum once writes stop, so retention
    // goes on up to a cut at least that old: in the end, to the tail.
    let length = describe(&client, &name).current_segments()[0].length;
    eventually("retention reaches the last write", || {
        describe(&client, &name).current_segments()[0].start_offset == length
    });
}
