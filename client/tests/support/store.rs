//! The test server's segments: an in-memory map with the node's rules
//! (dedupe by writer id and event number, seal, truncate, conditions).

use std::collections::HashMap;

use spate_wire::{
    AppendBatch, Appended, AttributeCondition, AttributeConflict, AttributeUpdated, AttributeValue,
    ConditionalAppendFailed, Deleted, ErrorReply, Merged, NoSuchSegment, Read, ReadData, Reply,
    Request, Sealed, SegmentCreated, SegmentExists, SegmentInfo, SegmentIsSealed,
    SegmentIsTruncated, StatusCode, Truncated, WriterState,
};

#[derive(Default)]
struct Segment {
    data: Vec<u8>,
    start: u64,
    sealed: bool,
    writers: HashMap<u128, i64>,
    attributes: HashMap<u128, i64>,
}

/// What a request did to the store.
pub enum Outcome {
    Reply(Reply),
    /// A read at the tail of an open segment: the caller long-polls.
    AtTail,
}

#[derive(Default)]
pub struct Store {
    segments: HashMap<String, Segment>,
}

fn no_such(segment: &str) -> Reply {
    Reply::NoSuchSegment(NoSuchSegment {
        segment: segment.into(),
    })
}

fn error(status: StatusCode, message: &str) -> Reply {
    Reply::Error(ErrorReply::new(status, message))
}

impl Store {
    pub fn data(&self, segment: &str) -> Option<Vec<u8>> {
        self.segments.get(segment).map(|s| s.data.clone())
    }

    pub fn apply(&mut self, request: Request) -> Outcome {
        let reply = match request {
            Request::CreateSegment(r) => self.create(&r.segment),
            Request::Append(r) => {
                self.append(&r.segment, r.writer_id, vec![(r.event_number, r.payload)])
            }
            Request::AppendBatch(AppendBatch {
                segment,
                writer_id,
                events,
            }) => {
                let events = events
                    .into_iter()
                    .map(|e| (e.event_number, e.payload))
                    .collect();
                self.append(&segment, writer_id, events)
            }
            Request::ConditionalAppend(r) => {
                let current = self
                    .segments
                    .get(&r.segment)
                    .map(|s| (s.data.len() as u64, s.writers.get(&r.writer_id).copied()));
                match current {
                    // A duplicate is acked before the condition is looked at.
                    Some((length, last))
                        if length != r.expected_offset
                            && last.is_none_or(|l| r.event_number > l) =>
                    {
                        Reply::ConditionalAppendFailed(ConditionalAppendFailed {
                            current_length: length,
                        })
                    }
                    _ => self.append(&r.segment, r.writer_id, vec![(r.event_number, r.payload)]),
                }
            }
            Request::Read(r) => return self.read(&r),
            Request::Seal(r) => match self.segments.get_mut(&r.segment) {
                Some(s) => {
                    s.sealed = true;
                    Reply::Sealed(Sealed {
                        length: s.data.len() as u64,
                    })
                }
                None => no_such(&r.segment),
            },
            Request::Truncate(r) => match self.segments.get_mut(&r.segment) {
                Some(s) if r.start_offset > s.data.len() as u64 => {
                    error(StatusCode::OffsetOutOfRange, "beyond length")
                }
                Some(s) => {
                    s.start = s.start.max(r.start_offset);
                    Reply::Truncated(Truncated {
                        start_offset: s.start,
                    })
                }
                None => no_such(&r.segment),
            },
            Request::Merge(r) => self.merge(&r.target, &r.source),
            Request::Delete(r) => match self.segments.remove(&r.segment) {
                Some(_) => Reply::Deleted(Deleted {}),
                None => no_such(&r.segment),
            },
            Request::GetInfo(r) => match self.segments.get(&r.segment) {
                Some(s) => Reply::SegmentInfo(SegmentInfo {
                    length: s.data.len() as u64,
                    start_offset: s.start,
                    sealed: s.sealed,
                    created_unix_ms: 1,
                }),
                None => no_such(&r.segment),
            },
            Request::GetAttribute(r) => match self.segments.get(&r.segment) {
                Some(s) => Reply::AttributeValue(AttributeValue {
                    key: r.key,
                    value: s.attributes.get(&r.key).copied(),
                }),
                None => no_such(&r.segment),
            },
            Request::UpdateAttribute(r) => match self.segments.get_mut(&r.segment) {
                Some(s) => {
                    let current = s.attributes.get(&r.key).copied();
                    let holds = match r.condition {
                        AttributeCondition::Always => true,
                        AttributeCondition::IfAbsent => current.is_none(),
                        AttributeCondition::IfEquals(v) => current == Some(v),
                    };
                    if holds {
                        s.attributes.insert(r.key, r.value);
                        Reply::AttributeUpdated(AttributeUpdated {
                            key: r.key,
                            value: r.value,
                        })
                    } else {
                        Reply::AttributeConflict(AttributeConflict {
                            key: r.key,
                            current,
                        })
                    }
                }
                None => no_such(&r.segment),
            },
            Request::GetWriterState(r) => match self.segments.get(&r.segment) {
                Some(s) => Reply::WriterState(WriterState {
                    writer_id: r.writer_id,
                    last_event_number: s.writers.get(&r.writer_id).copied(),
                }),
                None => no_such(&r.segment),
            },
            // The scripted server serves the segment layer only.
            _ => error(StatusCode::UnexpectedMessage, "not here"),
        };
        Outcome::Reply(reply)
    }

    fn create(&mut self, segment: &str) -> Reply {
        if self.segments.contains_key(segment) {
            return Reply::SegmentExists(SegmentExists {
                segment: segment.into(),
            });
        }
        self.segments.insert(segment.into(), Segment::default());
        Reply::SegmentCreated(SegmentCreated {})
    }

    /// Applies events above the writer's last number; acks the last one.
    fn append(&mut self, segment: &str, writer_id: u128, events: Vec<(i64, Vec<u8>)>) -> Reply {
        let Some(s) = self.segments.get_mut(segment) else {
            return no_such(segment);
        };
        if s.sealed {
            return Reply::SegmentIsSealed(SegmentIsSealed {
                segment: segment.into(),
                length: s.data.len() as u64,
            });
        }
        let mut last_number = 0;
        for (number, payload) in events {
            last_number = number;
            let last = s.writers.get(&writer_id).copied();
            if last.is_none_or(|last| number > last) {
                s.data.extend_from_slice(&payload);
                s.writers.insert(writer_id, number);
            }
        }
        Reply::Appended(Appended {
            writer_id,
            event_number: last_number,
            length: s.data.len() as u64,
        })
    }

    fn read(&self, read: &Read) -> Outcome {
        let Some(s) = self.segments.get(&read.segment) else {
            return Outcome::Reply(no_such(&read.segment));
        };
        let length = s.data.len() as u64;
        if read.offset < s.start {
            let truncated = SegmentIsTruncated {
                segment: read.segment.clone(),
                start_offset: s.start,
            };
            return Outcome::Reply(Reply::SegmentIsTruncated(truncated));
        }
        if read.offset > length {
            return Outcome::Reply(error(StatusCode::OffsetOutOfRange, "beyond length"));
        }
        if read.offset == length && !s.sealed {
            return Outcome::AtTail;
        }
        let end = length.min(read.offset + u64::from(read.max_bytes));
        let data = s.data[read.offset as usize..end as usize].to_vec();
        Outcome::Reply(Reply::ReadData(ReadData {
            offset: read.offset,
            data,
            end_of_segment: s.sealed && end == length,
            length,
        }))
    }

    /// The reply for a read whose long poll ended with no data.
    pub fn empty_read(&self, read: &Read) -> Reply {
        match self.read(read) {
            Outcome::Reply(reply) => reply,
            Outcome::AtTail => Reply::ReadData(ReadData {
                offset: read.offset,
                data: Vec::new(),
                end_of_segment: false,
                length: read.offset,
            }),
        }
    }

    fn merge(&mut self, target: &str, source: &str) -> Reply {
        match (self.segments.get(target), self.segments.get(source)) {
            (None, _) => return no_such(target),
            (_, None) => return no_such(source),
            (Some(t), _) if t.sealed => {
                return Reply::SegmentIsSealed(SegmentIsSealed {
                    segment: target.into(),
                    length: t.data.len() as u64,
                });
            }
            (_, Some(s)) if !s.sealed => {
                return error(StatusCode::SourceNotSealed, "seal it first");
            }
            _ => {}
        }
        let Some(source) = self.segments.remove(source) else {
            return no_such(source);
        };
        let Some(t) = self.segments.get_mut(target) else {
            return no_such(target);
        };
        t.data.extend_from_slice(&source.data);
        Reply::Merged(Merged {
            target_length: t.data.len() as u64,
        })
    }
}
