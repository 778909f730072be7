//! Scope and stream requests (the controller's API) and their replies.
//!
//! A stream request goes to the core that owns the stream's metadata log,
//! segment `_system/streams/SCOPE/STREAM` ([`stream_log_segment`]); a scope
//! request to the core owning the scope registry (`_system/scopes`). The
//! client computes that routing segment from the request alone
//! ([`crate::Request::routing_segment`]), so the node serves it with no hop.

use rkyv::{Archive, Deserialize, Serialize};

use super::Validate;
use crate::error::FieldError;
use crate::stream::{KeyRange, MAX_STREAM_SEGMENTS, StreamConfig};
use crate::stream::{validate_scope_name, validate_stream_name};

/// The segment holding the registry of scopes.
pub const SCOPE_REGISTRY_SEGMENT: &str = "_system/scopes";

/// The segment listing the streams of `scope`.
pub fn scope_index_segment(scope: &str) -> String {
    format!("_system/scope/{scope}")
}

/// Whether `segment` holds the controller's metadata (the scope registry,
/// scope indexes, stream logs). Clients may not address these directly
/// (except `GetInfo`, to see their size): the node changes them only
/// through its scope and stream requests.
/// (Other `_system/` segments, such as reader groups' state, are clients'.)
pub fn is_controller_segment(segment: &str) -> bool {
    segment == SCOPE_REGISTRY_SEGMENT
        || segment.starts_with("_system/scope/")
        || segment.starts_with("_system/streams/")
}

/// The segment holding the metadata log of `scope/stream`.
pub fn stream_log_segment(scope: &str, stream: &str) -> String {
    format!("_system/streams/{scope}/{stream}")
}

/// Creates a scope. Answer: `ScopeCreated` or `ScopeExists`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct CreateScope {
    pub scope: String,
}

/// Deletes an empty scope. Answer: `ScopeDeleted`, `NoSuchScope`, or an
/// error `ScopeNotEmpty`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct DeleteScope {
    pub scope: String,
}

/// Lists the scopes. Answer: `ScopeList`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ListScopes {}

/// Lists the streams of a scope. Answer: `StreamList` or `NoSuchScope`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ListStreams {
    pub scope: String,
}

/// Creates a stream. Answer: `StreamCreated`, `StreamExists` or
/// `NoSuchScope`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct CreateStream {
    pub scope: String,
    pub stream: String,
    pub config: StreamConfig,
}

/// Describes a stream. Answer: `StreamDescription` or `NoSuchStream`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct DescribeStream {
    pub scope: String,
    pub stream: String,
}

/// Replaces a stream's configuration. Answer: `StreamUpdated`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct UpdateStream {
    pub scope: String,
    pub stream: String,
    pub config: StreamConfig,
}

/// Seals current segments `seal` (neighbours in the key space) and creates
/// segments over `ranges`, which cover exactly what they covered. Answer:
/// `StreamScaled`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ScaleStream {
    pub scope: String,
    pub stream: String,
    pub seal: Vec<u64>,
    pub ranges: Vec<KeyRange>,
}

/// A segment's offset in a stream cut.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct CutPosition {
    pub segment: u64,
    pub offset: u64,
}

/// Truncates a stream at a stream cut. Answer: `StreamTruncated`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct TruncateStream {
    pub scope: String,
    pub stream: String,
    pub positions: Vec<CutPosition>,
}

/// Seals every current segment of a stream for good (idempotent). Answer:
/// `StreamSealed`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct SealStream {
    pub scope: String,
    pub stream: String,
}

/// Deletes a sealed stream and its data. Answer: `StreamDeleted`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct DeleteStream {
    pub scope: String,
    pub stream: String,
}

/// Asks for a segment's recent append rates (what auto-scaling measures).
/// Answer: `SegmentLoad` or `NoSuchSegment`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct GetSegmentLoad {
    pub segment: String,
}

/// The scope was created.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ScopeCreated {}

/// The scope was deleted.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ScopeDeleted {}

/// Every scope, sorted.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ScopeList {
    pub scopes: Vec<String>,
}

/// Every stream of a scope, sorted.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamList {
    pub streams: Vec<String>,
}

/// The stream exists and takes writes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamCreated {}

/// Where a stream is in its life.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum StreamPhase {
    Creating,
    Active,
    Scaling,
    Truncating,
    Sealing,
    Sealed,
    Deleting,
}

/// One segment of a stream, as a description lists it.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamSegment {
    pub number: u64,
    pub range: KeyRange,
    /// The epoch that created it.
    pub created_epoch: u32,
    /// The epoch whose start sealed it; `None` while current.
    pub sealed_epoch: Option<u32>,
    /// The sealed segments it replaced.
    pub predecessors: Vec<u64>,
    /// Bytes written (the segment's length) and where reads may start.
    pub length: u64,
    pub start_offset: u64,
}

/// One epoch: the segments current from `at_ms` on.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct EpochSegments {
    pub at_ms: u64,
    pub segments: Vec<u64>,
}

/// Everything the controller knows about a stream.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamDescription {
    pub config: StreamConfig,
    pub phase: StreamPhase,
    /// The current epoch (`epochs.len() - 1`).
    pub epoch: u32,
    pub created_unix_ms: u64,
    /// Every segment not dropped by truncation, by number.
    pub segments: Vec<StreamSegment>,
    /// Every epoch, oldest first.
    pub epochs: Vec<EpochSegments>,
    /// The cut of the last completed truncation (empty: none).
    pub truncation: Vec<CutPosition>,
}

/// The configuration was replaced.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamUpdated {}

/// The scale completed: a new epoch with these new segments.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamScaled {
    pub epoch: u32,
    pub new_segments: Vec<u64>,
}

/// The truncation completed.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamTruncated {}

/// The stream is sealed.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamSealed {}

/// The stream and its data are gone.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamDeleted {}

/// A segment's append rates, averaged over the node's scaling window.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct SegmentLoad {
    /// Events per second, times 1000.
    pub milli_events_per_s: u64,
    pub bytes_per_s: u64,
    /// The averaging window, milliseconds.
    pub window_ms: u64,
}

/// Outcome: the scope does not exist.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct NoSuchScope {
    pub scope: String,
}

/// Outcome: the stream does not exist.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct NoSuchStream {
    pub scope: String,
    pub stream: String,
}

/// Outcome: `CreateScope` found the scope already there.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct ScopeExists {
    pub scope: String,
}

/// Outcome: `CreateStream` found the stream already there.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamExists {
    pub scope: String,
    pub stream: String,
}

fn check_scope(scope: &rkyv::string::ArchivedString) -> Result<(), FieldError> {
    validate_scope_name(scope.as_str()).map_err(|source| FieldError::StreamName {
        field: "scope",
        source,
    })
}

/// Checks a request's scope and stream names.
pub(super) fn check_stream_names(
    scope: &rkyv::string::ArchivedString,
    stream: &rkyv::string::ArchivedString,
) -> Result<(), FieldError> {
    check_scope(scope)?;
    validate_stream_name(stream.as_str()).map_err(|source| FieldError::StreamName {
        field: "stream",
        source,
    })
}

fn check_config(config: &rkyv::Archived<StreamConfig>) -> Result<(), FieldError> {
    let config: StreamConfig = rkyv::deserialize::<StreamConfig, rkyv::rancor::Error>(config)
        .map_err(|_| FieldError::invalid("config", "does not deserialize"))?;
    config.validate().map_err(FieldError::Config)
}

/// Implements [`Validate`] for messages whose rule is a valid scope name.
macro_rules! validate_scope_only {
    ($($ty:ty),* $(,)?) => {$(
        impl Validate for $ty {
            fn validate(&self) -> Result<(), FieldError> {
                check_scope(&self.scope)
            }
        }
    )*};
}

/// Implements [`Validate`] for messages whose rule is valid scope and
/// stream names.
macro_rules! validate_stream_only {
    ($($ty:ty),* $(,)?) => {$(
        impl Validate for $ty {
            fn validate(&self) -> Result<(), FieldError> {
                check_stream_names(&self.scope, &self.stream)
            }
        }
    )*};
}

validate_scope_only!(
    ArchivedCreateScope,
    ArchivedDeleteScope,
    ArchivedListStreams,
    ArchivedNoSuchScope,
    ArchivedScopeExists
);

validate_stream_only!(
    ArchivedDescribeStream,
    ArchivedSealStream,
    ArchivedDeleteStream,
    ArchivedNoSuchStream,
    ArchivedStreamExists
);

impl Validate for ArchivedCreateStream {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)?;
        check_config(&self.config)
    }
}

impl Validate for ArchivedUpdateStream {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)?;
        check_config(&self.config)
    }
}

impl Validate for ArchivedScaleStream {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)?;
        let most = MAX_STREAM_SEGMENTS as usize;
        if self.seal.is_empty() || self.seal.len() > most {
            return Err(FieldError::invalid(
                "seal",
                "must name 1..=MAX_STREAM_SEGMENTS segments",
            ));
        }
        if self.ranges.is_empty() || self.ranges.len() > most {
            return Err(FieldError::invalid(
                "ranges",
                "must hold 1..=MAX_STREAM_SEGMENTS ranges",
            ));
        }
        if self
            .ranges
            .iter()
            .any(|r| r.start.to_native() > r.end.to_native())
        {
            return Err(FieldError::invalid(
                "ranges",
                "a range starts after its end",
            ));
        }
        Ok(())
    }
}

impl Validate for ArchivedTruncateStream {
    fn validate(&self) -> Result<(), FieldError> {
        check_stream_names(&self.scope, &self.stream)?;
        if self.positions.is_empty() || self.positions.len() > MAX_STREAM_SEGMENTS as usize {
            return Err(FieldError::invalid(
                "positions",
                "must name 1..=MAX_STREAM_SEGMENTS segments",
            ));
        }
        Ok(())
    }
}

impl Validate for ArchivedGetSegmentLoad {
    fn validate(&self) -> Result<(), FieldError> {
        super::check_name("segment", &self.segment)
    }
}

no_field_rules!(
    ArchivedListScopes,
    ArchivedScopeCreated,
    ArchivedScopeDeleted,
    ArchivedScopeList,
    ArchivedStreamList,
    ArchivedStreamCreated,
    ArchivedStreamDescription,
    ArchivedStreamUpdated,
    ArchivedStreamScaled,
    ArchivedStreamTruncated,
    ArchivedStreamSealed,
    ArchivedStreamDeleted,
    ArchivedSegmentLoad
);
