//! A stream configuration from flags: `--segments N` (fixed), or
//! `--scale-events T` / `--scale-kib T` with `--scale-factor` and
//! `--min-segments`; `--retain-time 7d` or `--retain-bytes 10GiB`, with an
//! optional `--retain-max`.

use anyhow::{Context, bail};
use clap::Args;
use spate_wire::stream::{RetentionPolicy, ScalingPolicy, StreamConfig};

#[derive(Args, Clone, Debug, Default)]
pub struct ConfigArgs {
    /// A fixed number of segments (the default: 1).
    #[arg(long, conflicts_with_all = ["scale_events", "scale_kib"])]
    segments: Option<u32>,
    /// Scale by event rate: split a segment above this many events/s.
    #[arg(long, conflicts_with = "scale_kib")]
    scale_events: Option<u32>,
    /// Scale by byte rate: split a segment above this many KiB/s.
    #[arg(long)]
    scale_kib: Option<u32>,
    /// Parts a hot segment splits into (2 to 16).
    #[arg(long, default_value_t = 2)]
    scale_factor: u32,
    /// Fewest segments auto-scaling keeps (and the number a stream starts with).
    #[arg(long, default_value_t = 1)]
    min_segments: u32,
    /// Keep at least this much history: 90s, 30m, 12h, 7d.
    #[arg(long, conflicts_with = "retain_bytes")]
    retain_time: Option<String>,
    /// Keep at least this many bytes: 500MiB, 10GiB, 1TiB (or a plain number).
    #[arg(long)]
    retain_bytes: Option<String>,
    /// Never keep more than this (same unit as the minimum).
    #[arg(long)]
    retain_max: Option<String>,
}

impl ConfigArgs {
    pub fn config(&self) -> anyhow::Result<StreamConfig> {
        let scaling = match (self.segments, self.scale_events, self.scale_kib) {
            (_, Some(target), _) => ScalingPolicy::ByEventRate {
                target_events_per_s: target,
                scale_factor: self.scale_factor,
                min_segments: self.min_segments,
            },
            (_, _, Some(target)) => ScalingPolicy::ByByteRate {
                target_kib_per_s: target,
                scale_factor: self.scale_factor,
                min_segments: self.min_segments,
            },
            (segments, None, None) => ScalingPolicy::Fixed {
                segments: segments.unwrap_or(1),
            },
        };
        let retention = match (&self.retain_time, &self.retain_bytes) {
            (Some(min), _) => RetentionPolicy::ByTime {
                min_ms: parse_duration_ms(min)?,
                max_ms: self
                    .retain_max
                    .as_deref()
                    .map(parse_duration_ms)
                    .transpose()?,
            },
            (None, Some(min)) => RetentionPolicy::BySize {
                min_bytes: parse_bytes(min)?,
                max_bytes: self.retain_max.as_deref().map(parse_bytes).transpose()?,
            },
            (None, None) => {
                if self.retain_max.is_some() {
                    bail!("--retain-max needs --retain-time or --retain-bytes");
                }
                RetentionPolicy::None
            }
        };
        let config = StreamConfig { scaling, retention };
        config.validate().context("the stream configuration")?;
        Ok(config)
    }
}

/// `90s`, `30m`, `12h`, `7d` or plain milliseconds.
pub fn parse_duration_ms(text: &str) -> anyhow::Result<u64> {
    let (number, unit) = split_unit(text);
    let scale: u64 = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("{text:?}: a duration is a number with ms, s, m, h or d"),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .with_context(|| format!("{text:?} is not a duration"))
}

/// `500MiB`, `10GiB`, `1TiB`, `64KiB` or plain bytes.
pub fn parse_bytes(text: &str) -> anyhow::Result<u64> {
    let (number, unit) = split_unit(text);
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => bail!("{text:?}: a size is a number with B, KiB, MiB, GiB or TiB"),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .with_context(|| format!("{text:?} is not a size"))
}

fn split_unit(text: &str) -> (&str, &str) {
    let at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_duration_ms("90s").expect("parses"), 90_000);
        assert_eq!(parse_duration_ms("7d").expect("parses"), 7 * 86_400_000);
        assert_eq!(parse_bytes("10GiB").expect("parses"), 10 << 30);
        assert_eq!(parse_bytes("4096").expect("parses"), 4096);
        assert!(parse_bytes("10GB").is_err());
        assert!(parse_duration_ms("soon").is_err());
        assert!(parse_bytes("99999999999999TiB").is_err());
    }
}
