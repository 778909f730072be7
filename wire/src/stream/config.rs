//! A stream's configuration: how it scales and how long it keeps data.
//!
//! As in Pravega (`../shared/reference/pravega.md` §1, §5): a fixed number
//! of segments, or scaling by event rate or byte rate per segment with a
//! target, a scale factor (how many parts a hot segment splits into) and a
//! minimum number of segments; retention by time or by size, each with a
//! minimum (always kept) and an optional maximum (never kept beyond).

use rkyv::{Archive, Deserialize, Serialize};
use thiserror::Error;

/// The most segments a stream may have in one epoch.
pub const MAX_STREAM_SEGMENTS: u32 = 1024;

#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum ScalingPolicy {
    /// Always this many segments; scaling only when asked.
    Fixed { segments: u32 },
    /// Split a segment above `target_events_per_s`, merge neighbours well
    /// below it; never fewer than `min_segments`.
    ByEventRate {
        target_events_per_s: u32,
        scale_factor: u32,
        min_segments: u32,
    },
    /// As `ByEventRate`, in KiB/s.
    ByByteRate {
        target_kib_per_s: u32,
        scale_factor: u32,
        min_segments: u32,
    },
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum RetentionPolicy {
    /// Keep everything until truncated explicitly.
    None,
    /// Keep at least `min_ms` of history; truncate what is older than
    /// `max_ms`, if given.
    ByTime { min_ms: u64, max_ms: Option<u64> },
    /// Keep at least `min_bytes`; truncate beyond `max_bytes`, if given.
    BySize {
        min_bytes: u64,
        max_bytes: Option<u64>,
    },
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct StreamConfig {
    pub scaling: ScalingPolicy,
    pub retention: RetentionPolicy,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("a stream has 1 to {MAX_STREAM_SEGMENTS} segments, not {0}")]
    Segments(u32),
    #[error("the scaling target must be positive")]
    Target,
    #[error("the scale factor splits a segment into 2 to 16 parts, not {0}")]
    ScaleFactor(u32),
    #[error("retention: the maximum ({max}) is below the minimum ({min})")]
    RetentionBounds { min: u64, max: u64 },
}

impl StreamConfig {
    /// A stream of `segments` fixed segments that keeps everything.
    pub fn fixed(segments: u32) -> Self {
        Self {
            scaling: ScalingPolicy::Fixed { segments },
            retention: RetentionPolicy::None,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.scaling.validate()?;
        self.retention.validate()
    }
}

impl ScalingPolicy {
    /// The segments a new stream starts with.
    pub fn initial_segments(&self) -> u32 {
        match *self {
            ScalingPolicy::Fixed { segments } => segments,
            ScalingPolicy::ByEventRate { min_segments, .. }
            | ScalingPolicy::ByByteRate { min_segments, .. } => min_segments,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let segments = self.initial_segments();
        if segments == 0 || segments > MAX_STREAM_SEGMENTS {
            return Err(ConfigError::Segments(segments));
        }
        match *self {
            ScalingPolicy::Fixed { .. } => Ok(()),
            ScalingPolicy::ByEventRate {
                target_events_per_s: target,
                scale_factor,
                ..
            }
            | ScalingPolicy::ByByteRate {
                target_kib_per_s: target,
                scale_factor,
                ..
            } => {
                if target == 0 {
                    return Err(ConfigError::Target);
                }
                if !(2..=16).contains(&scale_factor) {
                    return Err(ConfigError::ScaleFactor(scale_factor));
                }
                Ok(())
            }
        }
    }
}

impl RetentionPolicy {
    fn validate(&self) -> Result<(), ConfigError> {
        let (min, max) = match *self {
            RetentionPolicy::None => return Ok(()),
            RetentionPolicy::ByTime { min_ms, max_ms } => (min_ms, max_ms),
            RetentionPolicy::BySize {
                min_bytes,
                max_bytes,
            } => (min_bytes, max_bytes),
        };
        match max {
            Some(max) if max < min => Err(ConfigError::RetentionBounds { min, max }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_are_checked() {
        assert_eq!(StreamConfig::fixed(16).validate(), Ok(()));
        assert_eq!(
            StreamConfig::fixed(0).validate(),
            Err(ConfigError::Segments(0))
        );
        assert_eq!(
            StreamConfig::fixed(MAX_STREAM_SEGMENTS + 1).validate(),
            Err(ConfigError::Segments(MAX_STREAM_SEGMENTS + 1))
        );
        let by_rate = |target, factor, min| StreamConfig {
            scaling: ScalingPolicy::ByEventRate {
                target_events_per_s: target,
                scale_factor: factor,
                min_segments: min,
            },
            retention: RetentionPolicy::None,
        };
        assert_eq!(by_rate(1000, 2, 1).validate(), Ok(()));
        assert_eq!(by_rate(0, 2, 1).validate(), Err(ConfigError::Target));
        assert_eq!(
            by_rate(10, 1, 1).validate(),
            Err(ConfigError::ScaleFactor(1))
        );
        assert_eq!(by_rate(10, 2, 0).validate(), Err(ConfigError::Segments(0)));
        let retention = |retention| StreamConfig {
            scaling: ScalingPolicy::Fixed { segments: 1 },
            retention,
        };
        let bad = retention(RetentionPolicy::BySize {
            min_bytes: 10,
            max_bytes: Some(5),
        });
        assert_eq!(
            bad.validate(),
            Err(ConfigError::RetentionBounds { min: 10, max: 5 })
        );
        let good = retention(RetentionPolicy::ByTime {
            min_ms: 10,
            max_ms: None,
        });
        assert_eq!(good.validate(), Ok(()));
    }

    #[test]
    fn configurations_round_trip_through_rkyv() {
        let config = StreamConfig {
            scaling: ScalingPolicy::ByByteRate {
                target_kib_per_s: 1024,
                scale_factor: 2,
                min_segments: 4,
            },
            retention: RetentionPolicy::BySize {
                min_bytes: 1 << 30,
                max_bytes: Some(2 << 30),
            },
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&config).expect("encodes");
        let back: StreamConfig =
            rkyv::from_bytes::<StreamConfig, rkyv::rancor::Error>(&bytes).expect("decodes");
        assert_eq!(back, config);
    }
}
