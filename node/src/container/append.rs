//! Appends (single, batch, conditional): deduplication, the conditions, the
//! limits, and the move of payloads into chunks.

use bytes::Bytes;
use spate_wire::{
    Appended, BatchEvent, ConditionalAppendFailed, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, RetryAdvice,
    SegmentIsSealed, StatusCode,
};

use super::mutation::{Event, Mutation};
use super::record::append_record_len;
use super::replies::{error, error_with};
use super::{Container, Execution};

impl Container {
    /// Appends `events` of one writer to `segment`, if the segment's live
    /// length is `expected_offset` (when given).
    ///
    /// Checks, in order: the request's shape; the segment exists; duplicates
    /// (before the seal check: a duplicate is in the segment, so it is acked
    /// even when sealed); sealed; the condition; the limits.
    pub(super) fn append(
        &mut self,
        segment: String,
        writer_id: u128,
        events: Vec<BatchEvent>,
        expected_offset: Option<u64>,
    ) -> Execution {
        if let Err(why) = check_shape(&events) {
            return Execution::Reply(error(StatusCode::InvalidArgument, why));
        }
        let Some(current) = self.live.get(&segment) else {
            return self.no_such_segment(segment);
        };
        let (length, after) = (current.data.length(), current.last_seq);
        let previous = current.writers.get(&writer_id).copied();
        let known_writers = current.writers.len();
        let sealed = current.sealed;
        // Shape checked: events is non-empty and strictly increasing, so the
        // duplicates are a prefix.
        let event_number = events[events.len() - 1].event_number;
        let fresh_from = previous.map_or(0, |p| events.partition_point(|e| e.event_number <= p));

        if fresh_from == events.len() {
            let ack = Appended {
                writer_id,
                event_number,
                length,
            };
            return self.answer(ack, after);
        }
        if sealed {
            return self.answer(SegmentIsSealed { segment, length }, after);
        }
        if let Some(expected) = expected_offset
            && expected != length
        {
            let failed = ConditionalAppendFailed {
                current_length: length,
            };
            return self.answer(failed, after);
        }
        let fresh = &events[fresh_from..];
        let first_fresh = fresh[0].event_number;
        let key = (segment, writer_id);
        if let Some(&refused) = self.refused.get(&key)
            && first_fresh > refused
        {
            let message = format!(
                "event {refused} of this writer was refused for lack of memory; resend from it                  before later events (retry)"
            );
            return Execution::Reply(error(StatusCode::Busy, message));
        }
        let (segment, _) = key;
        if let Err(refusal) = self.check_limits(&segment, fresh, previous.is_none(), known_writers)
        {
            if is_busy(&refusal) {
                let at = self
                    .refused
                    .entry((segment, writer_id))
                    .or_insert(first_fresh);
                *at = (*at).min(first_fresh);
            }
            return Execution::Reply(*refusal);
        }
        self.refused.remove(&(segment.clone(), writer_id));

        let bytes: u64 = fresh.iter().map(|e| e.payload.len() as u64).sum();
        let marks = fresh
            .iter()
            .map(|e| Event {
                event_number: e.event_number,
                // Bounded by MAX_EVENT_BYTES (check_shape).
                len: e.payload.len() as u32,
            })
            .collect();
        let mutation = Mutation::Append {
            segment,
            writer_id,
            offset: length,
            events: marks,
            data: concatenated(events, fresh_from),
            source: None,
        };
        let ack = Appended {
            writer_id,
            event_number,
            length: length + bytes,
        };
        self.journal(mutation, ack)
    }

    /// The bounds an append of `fresh` events must fit: writer states, record
    /// size, data budget.
    fn check_limits(
        &self,
        segment: &str,
        fresh: &[BatchEvent],
        new_writer: bool,
        known_writers: usize,
    ) -> Result<(), Box<spate_wire::Reply>> {
        let max_writers = self.limits.max_writers_per_segment;
        if new_writer && known_writers >= max_writers {
            let message = format!(
                "segment {segment} keeps writer states for its maximum of {max_writers} writers; \
                 a new writer id cannot append to it"
            );
            return Err(Box::new(error_with(
                StatusCode::InvalidArgument,
                RetryAdvice::GiveUp,
                message,
            )));
        }
        let record_len = append_record_len(segment.len(), fresh.iter().map(|e| e.payload.len()));
        if record_len > self.limits.max_record_bytes {
            let message = format!(
                "{} events need a journal record of {record_len} bytes; this node's maximum is {}: \
                 send fewer events per batch",
                fresh.len(),
                self.limits.max_record_bytes
            );
            return Err(Box::new(error(StatusCode::InvalidArgument, message)));
        }
        let bytes: u64 = fresh.iter().map(|e| e.payload.len() as u64).sum();
        let held = self.unevictable_bytes();
        let budget = self.limits.data_budget_bytes;
        // With nothing held, an append goes in whatever its size: an event
        // larger than the budget would otherwise be refused for ever. Memory
        // then exceeds the budget by at most one append.
        if held > 0 && held + bytes > budget {
            let message = format!(
                "container {} holds {held} bytes of segment data that are not durable in the \
                 journal yet, and its memory budget is {budget}; an append of {bytes} bytes does \
                 not fit. Retry once the journal has caught up",
                self.id
            );
            return Err(Box::new(error(StatusCode::Busy, message)));
        }
        Ok(())
    }
}

/// The payloads of `events[from..]` as one buffer. A single event keeps its
/// allocation (no copy): the common case of a writer that is not batching.
fn concatenated(events: Vec<BatchEvent>, from: usize) -> Bytes {
    let len: usize = events.iter().skip(from).map(|e| e.payload.len()).sum();
    let mut fresh = events.into_iter().skip(from);
    let Some(first) = fresh.next() else {
        return Bytes::new();
    };
    let mut data = first.payload;
    // One growth to the batch's size instead of doubling past it.
    data.reserve_exact(len - data.len());
    for event in fresh {
        data.extend_from_slice(&event.payload);
    }
    Bytes::from(data)
}

/// A refusal the client retries (as opposed to one it must not resend).
fn is_busy(reply: &spate_wire::Reply) -> bool {
    matches!(reply, spate_wire::Reply::Error(e) if e.status == StatusCode::Busy.code())
}

/// The rules the wire decoder already enforces, checked again because an
/// owned `Request` can be built without it.
fn check_shape(events: &[BatchEvent]) -> Result<(), String> {
    if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
        return Err(format!(
            "an append holds {} events; 1..={MAX_BATCH_EVENTS} allowed",
            events.len()
        ));
    }
    let mut previous: Option<i64> = None;
    for event in events {
        let number = event.event_number;
        if number < 0 {
            return Err(format!("event number {number} is negative"));
        }
        if previous.is_some_and(|p| number <= p) {
            return Err(format!("event numbers not increasing at {number}"));
        }
        if event.payload.len() > MAX_EVENT_BYTES {
            return Err(format!(
                "event {number} has {} bytes; at most {MAX_EVENT_BYTES} allowed",
                event.payload.len()
            ));
        }
        previous = Some(number);
    }
    Ok(())
}
