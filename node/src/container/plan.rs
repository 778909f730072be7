//! Requests → executions: validation against the live view, and queries
//! against the durable view. Appends are in `append.rs`.
//!
//! Every planner checks in the order the client needs the answer, builds the
//! mutation only when everything holds, and hands it to `Container::journal`.

use spate_wire::{
    AttributeCondition, AttributeConflict, AttributeUpdated, AttributeValue, BatchEvent, Deleted,
    Merged, NoSuchSegment, Reply, Request, RetryAdvice, Sealed, SegmentCreated, SegmentExists,
    SegmentInfo, SegmentIsSealed, StatusCode, Truncated, UpdateAttribute, WriterState,
    validate_segment_name,
};

use super::mutation::Mutation;
use super::replies::{error, error_with};
use super::{Container, Execution};

impl Container {
    /// Runs one segment request at time `now_ms` (milliseconds since the Unix
    /// epoch; used only as a new segment's creation time). See
    /// [`Execution`] for what the runtime does with the result. Reads (see
    /// [`Container::read`]), connection-level, stream and load requests are
    /// not container requests and get an `Internal` error.
    pub fn execute(&mut self, request: Request, now_ms: u64) -> Execution {
        match request {
            Request::CreateSegment(r) => self.create(r.segment, now_ms),
            Request::Append(r) => {
                let event = BatchEvent {
                    event_number: r.event_number,
                    payload: r.payload,
                };
                self.append(r.segment, r.writer_id, vec![event], None)
            }
            Request::AppendBatch(r) => self.append(r.segment, r.writer_id, r.events, None),
            Request::ConditionalAppend(r) => {
                let event = BatchEvent {
                    event_number: r.event_number,
                    payload: r.payload,
                };
                self.append(r.segment, r.writer_id, vec![event], Some(r.expected_offset))
            }
            Request::Seal(r) => self.seal(r.segment),
            Request::Truncate(r) => self.truncate(r.segment, r.start_offset),
            Request::Merge(r) => self.merge(r.target, r.source),
            Request::Delete(r) => self.delete(r.segment),
            Request::UpdateAttribute(r) => self.update_attribute(r),
            Request::GetInfo(r) => Execution::Reply(self.info(r.segment)),
            Request::GetAttribute(r) => Execution::Reply(self.attribute(r.segment, r.key)),
            Request::GetWriterState(r) => {
                Execution::Reply(self.writer_state(r.segment, r.writer_id))
            }
            // Reads, connection-level requests, the controller's requests
            // and load queries are served by the runtime.
            _ => Execution::Reply(error(
                StatusCode::Internal,
                "not a container request: the node routed it to the container by mistake",
            )),
        }
    }

    /// Whether `segment` exists (its creation may still be on its way to
    /// durability).
    pub fn has_segment(&self, segment: &str) -> bool {
        self.live.get(segment).is_some()
    }

    /// `NoSuchSegment`, true once whatever removed `segment` is durable.
    pub(super) fn no_such_segment(&self, segment: String) -> Execution {
        let after = self.seen(&segment);
        self.answer(NoSuchSegment { segment }, after)
    }

    fn create(&mut self, segment: String, now_ms: u64) -> Execution {
        // The wire decoder checks names, but an owned request can bypass it,
        // and replay refuses a record with a bad name: a name the journal
        // takes must be one recovery takes. Only create introduces names.
        if let Err(why) = validate_segment_name(&segment) {
            let message = format!("segment name {segment:?}: {why}");
            return Execution::Reply(error(StatusCode::InvalidSegmentName, message));
        }
        if let Some(existing) = self.live.get(&segment) {
            return self.answer(SegmentExists { segment }, existing.last_seq);
        }
        if self.live.segment_count() >= self.limits.max_segments {
            let message = format!(
                "container {} holds its maximum of {} segments; delete segments or retry later",
                self.id, self.limits.max_segments
            );
            return Execution::Reply(error(StatusCode::Busy, message));
        }
        let mutation = Mutation::Create {
            segment,
            created_ms: now_ms,
        };
        self.journal(mutation, SegmentCreated {})
    }

    fn seal(&mut self, segment: String) -> Execution {
        let Some(current) = self.live.get(&segment) else {
            return self.no_such_segment(segment);
        };
        let length = current.data.length();
        if current.sealed {
            // Idempotent, but only once the first seal is durable.
            return self.answer(Sealed { length }, current.last_seq);
        }
        self.journal(Mutation::Seal { segment, length }, Sealed { length })
    }

    fn truncate(&mut self, segment: String, start_offset: u64) -> Execution {
        let Some(current) = self.live.get(&segment) else {
            return self.no_such_segment(segment);
        };
        let (start, length, after) = (
            current.data.start_offset(),
            current.data.length(),
            current.last_seq,
        );
        if start_offset > length {
            let message =
                format!("truncate {segment} at {start_offset}: beyond its length {length}");
            return self.answer(error(StatusCode::OffsetOutOfRange, message), after);
        }
        if start_offset <= start {
            return self.answer(
                Truncated {
                    start_offset: start,
                },
                after,
            );
        }
        let mutation = Mutation::Truncate {
            segment,
            start_offset,
        };
        self.journal(mutation, Truncated { start_offset })
    }

    fn merge(&mut self, target: String, source: String) -> Execution {
        if target == source {
            let message = format!("merge of {target} into itself");
            return Execution::Reply(error(StatusCode::InvalidArgument, message));
        }
        let after = self.seen(&target).max(self.seen(&source));
        let Some(into) = self.live.get(&target) else {
            return self.answer(NoSuchSegment { segment: target }, after);
        };
        let Some(from) = self.live.get(&source) else {
            return self.answer(NoSuchSegment { segment: source }, after);
        };
        let (target_offset, source_length) = (into.data.length(), from.data.length());
        let refusal = if into.sealed {
            Some(Reply::from(SegmentIsSealed {
                segment: target.clone(),
                length: target_offset,
            }))
        } else if !from.sealed {
            let message = format!("merge source {source} is not sealed; seal it first");
            Some(error(StatusCode::SourceNotSealed, message))
        } else if from.data.start_offset() > 0 {
            let message = format!(
                "merge source {source} is truncated (start offset {}); only whole segments merge",
                from.data.start_offset()
            );
            Some(error(StatusCode::SegmentTruncated, message))
        } else {
            None
        };
        if let Some(reply) = refusal {
            return self.answer(reply, after);
        }
        self.forget_refusals(&source);
        let mutation = Mutation::Merge {
            target,
            source,
            target_offset,
            source_length,
        };
        let target_length = target_offset + source_length;
        self.journal(mutation, Merged { target_length })
    }

    fn delete(&mut self, segment: String) -> Execution {
        if self.live.get(&segment).is_none() {
            return self.no_such_segment(segment);
        }
        self.forget_refusals(&segment);
        self.journal(Mutation::Delete { segment }, Deleted {})
    }

    /// A segment that goes away takes its writers' refusals with it.
    fn forget_refusals(&mut self, segment: &str) {
        self.refused.retain(|(s, _), _| s != segment);
    }

    fn update_attribute(&mut self, request: UpdateAttribute) -> Execution {
        let UpdateAttribute {
            segment,
            key,
            value,
            condition,
        } = request;
        let Some(current) = self.live.get(&segment) else {
            return self.no_such_segment(segment);
        };
        let after = current.last_seq;
        if current.sealed {
            // Sealed means read-only for good, attributes included (Pravega
            // refuses attribute updates on sealed segments too).
            let length = current.data.length();
            return self.answer(SegmentIsSealed { segment, length }, after);
        }
        let existing = current.attributes.get(&key).copied();
        let holds = match condition {
            AttributeCondition::Always => true,
            AttributeCondition::IfAbsent => existing.is_none(),
            AttributeCondition::IfEquals(expected) => existing == Some(expected),
        };
        if !holds {
            let conflict = AttributeConflict {
                key,
                current: existing,
            };
            return self.answer(conflict, after);
        }
        let max = self.limits.max_attributes_per_segment;
        if existing.is_none() && current.attributes.len() >= max {
            let message =
                format!("segment {segment} holds its maximum of {max} attributes; no new key fits");
            return Execution::Reply(error_with(
                StatusCode::InvalidArgument,
                RetryAdvice::GiveUp,
                message,
            ));
        }
        let mutation = Mutation::SetAttribute {
            segment,
            key,
            value,
        };
        self.journal(mutation, AttributeUpdated { key, value })
    }

    fn info(&self, segment: String) -> Reply {
        match self.durable.get(&segment) {
            Some(s) => Reply::from(SegmentInfo {
                length: s.data.length(),
                start_offset: s.data.start_offset(),
                sealed: s.sealed,
                created_unix_ms: s.created_ms,
            }),
            None => Reply::from(NoSuchSegment { segment }),
        }
    }

    fn attribute(&self, segment: String, key: u128) -> Reply {
        match self.durable.get(&segment) {
            Some(s) => Reply::from(AttributeValue {
                key,
                value: s.attributes.get(&key).copied(),
            }),
            None => Reply::from(NoSuchSegment { segment }),
        }
    }

    fn writer_state(&self, segment: String, writer_id: u128) -> Reply {
        match self.durable.get(&segment) {
            Some(s) => Reply::from(WriterState {
                writer_id,
                last_event_number: s.writers.get(&writer_id).copied(),
            }),
            None => Reply::from(NoSuchSegment { segment }),
        }
    }
}
