//! Workload definitions: what `append` and `compare` offer the system under
//! test. A workload comes from a TOML file, from a built-in name, or from
//! the defaults, and each flag given on the command line overrides the
//! matching field.
//!
//! ```toml
//! name = "mixed"
//! description = "small events with a few large ones"
//! producers = 2                 # sending threads, each with its own connections
//! segments = 8                  # segments (Redis: stream keys, NATS: subjects)
//! event_bytes = "100:70,1KiB:25,64KiB:5"   # or 1024, or "100..2000"
//! rate = 2000                   # events/s over all producers, or "max"
//! seconds = 10                  # measured
//! warmup = 1                    # run before measuring, not counted
//! window = 4096                 # events in flight at most (rate = "max")
//! stream = "bench/mixed"        # Spate only: through the event writer to this stream
//! keys = 0                      # with stream: routing keys, round robin (0: unkeyed)
//! consumers = 2                 # with stream: readers of one reader group (0: none)
//! consumer_mode = "tail"        # or "catch-up"
//! txn_events = 0                # with stream: events per transaction (0: none)
//! ```
//!
//! Consumers read the stream the producers write, as readers of one reader
//! group (Spate only, so `stream` is required). `tail`: they read while
//! the producers write, each event stamped with its intended send time, and
//! the report adds delivery latency (intended send time to delivery) and
//! what they read per second. `catch-up`: the producers write first, then
//! the consumers read the stream from its head to where the writing ended
//! as fast as they can, and the report adds the read MB/s and its ratio to
//! the floor's sequential read.
//!
//! With `txn_events = N` each send is a transaction of N events on the
//! stream (begin, N writes, commit; `spate-bench txn`, Spate only): `rate`
//! and `window` then count transactions, and latency runs from a
//! transaction's intended start to its commit's answer.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The most readers a workload's group may have (each is a thread).
pub const MAX_CONSUMERS: usize = 256;

/// The most events a workload's transactions may hold.
pub const MAX_TXN_EVENTS: usize = 100_000;

/// One workload, complete: every field has a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// A short name for reports (a built-in's name, a file's stem, or `custom`).
    pub name: String,
    /// One line saying what the workload stands for.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Sending threads. Each paces its share of the rate, with its own
    /// connections to the system under test.
    pub producers: usize,
    /// Segments the events are spread over, round robin (Redis: stream keys;
    /// NATS: subjects of one stream).
    pub segments: usize,
    pub event_bytes: EventSize,
    pub rate: Rate,
    /// Measured seconds, after the warm-up.
    pub seconds: f64,
    /// Seconds run before measuring; their events are not counted.
    pub warmup: f64,
    /// Most events in flight at once. At `rate = "max"` this is the load;
    /// at a fixed rate it only bounds memory should the system stall.
    pub window: usize,
    /// Spate only: write events to this stream (`SCOPE/NAME`, created with
    /// `segments` fixed segments if absent) through the event writer,
    /// instead of to bare segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// With `stream`: spread events over this many routing keys, round
    /// robin (0: unkeyed).
    pub keys: u64,
    /// With `stream`: readers of one reader group reading what the
    /// producers write (0: nobody reads).
    pub consumers: usize,
    /// How the consumers read: at the tail while the producers write, or
    /// from the head once they are done.
    pub consumer_mode: ConsumerMode,
    /// With `stream`: events per transaction; each send is then one
    /// transaction (begin, this many writes, commit) and `rate` and
    /// `window` count transactions (0: no transactions).
    pub txn_events: usize,
}

/// How a workload's consumers read (`consumer_mode`, `--consumer-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ConsumerMode {
    /// While the producers write, from the stream's tail: delivery latency.
    #[default]
    Tail,
    /// After the producers are done, from the stream's head: read MB/s.
    #[serde(alias = "catchup")]
    #[value(alias = "catchup")]
    CatchUp,
}

impl ConsumerMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tail => "tail",
            Self::CatchUp => "catch-up",
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            name: "custom".into(),
            description: String::new(),
            producers: 1,
            segments: 1,
            event_bytes: EventSize::Fixed(1024),
            rate: Rate::PerSecond(1000.0),
            seconds: 10.0,
            warmup: 1.0,
            window: 4096,
            stream: None,
            keys: 0,
            consumers: 0,
            consumer_mode: ConsumerMode::Tail,
            txn_events: 0,
        }
    }
}

/// The built-in workloads, as TOML (`spate-bench workloads --show NAME`
/// prints one, a starting point for a file of one's own).
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "fixed-1kb-1000",
        r#"name = "fixed-1kb-1000"
description = "1 KiB events at 1,000/s on one segment: the ack latency of a steady, light load"
producers = 1
segments = 1
event_bytes = 1024
rate = 1000
seconds = 10
warmup = 1
"#,
    ),
    (
        "omb-1t-100p-1kb",
        r#"name = "omb-1t-100p-1kb"
description = "OpenMessaging Benchmark's 1 topic x 100 partitions x 1 KiB: one producer at 50,000 events/s over 100 segments (OMB runs it 15 minutes)"
producers = 1
segments = 100
event_bytes = 1024
rate = 50000
seconds = 60
warmup = 5
"#,
    ),
    (
        "max-rate-100b",
        r#"name = "max-rate-100b"
description = "100 B events as fast as they are acknowledged, 4096 in flight over 8 segments: the most small durable events per second"
producers = 1
segments = 8
event_bytes = 100
rate = "max"
window = 4096
seconds = 20
warmup = 2
"#,
    ),
    (
        "mixed-sizes",
        r#"name = "mixed-sizes"
description = "mostly small events with some large ones (70% 100 B, 25% 1 KiB, 5% 64 KiB) at 2,000/s over 4 segments"
producers = 2
segments = 4
event_bytes = "100:70,1KiB:25,64KiB:5"
rate = 2000
seconds = 10
warmup = 1
"#,
    ),
    (
        "tail-2-consumers",
        r#"name = "tail-2-consumers"
description = "1 KiB events at 2,000/s through the event writer to a stream of 4 segments, read at once by 2 consumers of a reader group: delivery latency beside ack latency"
producers = 1
segments = 4
event_bytes = 1024
rate = 2000
seconds = 10
warmup = 1
stream = "bench/tail-2-consumers"
consumers = 2
consumer_mode = "tail"
"#,
    ),
    (
        "catchup-4-consumers",
        r#"name = "catchup-4-consumers"
description = "4 KiB events at 25,000/s (about 1 GB in 10 s) to a stream of 4 segments, then read from its head by 4 consumers of a reader group: read MB/s against the floor's sequential read"
producers = 2
segments = 4
event_bytes = 4096
rate = 25000
seconds = 10
warmup = 0
stream = "bench/catchup-4-consumers"
consumers = 4
consumer_mode = "catch-up"
"#,
    ),
    (
        "txn-10x1kb-100",
        r#"name = "txn-10x1kb-100"
description = "transactions of 10 x 1 KiB events at 100/s from 2 producers over a stream of 4 segments: commit latency from each transaction's intended start (spate-bench txn or append)"
producers = 2
segments = 4
event_bytes = 1024
rate = 100
seconds = 10
warmup = 1
stream = "bench/txn-10x1kb-100"
keys = 64
txn_events = 10
"#,
    ),
];

impl Workload {
    /// Parses a workload file's text. `name` is used when the file has none.
    pub fn from_toml(text: &str, name: &str) -> anyhow::Result<Self> {
        let mut workload: Workload = toml::from_str(text)?;
        if workload.name == Workload::default().name {
            name.clone_into(&mut workload.name);
        }
        workload.validate()?;
        Ok(workload)
    }

    /// A built-in workload by name.
    pub fn builtin(name: &str) -> Option<anyhow::Result<Self>> {
        BUILTINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Self::from_toml(text, n).with_context(|| format!("built-in {n}")))
    }

    /// `spec` names a file if one exists there, else a built-in workload.
    pub fn load(spec: &str) -> anyhow::Result<Self> {
        let path = Path::new(spec);
        if path.is_file() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the workload file {spec}"))?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(spec);
            return Self::from_toml(&text, stem)
                .with_context(|| format!("in the workload file {spec}"));
        }
        match Self::builtin(spec) {
            Some(workload) => workload,
            None => {
                let names: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
                bail!(
                    "--workload {spec}: no such file, and no built-in workload of that name (built-ins: {})",
                    names.join(", ")
                )
            }
        }
    }

    /// Refuses settings that cannot run.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.producers == 0 || self.segments == 0 {
            bail!("producers and segments must be at least 1");
        }
        if self.window == 0 {
            bail!("window must be at least 1");
        }
        if !(self.seconds > 0.0 && self.seconds.is_finite()) {
            bail!("seconds must be a positive number, not {}", self.seconds);
        }
        if !(self.warmup >= 0.0 && self.warmup.is_finite()) {
            bail!("warmup must be zero or more seconds, not {}", self.warmup);
        }
        self.event_bytes.validate()?;
        if self.txn_events > 0 {
            if self.stream.is_none() {
                bail!(
                    "transactions are a stream's: txn_events needs stream = \"SCOPE/NAME\" \
                     (--stream; Spate only)"
                );
            }
            if self.txn_events > MAX_TXN_EVENTS {
                bail!(
                    "txn_events: at most {MAX_TXN_EVENTS} events per transaction, not {}",
                    self.txn_events
                );
            }
        }
        if self.consumers > 0 {
            if self.stream.is_none() {
                bail!(
                    "consumers read through a reader group: they need stream = \"SCOPE/NAME\" \
                     (--stream; Spate only)"
                );
            }
            if self.consumers > MAX_CONSUMERS {
                bail!("consumers: at most {MAX_CONSUMERS}, not {}", self.consumers);
            }
            if self.consumer_mode == ConsumerMode::Tail
                && self.event_bytes.min() < crate::read::STAMP_BYTES
            {
                bail!(
                    "tail consumers stamp each event with its send time: event_bytes must be at \
                     least {} bytes",
                    crate::read::STAMP_BYTES
                );
            }
        }
        Ok(())
    }

    /// The fixed rate in events/s, or `None` for as fast as acknowledged.
    pub fn rate_per_s(&self) -> Option<f64> {
        match self.rate {
            Rate::PerSecond(r) => Some(r),
            Rate::Max => None,
        }
    }
}

/// Events per second over all producers, or as fast as acknowledgements
/// come back (within the window). `0` also means `max`, as it did before
/// `max` existed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    Max,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("max") {
            return Ok(Self::Max);
        }
        let rate: f64 = s
            .replace('_', "")
            .parse()
            .map_err(|_| format!("rate {s:?}: expected events per second or \"max\""))?;
        Self::from_number(rate)
    }
}

impl Rate {
    fn from_number(rate: f64) -> Result<Self, String> {
        if rate == 0.0 {
            Ok(Self::Max)
        } else if rate > 0.0 && rate.is_finite() {
            Ok(Self::PerSecond(rate))
        } else {
            Err(format!(
                "rate {rate}: expected a positive number of events per second or \"max\""
            ))
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PerSecond(r) => write!(f, "{r}/s"),
            Self::Max => f.write_str("max"),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::PerSecond(r) => s.serialize_f64(*r),
            Self::Max => s.serialize_str("max"),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Int(n) => Rate::from_number(n as f64),
            NumberOrText::Float(n) => Rate::from_number(n),
            NumberOrText::Text(s) => s.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// TOML values that may be a number or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Int(i64),
    Float(f64),
    Text(String),
}

/// Size of each event's payload: fixed, uniform between two bounds
/// (inclusive), or drawn from a list of sizes with weights.
///
/// Text form (flag and file alike): `1024`, `1KiB`, `100..2000`,
/// `100:70,1KiB:25,64KiB:5` (size:weight pairs). Sizes take `KiB` and `MiB`.
#[derive(Clone, Debug, PartialEq)]
pub enum EventSize {
    Fixed(usize),
    Uniform { min: usize, max: usize },
    Weighted(Vec<(usize, u32)>),
}

/// The largest event a workload may ask for (the node's own frame limit may
/// be lower, and refuses larger appends with a clear error).
pub const MAX_EVENT_BYTES: usize = 8 << 20;

impl EventSize {
    pub fn min(&self) -> usize {
        match self {
            Self::Fixed(n) => *n,
            Self::Uniform { min, .. } => *min,
            Self::Weighted(sizes) => sizes.iter().map(|(s, _)| *s).min().unwrap_or(0),
        }
    }

    pub fn max(&self) -> usize {
        match self {
            Self::Fixed(n) => *n,
            Self::Uniform { max, .. } => *max,
            Self::Weighted(sizes) => sizes.iter().map(|(s, _)| *s).max().unwrap_or(0),
        }
    }

    /// The expected size of an event.
    pub fn mean(&self) -> f64 {
        match self {
            Self::Fixed(n) => *n as f64,
            Self::Uniform { min, max } => (*min + *max) as f64 / 2.0,
            Self::Weighted(sizes) => {
                let total: f64 = sizes.iter().map(|(_, w)| f64::from(*w)).sum();
                sizes
                    .iter()
                    .map(|(s, w)| *s as f64 * f64::from(*w))
                    .sum::<f64>()
                    / total.max(1.0)
            }
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        match self {
            Self::Weighted(sizes) if sizes.is_empty() => bail!("event_bytes: no sizes listed"),
            Self::Weighted(sizes) if sizes.iter().all(|(_, w)| *w == 0) => {
                bail!("event_bytes: every weight is 0")
            }
            Self::Uniform { min, max } if min > max => {
                bail!("event_bytes: {min}..{max} is empty (min above max)")
            }
            _ => {}
        }
        if self.min() == 0 {
            bail!("event_bytes: events must be at least 1 byte");
        }
        if self.max() > MAX_EVENT_BYTES {
            bail!(
                "event_bytes: {} bytes is over the {MAX_EVENT_BYTES} bytes a workload may ask for",
                self.max()
            );
        }
        Ok(())
    }

    /// Draws one event size.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        match self {
            Self::Fixed(n) => *n,
            Self::Uniform { min, max } => rng.random_range(*min..=*max),
            Self::Weighted(sizes) => {
                let total: u64 = sizes.iter().map(|(_, w)| u64::from(*w)).sum();
                let mut pick = rng.random_range(0..total.max(1));
                for (size, weight) in sizes {
                    let weight = u64::from(*weight);
                    if pick < weight {
                        return *size;
                    }
                    pick -= weight;
                }
                self.max()
            }
        }
    }
}

impl FromStr for EventSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let size = if let Some((min, max)) = s.split_once("..") {
            Self::Uniform {
                min: parse_bytes(min)?,
                max: parse_bytes(max.trim_start_matches('=')).map_err(|e| e.to_string())?,
            }
        } else if s.contains(':') || s.contains(',') {
            let sizes = s
                .split(',')
                .map(|pair| {
                    let (size, weight) = pair
                        .split_once(':')
                        .ok_or_else(|| format!("{pair:?}: expected SIZE:WEIGHT"))?;
                    let weight = weight
                        .trim()
                        .parse()
                        .map_err(|_| format!("{pair:?}: the weight is not a whole number"))?;
                    Ok((parse_bytes(size)?, weight))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Self::Weighted(sizes)
        } else {
            Self::Fixed(parse_bytes(s)?)
        };
        size.validate().map_err(|e| e.to_string())?;
        Ok(size)
    }
}

/// `1024`, `1KiB`, `64 KiB`, `1MiB`, `100B`.
fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?}: expected a size in bytes (1024, 1KiB, 1MiB)"))?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        other => return Err(format!("{s:?}: unknown unit {other:?} (B, KiB, MiB)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s:?} is too large"))
}

impl fmt::Display for EventSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Uniform { min, max } => write!(f, "{min}..{max}"),
            Self::Weighted(sizes) => {
                for (i, (size, weight)) in sizes.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep}{size}:{weight}")?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for EventSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Fixed(n) => s.serialize_u64(*n as u64),
            _ => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for EventSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Int(n) => usize::try_from(n)
                .map_err(|_| format!("event_bytes {n}: must be positive"))
                .and_then(|n| {
                    let size = Self::Fixed(n);
                    size.validate().map_err(|e| e.to_string())?;
                    Ok(size)
                }),
            NumberOrText::Float(n) => Err(format!("event_bytes {n}: expected whole bytes")),
            NumberOrText::Text(s) => s.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The workload flags shared by `append` and `compare`: `--workload` picks a
/// file or a built-in, and each other flag given overrides its field.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct WorkloadFlags {
    /// A workload file (TOML) or a built-in workload's name
    /// (`spate-bench workloads` lists them). Flags below override it.
    #[arg(long, value_name = "FILE|NAME")]
    pub workload: Option<String>,
    /// Sending threads, each pacing its share of the rate [default: 1].
    #[arg(long)]
    pub producers: Option<usize>,
    /// Segments to spread the events over (one writer per producer and
    /// segment) [default: 1].
    #[arg(long)]
    pub segments: Option<usize>,
    /// Event size: 1024, 1KiB, MIN..MAX (uniform), or SIZE:WEIGHT,...
    /// [default: 1024].
    #[arg(long, value_name = "SIZE|MIN..MAX|SIZE:WEIGHT,...")]
    pub event_bytes: Option<EventSize>,
    /// Events per second over all producers (transactions per second with
    /// --txn-events), or `max` (`0` also means max): as fast as
    /// acknowledged with up to --window in flight [default: 1000].
    #[arg(long, value_name = "N|max")]
    pub rate: Option<Rate>,
    /// Measured seconds, after the warm-up [default: 10].
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Seconds run before measuring [default: 1].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Most events (transactions, with --txn-events; at most 256) in
    /// flight: the load at --rate max [default: 4096].
    #[arg(long)]
    pub window: Option<usize>,
    /// Spate only: write to this stream (SCOPE/NAME; created with --segments
    /// fixed segments if absent) through the event writer.
    #[arg(long, value_name = "SCOPE/NAME")]
    pub stream: Option<String>,
    /// With --stream: spread events over this many routing keys [default: 0,
    /// unkeyed].
    #[arg(long)]
    pub keys: Option<u64>,
    /// With --stream: readers of one reader group reading what the
    /// producers write [default: 0, nobody reads].
    #[arg(long)]
    pub consumers: Option<usize>,
    /// How --consumers read: `tail` (while writing: delivery latency) or
    /// `catch-up` (after writing, from the head: read MB/s) [default: tail].
    #[arg(long, value_enum, value_name = "tail|catch-up")]
    pub consumer_mode: Option<ConsumerMode>,
    /// With --stream: events per transaction; --rate and --window then
    /// count transactions [default: 0, no transactions; `txn`: 10].
    #[arg(long, value_name = "N")]
    pub txn_events: Option<usize>,
}

impl WorkloadFlags {
    /// The workload these flags describe: the file or built-in (or the
    /// defaults), with every flag given applied over it.
    pub fn resolve(&self) -> anyhow::Result<Workload> {
        let mut workload = match &self.workload {
            Some(spec) => Workload::load(spec)?,
            None => Workload::default(),
        };
        let mut reshaped = false;
        if let Some(v) = self.producers {
            workload.producers = v;
            reshaped = true;
        }
        if let Some(v) = self.segments {
            workload.segments = v;
            reshaped = true;
        }
        if let Some(v) = &self.event_bytes {
            workload.event_bytes = v.clone();
            reshaped = true;
        }
        if let Some(v) = self.rate {
            workload.rate = v;
            reshaped = true;
        }
        if let Some(v) = self.window {
            workload.window = v;
            reshaped = true;
        }
        if let Some(v) = &self.stream {
            workload.stream = Some(v.clone());
            reshaped = true;
        }
        if let Some(v) = self.keys {
            workload.keys = v;
            reshaped = true;
        }
        if let Some(v) = self.consumers {
            workload.consumers = v;
            reshaped = true;
        }
        if let Some(v) = self.consumer_mode {
            workload.consumer_mode = v;
            reshaped = true;
        }
        if let Some(v) = self.txn_events {
            workload.txn_events = v;
            reshaped = true;
        }
        if let Some(v) = self.seconds {
            workload.seconds = v;
        }
        if let Some(v) = self.warmup {
            workload.warmup = v;
        }
        // A different shape is no longer the named workload; a different
        // duration still is.
        if reshaped && self.workload.is_some() {
            workload.name.push('*');
        }
        workload.validate()?;
        Ok(workload)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    #[test]
    fn every_builtin_parses_validates_and_keeps_its_name() {
        for (name, text) in BUILTINS {
            let workload = Workload::from_toml(text, "ignored")
                .unwrap_or_else(|e| panic!("built-in {name}: {e:#}"));
            assert_eq!(workload.name, *name);
            assert!(!workload.description.is_empty(), "{name} says what it is");
            assert!(
                Workload::builtin(name).is_some_and(|w| w.is_ok()),
                "{name} is found by name"
            );
        }
        let omb = Workload::load("omb-1t-100p-1kb").expect("the OMB shape");
        assert_eq!(omb.segments, 100);
        assert_eq!(omb.event_bytes, EventSize::Fixed(1024));
        assert_eq!(omb.rate, Rate::PerSecond(50_000.0));
        let tail = Workload::load("tail-2-consumers").expect("a tail-consumer shape");
        assert_eq!(
            (tail.consumers, tail.consumer_mode),
            (2, ConsumerMode::Tail)
        );
        let catchup = Workload::load("catchup-4-consumers").expect("a catch-up shape");
        assert_eq!(
            (catchup.consumers, catchup.consumer_mode),
            (4, ConsumerMode::CatchUp)
        );
        let txn = Workload::load("txn-10x1kb-100").expect("a transaction shape");
        assert_eq!((txn.txn_events, txn.keys), (10, 64));
        let max = Workload::load("max-rate-100b").expect("the max-rate shape");
        assert_eq!(max.rate, Rate::Max);
        assert_eq!(max.event_bytes, EventSize::Fixed(100));
    }

    #[test]
    fn a_workload_file_parses_every_field_and_defaults_the_rest() {
        let text = r#"
            producers = 3
            segments = 12
            event_bytes = "100..2000"
            rate = 2500.5
            seconds = 4
        "#;
        let workload = Workload::from_toml(text, "mine").expect("parses");
        assert_eq!(
            workload,
            Workload {
                name: "mine".into(),
                producers: 3,
                segments: 12,
                event_bytes: EventSize::Uniform {
                    min: 100,
                    max: 2000
                },
                rate: Rate::PerSecond(2500.5),
                seconds: 4.0,
                ..Workload::default()
            }
        );
        let weighted = Workload::from_toml(
            "event_bytes = \"100:3, 1KiB:1\"\nrate = \"max\"\nwindow = 64",
            "w",
        )
        .expect("parses");
        assert_eq!(
            weighted.event_bytes,
            EventSize::Weighted(vec![(100, 3), (1024, 1)])
        );
        assert_eq!(weighted.rate, Rate::Max);
        assert_eq!(weighted.window, 64);
        assert_eq!(
            Workload::from_toml("rate = 0", "z").expect("parses").rate,
            Rate::Max
        );
    }

    #[test]
    fn bad_workload_files_say_what_is_wrong() {
        for (text, expected) in [
            ("producer = 2", "unknown field"),
            ("segments = 0", "at least 1"),
            ("event_bytes = \"2000..100\"", "min above max"),
            ("event_bytes = \"100:0\"", "every weight is 0"),
            ("event_bytes = 0", "at least 1 byte"),
            ("event_bytes = \"1GiB\"", "unknown unit"),
            ("rate = -5", "positive"),
            ("rate = \"fast\"", "max"),
            ("seconds = 0", "seconds"),
            ("consumers = 2", "need stream"),
            (
                "stream = \"a/b\"\nconsumers = 1\nevent_bytes = 4",
                "at least 8 bytes",
            ),
            (
                "stream = \"a/b\"\nconsumers = 1\nconsumer_mode = \"sideways\"",
                "unknown variant",
            ),
            ("stream = \"a/b\"\nconsumers = 100000", "at most"),
            ("txn_events = 10", "needs stream"),
            ("stream = \"a/b\"\ntxn_events = 1000000", "at most"),
            ("txn_events = -1", "invalid value"),
        ] {
            let error = Workload::from_toml(text, "bad").expect_err(text);
            let message = format!("{error:#}");
            assert!(message.contains(expected), "{text}: {message}");
        }
        let error = Workload::load("no-such-workload").expect_err("unknown name");
        assert!(format!("{error}").contains("omb-1t-100p-1kb"), "{error}");
    }

    #[test]
    fn flags_override_the_file_and_mark_a_changed_shape() {
        let flags = WorkloadFlags {
            workload: Some("omb-1t-100p-1kb".into()),
            seconds: Some(2.0),
            warmup: Some(0.0),
            ..WorkloadFlags::default()
        };
        let workload = flags.resolve().expect("resolves");
        assert_eq!(workload.name, "omb-1t-100p-1kb", "duration keeps the name");
        assert_eq!((workload.seconds, workload.warmup), (2.0, 0.0));
        assert_eq!(workload.segments, 100, "the rest comes from the built-in");

        let flags = WorkloadFlags {
            workload: Some("omb-1t-100p-1kb".into()),
            rate: Some("max".parse().expect("max")),
            event_bytes: Some("1KiB..4KiB".parse().expect("range")),
            segments: Some(3),
            producers: Some(2),
            window: Some(10),
            ..WorkloadFlags::default()
        };
        let workload = flags.resolve().expect("resolves");
        assert_eq!(workload.name, "omb-1t-100p-1kb*");
        assert_eq!(workload.rate, Rate::Max);
        assert_eq!(
            workload.event_bytes,
            EventSize::Uniform {
                min: 1024,
                max: 4096
            }
        );
        assert_eq!((workload.segments, workload.producers), (3, 2));
        assert_eq!(workload.window, 10);

        let defaults = WorkloadFlags::default().resolve().expect("defaults");
        assert_eq!(defaults, Workload::default());
    }

    #[test]
    fn consumers_come_from_the_file_or_the_flags() {
        let text = "stream = \"bench/c\"\nconsumers = 3\nconsumer_mode = \"catch-up\"";
        let workload = Workload::from_toml(text, "c").expect("parses");
        assert_eq!(workload.consumers, 3);
        assert_eq!(workload.consumer_mode, ConsumerMode::CatchUp);
        let alias = Workload::from_toml(
            "stream = \"bench/c\"\nconsumers = 1\nconsumer_mode = \"catchup\"",
            "c",
        )
        .expect("the alias parses");
        assert_eq!(alias.consumer_mode, ConsumerMode::CatchUp);
        let tail = Workload::from_toml("stream = \"bench/c\"\nconsumers = 1", "t").expect("tail");
        assert_eq!(tail.consumer_mode, ConsumerMode::Tail, "tail by default");
        // Catch-up consumers read whatever was written: no stamp needed.
        Workload::from_toml(
            "stream = \"a/b\"\nconsumers = 1\nconsumer_mode = \"catch-up\"\nevent_bytes = 1",
            "tiny",
        )
        .expect("1-byte events read from the head");

        let flags = WorkloadFlags {
            workload: Some("tail-2-consumers".into()),
            consumers: Some(4),
            consumer_mode: Some(ConsumerMode::CatchUp),
            ..WorkloadFlags::default()
        };
        let workload = flags.resolve().expect("resolves");
        assert_eq!(workload.name, "tail-2-consumers*");
        assert_eq!(
            (workload.consumers, workload.consumer_mode),
            (4, ConsumerMode::CatchUp)
        );
        assert_eq!(workload.stream.as_deref(), Some("bench/tail-2-consumers"));
        let flags = WorkloadFlags {
            consumers: Some(1),
            ..WorkloadFlags::default()
        };
        let error = flags.resolve().expect_err("no stream");
        assert!(format!("{error}").contains("--stream"), "{error}");
    }

    #[test]
    fn transactions_come_from_the_file_or_the_flags() {
        let workload =
            Workload::from_toml("stream = \"bench/t\"\ntxn_events = 25\nrate = 100", "t")
                .expect("parses");
        assert_eq!(workload.txn_events, 25);
        assert_eq!(
            Workload::default().txn_events,
            0,
            "no transactions by default"
        );
        let flags = WorkloadFlags {
            stream: Some("bench/t".into()),
            txn_events: Some(7),
            ..WorkloadFlags::default()
        };
        assert_eq!(flags.resolve().expect("resolves").txn_events, 7);
    }

    #[test]
    fn a_workload_file_on_disk_is_found_by_path() {
        let path =
            std::env::temp_dir().join(format!("spate-bench-spec-{}.toml", std::process::id()));
        std::fs::write(&path, "segments = 7\nrate = 100\n").expect("write");
        let workload = Workload::load(path.to_str().expect("utf-8 path"));
        let _ = std::fs::remove_file(&path);
        let workload = workload.expect("loads");
        assert_eq!(workload.segments, 7);
        assert!(
            workload.name.starts_with("spate-bench-spec-"),
            "{}",
            workload.name
        );
    }

    #[test]
    fn sampled_sizes_stay_within_their_bounds_and_follow_the_weights() {
        let mut rng = SmallRng::seed_from_u64(7);
        let uniform: EventSize = "100..2000".parse().expect("uniform");
        let mut seen = (usize::MAX, 0);
        for _ in 0..100_000 {
            let n = uniform.sample(&mut rng);
            assert!((100..=2000).contains(&n), "{n}");
            seen = (seen.0.min(n), seen.1.max(n));
        }
        assert_eq!(seen, (100, 2000), "both bounds are reachable");

        let weighted: EventSize = "100:70,1KiB:25,64KiB:5".parse().expect("weighted");
        let mut counts = [0u32; 3];
        for _ in 0..100_000 {
            match weighted.sample(&mut rng) {
                100 => counts[0] += 1,
                1024 => counts[1] += 1,
                65536 => counts[2] += 1,
                other => panic!("{other} is not a listed size"),
            }
        }
        // Loose bounds: a seeded generator, far from any edge.
        assert!((65_000..75_000).contains(&counts[0]), "{counts:?}");
        assert!((20_000..30_000).contains(&counts[1]), "{counts:?}");
        assert!((3_000..7_000).contains(&counts[2]), "{counts:?}");
        assert_eq!(weighted.min(), 100);
        assert_eq!(weighted.max(), 65536);

        let zero_weight: EventSize = "10:0,20:1".parse().expect("one zero weight");
        for _ in 0..1000 {
            assert_eq!(zero_weight.sample(&mut rng), 20);
        }
        let fixed = EventSize::Fixed(512);
        assert_eq!(fixed.sample(&mut rng), 512);
        assert_eq!(fixed.mean(), 512.0);
    }

    #[test]
    fn sizes_and_rates_print_as_they_parse() {
        for text in ["1024", "100..2000", "100:70,1024:25,65536:5"] {
            let size: EventSize = text.parse().expect(text);
            assert_eq!(size.to_string(), text);
        }
        assert_eq!("2KiB".parse::<EventSize>(), Ok(EventSize::Fixed(2048)));
        assert_eq!("50_000".parse::<Rate>(), Ok(Rate::PerSecond(50_000.0)));
        assert_eq!("MAX".parse::<Rate>(), Ok(Rate::Max));
        assert!("-1".parse::<Rate>().is_err());
    }
}
