//! The stream model's shared vocabulary: scope and stream names, the
//! routing-key space and its ranges, stream cuts and their text form, and
//! stream configurations. Pure values with validation; the node's
//! controller and the client agree on them through this module.

mod config;
mod cut;
mod keys;
mod names;

pub use config::{ConfigError, MAX_STREAM_SEGMENTS, RetentionPolicy, ScalingPolicy, StreamConfig};
pub use cut::{CutError, StreamCut};
pub use keys::{KeyRange, RangeError, check_cover, key_position, split_evenly};
pub use names::{StreamNameError, segment_name, validate_scope_name, validate_stream_name};
