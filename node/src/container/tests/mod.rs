//! Tests of the container state machine. `replay.rs` holds the property
//! test (random workloads, live vs replayed); the others pin each operation
//! and outcome.

mod appends;
mod attributes;
mod budget;
mod cache;
mod checkpoint;
mod durability;
mod merge;
mod records;
mod replay;
mod segments;

use spate_wire::{
    Append, AppendBatch, AttributeCondition, BatchEvent, ConditionalAppend, CreateSegment, Delete,
    GetAttribute, GetInfo, GetWriterState, Merge, ReadData, Reply, Request, Seal, Truncate,
    UpdateAttribute,
};

use super::{
    Container, ContainerLimits, Execution, MIN_MAX_RECORD_BYTES, MutationSeq, ReadOutcome,
};

/// Creation time given to `execute` by the helpers.
const NOW: u64 = 1_700_000_000_123;

fn limits() -> ContainerLimits {
    ContainerLimits {
        data_budget_bytes: 1 << 20,
        max_segments: 16,
        max_attributes_per_segment: 4,
        max_writers_per_segment: 4,
        max_record_bytes: MIN_MAX_RECORD_BYTES,
    }
}

fn container() -> Container {
    Container::new(7, limits())
}

/// Executes `request` and makes whatever it waits for durable; the reply.
fn run(c: &mut Container, request: impl Into<Request>) -> Reply {
    match c.execute(request.into(), NOW) {
        Execution::Reply(reply) => reply,
        Execution::Journal { seq, reply, .. } | Execution::ReplyWhenDurable { seq, reply } => {
            c.mark_durable(seq);
            reply
        }
    }
}

/// Executes a request that must journal; leaves it pending.
fn journal(c: &mut Container, request: impl Into<Request>) -> (MutationSeq, Reply) {
    match c.execute(request.into(), NOW) {
        Execution::Journal { seq, reply, .. } => (seq, reply),
        other => panic!("expected a journaled mutation, got {other:?}"),
    }
}

/// Executes a request that must answer at once.
fn immediate(c: &mut Container, request: impl Into<Request>) -> Reply {
    match c.execute(request.into(), NOW) {
        Execution::Reply(reply) => reply,
        other => panic!("expected an immediate reply, got {other:?}"),
    }
}

/// Executes a request whose answer must wait for a pending mutation.
fn deferred(c: &mut Container, request: impl Into<Request>) -> (MutationSeq, Reply) {
    match c.execute(request.into(), NOW) {
        Execution::ReplyWhenDurable { seq, reply } => (seq, reply),
        other => panic!("expected a reply waiting for durability, got {other:?}"),
    }
}

fn read_data(c: &Container, segment: &str, offset: u64, max_bytes: u32) -> ReadData {
    match c.read(segment, offset, max_bytes) {
        ReadOutcome::Reply(Reply::ReadData(data)) => data,
        other => panic!("expected data, got {other:?}"),
    }
}

/// Everything readable from the segment's start, or `None` if it is gone.
fn read_all(c: &mut Container, segment: &str) -> Option<Vec<u8>> {
    let start = match c.execute(get_info(segment), NOW) {
        Execution::Reply(Reply::SegmentInfo(info)) => info.start_offset,
        _ => return None,
    };
    match c.read(segment, start, u32::MAX) {
        ReadOutcome::Reply(Reply::ReadData(data)) => Some(data.data),
        ReadOutcome::AtTail => Some(Vec::new()),
        other => panic!("unexpected read outcome {other:?}"),
    }
}

fn create(segment: &str) -> CreateSegment {
    CreateSegment {
        segment: segment.into(),
    }
}

fn append(segment: &str, writer_id: u128, event_number: i64, payload: &[u8]) -> Append {
    Append {
        segment: segment.into(),
        writer_id,
        event_number,
        payload: payload.to_vec(),
    }
}

fn batch(segment: &str, writer_id: u128, events: &[(i64, &[u8])]) -> AppendBatch {
    AppendBatch {
        segment: segment.into(),
        writer_id,
        events: events
            .iter()
            .map(|&(event_number, payload)| BatchEvent {
                event_number,
                payload: payload.to_vec(),
            })
            .collect(),
    }
}

fn conditional(
    segment: &str,
    writer_id: u128,
    event_number: i64,
    expected_offset: u64,
    payload: &[u8],
) -> ConditionalAppend {
    ConditionalAppend {
        segment: segment.into(),
        writer_id,
        event_number,
        expected_offset,
        payload: payload.to_vec(),
    }
}

fn seal(segment: &str) -> Seal {
    Seal {
        segment: segment.into(),
    }
}

fn truncate(segment: &str, start_offset: u64) -> Truncate {
    Truncate {
        segment: segment.into(),
        start_offset,
    }
}

fn merge(target: &str, source: &str) -> Merge {
    Merge {
        target: target.into(),
        source: source.into(),
    }
}

fn delete(segment: &str) -> Delete {
    Delete {
        segment: segment.into(),
    }
}

fn get_info(segment: &str) -> Request {
    Request::GetInfo(GetInfo {
        segment: segment.into(),
    })
}

fn get_attribute(segment: &str, key: u128) -> GetAttribute {
    GetAttribute {
        segment: segment.into(),
        key,
    }
}

fn set_attribute(
    segment: &str,
    key: u128,
    value: i64,
    condition: AttributeCondition,
) -> UpdateAttribute {
    UpdateAttribute {
        segment: segment.into(),
        key,
        value,
        condition,
    }
}

fn writer_state(segment: &str, writer_id: u128) -> GetWriterState {
    GetWriterState {
        segment: segment.into(),
        writer_id,
    }
}

/// The status of an `Error` reply.
fn status(reply: &Reply) -> spate_wire::StatusCode {
    match reply {
        Reply::Error(e) => e
            .status_code()
            .unwrap_or_else(|| panic!("unknown status {}", e.status)),
        other => panic!("expected an error reply, got {other:?}"),
    }
}
