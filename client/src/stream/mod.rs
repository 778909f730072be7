//! The stream layer: scopes and streams (admin calls on [`crate::Client`]),
//! the [`EventWriter`] with routing keys and exactly-once across restarts,
//! transactions ([`Transaction`]: events that join a stream together or not
//! at all), and reading a stream's events back in order per key.

mod admin;
mod description;
mod framing;
mod history;
mod txn;
mod writer;

use std::fmt;
use std::str::FromStr;

use spate_wire::stream::{validate_scope_name, validate_stream_name};

pub use admin::{Scaled, StreamCreateOutcome, StreamOutcome};
pub use description::StreamInfo;
pub use framing::{EVENT_HEADER_BYTES, EventSplitter, SplitEvent, frame_event};
pub use history::{StreamEvent, read_stream};
pub use txn::{Transaction, TxnOutcome};
pub use writer::{EventAck, EventFuture, EventWriter, EventWriterOptions};

use crate::error::ClientError;

/// A stream's full name, `scope/stream`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamName {
    /// The scope's name.
    pub scope: String,
    /// The stream's name within the scope.
    pub stream: String,
}

impl StreamName {
    /// Checks both names against the node's rule.
    pub fn new(scope: &str, stream: &str) -> Result<Self, ClientError> {
        validate_scope_name(scope).map_err(|e| ClientError::invalid(e.to_string()))?;
        validate_stream_name(stream).map_err(|e| ClientError::invalid(e.to_string()))?;
        Ok(Self {
            scope: scope.to_owned(),
            stream: stream.to_owned(),
        })
    }
}

impl FromStr for StreamName {
    type Err = ClientError;

    fn from_str(text: &str) -> Result<Self, ClientError> {
        let (scope, stream) = text
            .split_once('/')
            .ok_or_else(|| ClientError::invalid(format!("{text:?} is not SCOPE/STREAM")))?;
        StreamName::new(scope, stream)
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.scope, self.stream)
    }
}
