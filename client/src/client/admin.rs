//! Admin calls: create, seal, truncate, merge, delete, info, attributes,
//! writer state, ping. Each returns a [`Completion`] of a typed outcome;
//! answers about the segment's state (missing, already there, sealed,
//! condition failed) are outcome values, not errors.

use spate_wire::{
    AttributeCondition, CreateSegment, Delete, GetAttribute, GetInfo, GetWriterState, Merge, Ping,
    Reply, Request, Seal, Truncate, UpdateAttribute,
};

use super::Client;
use super::call::{Call, Route, Safety};
use crate::completion::Completion;
use crate::error::{ClientError, check_name, unexpected};

/// Outcome of [`Client::create_segment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The segment was created, empty.
    Created,
    /// A segment of that name exists already.
    AlreadyExists,
}

/// Outcome of [`Client::seal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealOutcome {
    /// The segment is sealed (now or before) at this final length.
    Sealed {
        /// Final length in bytes.
        length: u64,
    },
    /// No such segment.
    NoSuchSegment,
}

/// Outcome of [`Client::truncate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncateOutcome {
    /// The segment's start offset now (a lower request is a no-op).
    Truncated {
        /// Reads below this offset are refused.
        start_offset: u64,
    },
    /// No such segment.
    NoSuchSegment,
}

/// Outcome of [`Client::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The source was appended to the target and no longer exists.
    Merged {
        /// The target's length after the merge.
        target_length: u64,
    },
    /// The target is sealed and takes nothing more.
    TargetSealed {
        /// The target's final length.
        length: u64,
    },
    /// The named segment (target or source) does not exist.
    NoSuchSegment {
        /// Which one.
        segment: String,
    },
}

/// Outcome of [`Client::delete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The segment and its data are gone.
    Deleted,
    /// No such segment.
    NoSuchSegment,
}

/// A segment's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Bytes ever appended (offsets run `0..length`).
    pub length: u64,
    /// Lowest readable offset.
    pub start_offset: u64,
    /// True once the segment takes no more appends.
    pub sealed: bool,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
}

/// Outcome of [`Client::info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoOutcome {
    /// The segment's metadata.
    Found(SegmentInfo),
    /// No such segment.
    NoSuchSegment,
}

/// Outcome of [`Client::get_attribute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeOutcome {
    /// The attribute's value, `None` if never set.
    Value(Option<i64>),
    /// No such segment.
    NoSuchSegment,
}

/// Outcome of [`Client::update_attribute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The attribute now holds `value`.
    Updated {
        /// The value written.
        value: i64,
    },
    /// The condition did not hold; nothing changed.
    Conflict {
        /// The attribute's value now (`None` if unset).
        current: Option<i64>,
    },
    /// No such segment.
    NoSuchSegment,
}

/// Outcome of [`Client::writer_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterStateOutcome {
    /// The last event number the segment holds from the writer (`None`: it
    /// never appended).
    Found {
        /// Resume numbering after this.
        last_event_number: Option<i64>,
    },
    /// No such segment.
    NoSuchSegment,
}

impl Client {
    /// Checks that the node answers on the bootstrap connection.
    pub fn ping(&self) -> Completion<()> {
        let nonce = crate::options::random_u64();
        let request = Request::Ping(Ping { nonce });
        Call::start(
            &self.inner,
            Route::Bootstrap,
            request,
            Safety::Idempotent,
            move |reply| match reply {
                Reply::Pong(pong) if pong.nonce == nonce => Ok(()),
                Reply::Pong(_) => Err(ClientError::protocol("Pong with another nonce")),
                other => Err(unexpected("Ping", &other)),
            },
        )
    }

    /// Creates an empty segment. Not resent once sent: a second attempt
    /// would report `AlreadyExists` for a segment this call created.
    pub fn create_segment(&self, segment: &str) -> Completion<CreateOutcome> {
        let request = Request::CreateSegment(CreateSegment {
            segment: segment.into(),
        });
        self.segment_call(segment, request, Safety::Once, |reply| match reply {
            Reply::SegmentCreated(_) => Ok(CreateOutcome::Created),
            Reply::SegmentExists(_) => Ok(CreateOutcome::AlreadyExists),
            other => Err(unexpected("CreateSegment", &other)),
        })
    }

    /// Seals a segment for good (idempotent).
    pub fn seal(&self, segment: &str) -> Completion<SealOutcome> {
        let request = Request::Seal(Seal {
            segment: segment.into(),
        });
        self.segment_call(segment, request, Safety::Idempotent, |reply| match reply {
            Reply::Sealed(sealed) => Ok(SealOutcome::Sealed {
                length: sealed.length,
            }),
            Reply::NoSuchSegment(_) => Ok(SealOutcome::NoSuchSegment),
            other => Err(unexpected("Seal", &other)),
        })
    }

    /// Raises the segment's start offset to `start_offset` (idempotent).
    /// An offset beyond the length is an `InvalidRequest`.
    pub fn truncate(&self, segment: &str, start_offset: u64) -> Completion<TruncateOutcome> {
        let request = Request::Truncate(Truncate {
            segment: segment.into(),
            start_offset,
        });
        self.segment_call(segment, request, Safety::Idempotent, |reply| match reply {
            Reply::Truncated(t) => Ok(TruncateOutcome::Truncated {
                start_offset: t.start_offset,
            }),
            Reply::NoSuchSegment(_) => Ok(TruncateOutcome::NoSuchSegment),
            other => Err(unexpected("Truncate", &other)),
        })
    }

    /// Appends the whole of the sealed `source` to `target`; the source
    /// ceases to exist. An unsealed source is an `InvalidRequest`.
    pub fn merge(&self, target: &str, source: &str) -> Completion<MergeOutcome> {
        if let Err(error) = check_name(source) {
            return Completion::ready(Err(error));
        }
        let request = Request::Merge(Merge {
            target: target.into(),
            source: source.into(),
        });
        self.segment_call(target, request, Safety::Once, |reply| match reply {
            Reply::Merged(m) => Ok(MergeOutcome::Merged {
                target_length: m.target_length,
            }),
            Reply::SegmentIsSealed(s) => Ok(MergeOutcome::TargetSealed { length: s.length }),
            Reply::NoSuchSegment(n) => Ok(MergeOutcome::NoSuchSegment { segment: n.segment }),
            other => Err(unexpected("Merge", &other)),
        })
    }

    /// Deletes a segment and its data.
    pub fn delete(&self, segment: &str) -> Completion<DeleteOutcome> {
        let request = Request::Delete(Delete {
            segment: segment.into(),
        });
        self.segment_call(segment, request, Safety::Once, |reply| match reply {
            Reply::Deleted(_) => Ok(DeleteOutcome::Deleted),
            Reply::NoSuchSegment(_) => Ok(DeleteOutcome::NoSuchSegment),
            other => Err(unexpected("Delete", &other)),
        })
    }

    /// A segment's metadata.
    pub fn info(&self, segment: &str) -> Completion<InfoOutcome> {
        let request = Request::GetInfo(GetInfo {
            segment: segment.into(),
        });
        self.segment_call(segment, request, Safety::Idempotent, |reply| match reply {
            Reply::SegmentInfo(i) => Ok(InfoOutcome::Found(SegmentInfo {
                length: i.length,
                start_offset: i.start_offset,
                sealed: i.sealed,
                created_unix_ms: i.created_unix_ms,
            })),
            Reply::NoSuchSegment(_) => Ok(InfoOutcome::NoSuchSegment),
            other => Err(unexpected("GetInfo", &other)),
        })
    }

    /// Reads attribute `key` of a segment.
    pub fn get_attribute(&self, segment: &str, key: u128) -> Completion<AttributeOutcome> {
        let request = Request::GetAttribute(GetAttribute {
            segment: segment.into(),
            key,
        });
        self.segment_call(segment, request, Safety::Idempotent, |reply| match reply {
            Reply::AttributeValue(a) => Ok(AttributeOutcome::Value(a.value)),
            Reply::NoSuchSegment(_) => Ok(AttributeOutcome::NoSuchSegment),
            other => Err(unexpected("GetAttribute", &other)),
        })
    }

    /// Sets attribute `key` to `value` if `condition` holds;
    /// `AttributeCondition::IfEquals` makes it a compare-and-set.
    pub fn update_attribute(
        &self,
        segment: &str,
        key: u128,
        value: i64,
        condition: AttributeCondition,
    ) -> Completion<UpdateOutcome> {
        let request = Request::UpdateAttribute(UpdateAttribute {
            segment: segment.into(),
            key,
            value,
            condition,
        });
        self.segment_call(segment, request, Safety::Once, |reply| match reply {
            Reply::AttributeUpdated(u) => Ok(UpdateOutcome::Updated { value: u.value }),
            Reply::AttributeConflict(c) => Ok(UpdateOutcome::Conflict { current: c.current }),
            Reply::NoSuchSegment(_) => Ok(UpdateOutcome::NoSuchSegment),
            other => Err(unexpected("UpdateAttribute", &other)),
        })
    }

    /// The last event number the segment holds from `writer_id`.
    pub fn writer_state(&self, segment: &str, writer_id: u128) -> Completion<WriterStateOutcome> {
        let request = Request::GetWriterState(GetWriterState {
            segment: segment.into(),
            writer_id,
        });
        self.segment_call(segment, request, Safety::Idempotent, |reply| match reply {
            Reply::WriterState(w) => Ok(WriterStateOutcome::Found {
                last_event_number: w.last_event_number,
            }),
            Reply::NoSuchSegment(_) => Ok(WriterStateOutcome::NoSuchSegment),
            other => Err(unexpected("GetWriterState", &other)),
        })
    }

    /// Checks the name, then sends to the segment's core.
    fn segment_call<T: Send + 'static>(
        &self,
        segment: &str,
        request: Request,
        safety: Safety,
        map: fn(Reply) -> Result<T, ClientError>,
    ) -> Completion<T> {
        if let Err(error) = check_name(segment) {
            return Completion::ready(Err(error));
        }
        let route = Route::Segment(segment.into());
        Call::start(&self.inner, route, request, safety, map)
    }
}
