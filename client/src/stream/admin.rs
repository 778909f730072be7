//! Scope and stream calls: create, list, describe, update, scale, truncate,
//! seal, delete. Each goes straight to the core that owns the stream's
//! metadata log. Answers about what exists (no such scope, already there)
//! are outcome values, not errors.

use spate_wire::stream::{KeyRange, StreamConfig, StreamCut};
use spate_wire::{
    CreateScope, CreateStream, CutPosition, DeleteScope, DeleteStream, DescribeStream, ListScopes,
    ListStreams, Reply, Request, ScaleStream, SealStream, TruncateStream, UpdateStream,
};

use super::StreamName;
use super::description::StreamInfo;
use crate::client::{Call, Client, Route, Safety};
use crate::completion::Completion;
use crate::error::{ClientError, unexpected};

/// Outcome of creating a scope or a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCreateOutcome {
    /// Created now.
    Created,
    /// It existed already.
    AlreadyExists,
    /// The scope does not exist (stream creation only).
    NoSuchScope,
}

/// Outcome of a request on an existing scope or stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome<T> {
    /// Done, with its result.
    Done(T),
    /// The scope does not exist.
    NoSuchScope,
    /// The stream does not exist.
    NoSuchStream,
}

impl<T> StreamOutcome<T> {
    /// The value, or an `InvalidRequest` error naming what is missing.
    pub fn found(self, what: &str) -> Result<T, ClientError> {
        match self {
            StreamOutcome::Done(value) => Ok(value),
            StreamOutcome::NoSuchScope => {
                Err(ClientError::invalid(format!("{what}: no such scope")))
            }
            StreamOutcome::NoSuchStream => {
                Err(ClientError::invalid(format!("{what}: no such stream")))
            }
        }
    }
}

/// A scaled stream's new epoch and segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaled {
    /// The epoch the scale began.
    pub epoch: u32,
    /// The segments it created.
    pub new_segments: Vec<u64>,
}

impl Client {
    /// Creates a scope.
    pub fn create_scope(&self, scope: &str) -> Completion<StreamCreateOutcome> {
        let request = Request::CreateScope(CreateScope {
            scope: scope.into(),
        });
        self.stream_call(request, Safety::Idempotent, |reply| match reply {
            Reply::ScopeCreated(_) => Ok(StreamCreateOutcome::Created),
            Reply::ScopeExists(_) => Ok(StreamCreateOutcome::AlreadyExists),
            other => Err(unexpected("CreateScope", &other)),
        })
    }

    /// Deletes a scope that holds no streams.
    pub fn delete_scope(&self, scope: &str) -> Completion<StreamOutcome<()>> {
        let request = Request::DeleteScope(DeleteScope {
            scope: scope.into(),
        });
        self.stream_call(request, Safety::Idempotent, |reply| match reply {
            Reply::ScopeDeleted(_) => Ok(StreamOutcome::Done(())),
            Reply::NoSuchScope(_) => Ok(StreamOutcome::NoSuchScope),
            other => Err(unexpected("DeleteScope", &other)),
        })
    }

    /// Every scope, sorted.
    pub fn list_scopes(&self) -> Completion<Vec<String>> {
        self.stream_call(
            Request::ListScopes(ListScopes {}),
            Safety::Idempotent,
            |reply| match reply {
                Reply::ScopeList(list) => Ok(list.scopes),
                other => Err(unexpected("ListScopes", &other)),
            },
        )
    }

    /// The streams of a scope, sorted.
    pub fn list_streams(&self, scope: &str) -> Completion<StreamOutcome<Vec<String>>> {
        let request = Request::ListStreams(ListStreams {
            scope: scope.into(),
        });
        self.stream_call(request, Safety::Idempotent, |reply| match reply {
            Reply::StreamList(list) => Ok(StreamOutcome::Done(list.streams)),
            Reply::NoSuchScope(_) => Ok(StreamOutcome::NoSuchScope),
            other => Err(unexpected("ListStreams", &other)),
        })
    }

    /// Creates a stream with its first epoch's segments.
    pub fn create_stream(
        &self,
        stream: &StreamName,
        config: StreamConfig,
    ) -> Completion<StreamCreateOutcome> {
        let request = Request::CreateStream(CreateStream {
            scope: stream.scope.clone(),
            stream: stream.stream.clone(),
            config,
        });
        self.stream_call(request, Safety::Idempotent, |reply| match reply {
            Reply::StreamCreated(_) => Ok(StreamCreateOutcome::Created),
            Reply::StreamExists(_) => Ok(StreamCreateOutcome::AlreadyExists),
            Reply::NoSuchScope(_) => Ok(StreamCreateOutcome::NoSuchScope),
            other => Err(unexpected("CreateStream", &other)),
        })
    }

    /// Everything the node knows about a stream.
    pub fn describe_stream(&self, stream: &StreamName) -> Completion<StreamOutcome<StreamInfo>> {
        let request = Request::DescribeStream(DescribeStream {
            scope: stream.scope.clone(),
            stream: stream.stream.clone(),
        });
        let name = stream.clone();
        self.stream_call_with(request, Safety::Idempotent, move |reply| match reply {
            Reply::StreamDescription(description) => {
                Ok(StreamOutcome::Done(StreamInfo { name, description }))
            }
            Reply::NoSuchStream(_) => Ok(StreamOutcome::NoSuchStream),
            other => Err(unexpected("DescribeStream", &other)),
        })
    }

    /// Replaces a stream's configuration.
    pub fn update_stream(
        &self,
        stream: &StreamName,
        config: StreamConfig,
    ) -> Completion<StreamOutcome<()>> {
        let request = Request::UpdateStream(UpdateStream {
            scope: stream.scope.clone(),
            stream: stream.stream.clone(),
            config,
        });
        self.stream_call(request, Safety::Idempotent, |reply| match reply {
            Reply::StreamUpdated(_) => Ok(StreamOutcome::Done(())),
            Reply::NoSuchStream(_) => Ok(StreamOutcome::NoSuchStream),
            other => Err(unexpected("UpdateStream", &other)),
        })
    }

    /// Seals the current segments `seal` (neighbours in the key space) and
    /// creates segments over `ranges`, which must cover exactly what the
    /// sealed ones did. Not resent once sent: a repeat would seal the new
    /// segments' predecessors again, which the node refuses.
    pub fn scale_stream(
        &self,
        stream: &StreamName,
        seal: Vec<u64>,
        ranges: Vec<KeyRange>,
    ) -> Completion<StreamOutcome<Scaled>> {
        let request = Request::ScaleStream(ScaleStream {
            scope: stream.scope.clone(),
            stream: stream.stream.clone(),
            seal,
            ranges,
        });
        self.stream_call(request, Safety::Once, |reply| match reply {
            Reply::StreamScaled(scaled) => Ok(StreamOutcome::Done(Scaled {
                epoch: scaled.epoch,
                new_segments: scaled.new_segments,
            })),
            Reply::NoSuchStream(_) => Ok(StreamOutcome::NoSuchStream),
            other => Err(unexpected("ScaleStream", &other)),
        })
    }

    /// Truncates a stream at a stream cut (idempotent).
    pub fn truncate_stream(&self, cut: &StreamCut) -> Completion<StreamOutcome<()>> {
        let request = Request::TruncateStream(TruncateStream {
            scope: cut.scope.clone(),
            stream: cut.stream.clone(),
            positions: cut
                .positions
                .iter()
                .map(|(&segment, &offset)| CutPosition { segment, offset })
                .collect(),
        });
        self.stream_call(request, Safety::Idempotent, |reply| match reply {
            Reply::StreamTruncated(_) => Ok(StreamOutcome::Done(())),
            Reply::NoSuchStream(_) => Ok(StreamOutcome::NoSuchStream),
            other => Err(unexpected("TruncateStream", &other)),
        })
    }

    /// Seals every current segment of a stream for good (idempotent).
    pub fn seal_stream(&self, stream: &StreamName) -> Completion<StreamOutcome<()>> {
        let request = Request::SealStream(SealStream {
            scope: stream.scope.clone(),
            stream: stream.stream.clone(),
        });
        self.stream_call(request, Safety::Idempotent, |reply| match reply {
            Reply::StreamSealed(_) => Ok(StreamOutcome::Done(())),
            Reply::NoSuchStream(_) => Ok(StreamOutcome::NoSuchStream),
            other => Err(unexpected("SealStream", &other)),
        })
    }

    /// Deletes a sealed stream and its data.
    pub fn delete_stream(&self, stream: &StreamName) -> Completion<StreamOutcome<()>> {
        let request = Request::DeleteStream(DeleteStream {
            scope: stream.scope.clone(),
            stream: stream.stream.clone(),
        });
        self.stream_call(request, Safety::Idempotent, |reply| match reply {
            Reply::StreamDeleted(_) => Ok(StreamOutcome::Done(())),
            Reply::NoSuchStream(_) => Ok(StreamOutcome::NoSuchStream),
            other => Err(unexpected("DeleteStream", &other)),
        })
    }

    fn stream_call<T: Send + 'static>(
        &self,
        request: Request,
        safety: Safety,
        map: fn(Reply) -> Result<T, ClientError>,
    ) -> Completion<T> {
        self.stream_call_with(request, safety, map)
    }

    /// A stream call whose reply mapping keeps state (transactions use it).
    pub(super) fn stream_call_with<T: Send + 'static>(
        &self,
        request: Request,
        safety: Safety,
        map: impl FnOnce(Reply) -> Result<T, ClientError> + Send + 'static,
    ) -> Completion<T> {
        let Some(route) = request.routing_segment().map(|r| r.into_owned()) else {
            return Completion::ready(Err(ClientError::invalid("not a stream request")));
        };
        Call::start(&self.inner, Route::Segment(route), request, safety, map)
    }
}
