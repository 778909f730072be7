//! Stream events ↔ bytes, for the stream's metadata log (a segment).
//!
//! Each event is framed as `len: u32, crc: u32 (CRC32C of the body), body`,
//! so a log can be split into events and a damaged one is an error, never a
//! different event. The body starts with a version byte (1) and a kind
//! byte; all integers are little-endian. `docs/streams.md` has the table.
//!
//! | kind | event | body after the kind byte |
//! |---:|---|---|
//! | 1 | Created | config, `ranges`, `at_ms: u64` |
//! | 2 | Activated | — |
//! | 3 | ScaleStarted | `seal: u32 count × u64`, `ranges`, `at_ms: u64` |
//! | 4 | ScaleCompleted | — |
//! | 5 | ConfigUpdated | config |
//! | 6 | TruncateStarted | `u32 count × (segment: u64, offset: u64)` |
//! | 7 | TruncateCompleted | — |
//! | 8 | SealStarted | — |
//! | 9 | SealCompleted | — |
//! | 10 | DeleteStarted | — |
//! | 11 | TxnBegun | `id: u64, lease_ms: u64` |
//! | 12 | TxnOpened | `id: u64` |
//! | 13 | TxnCommitStarted | `id: u64, at_ms: u64` |
//! | 14 | TxnCommitted | `id: u64` |
//! | 15 | TxnAbortStarted | `id: u64` |
//! | 16 | TxnAborted | `id: u64` |
//! | 17 | Snapshot | the whole state (`snapshot.rs`) |
//!
//! `ranges` is `u32 count × (start: u64, end: u64)`. A config is a scaling
//! tag (1 fixed: `segments: u32`; 2 event rate, 3 byte rate: `target: u32,
//! factor: u32, min: u32`) then a retention tag (0 none; 1 time, 2 size:
//! `min: u64`, `has_max: u8`, `max: u64`).

use spate_wire::stream::{KeyRange, RetentionPolicy, ScalingPolicy, StreamConfig};
use thiserror::Error;

use super::events::StreamEvent;
use crate::le_reader::{LeReader as Reader, ShortRead};

mod snapshot;

pub const EVENT_VERSION: u8 = 1;
/// Bytes before each event's body.
pub const FRAME_HEADER: usize = 8;
/// The largest body: a scale of 1024 ranges fits well inside, and so does
/// the snapshot of a stream with some thousands of segments in its history.
pub const MAX_EVENT_BODY: usize = 4 << 20;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    #[error("stream log ends inside an event at byte {at}")]
    Truncated { at: usize },
    #[error("stream log event at byte {at} fails its checksum")]
    Checksum { at: usize },
    #[error("stream log event at byte {at} is {len} bytes; at most {MAX_EVENT_BODY}")]
    TooLong { at: usize, len: usize },
    #[error("stream log event version {0} is unknown (this build reads {EVENT_VERSION})")]
    Version(u8),
    #[error("stream log event kind {0} is unknown")]
    Kind(u8),
    #[error("stream log event: {0}")]
    Malformed(&'static str),
}

/// Appends the framed event to `out`.
pub fn encode_event(event: &StreamEvent, out: &mut Vec<u8>) {
    let framed = encode_bounded(event).unwrap_or_else(|| panic!("{} over its bound", event.name()));
    out.extend_from_slice(&framed);
}

/// The framed event; `None` if its body is over [`MAX_EVENT_BODY`] (only a
/// snapshot of a very large history can be).
pub fn encode_bounded(event: &StreamEvent) -> Option<Vec<u8>> {
    let mut body = vec![EVENT_VERSION];
    put_event(event, &mut body);
    if body.len() > MAX_EVENT_BODY {
        return None;
    }
    let mut out = Vec::with_capacity(FRAME_HEADER + body.len());
    put_frame(&body, &mut out);
    Some(out)
}

/// Splits a log into its events. A log that ends inside an event is an
/// error: events are appended whole (one conditional append each).
pub fn decode_log(bytes: &[u8]) -> Result<Vec<StreamEvent>, CodecError> {
    split_frames(bytes)?
        .into_iter()
        .map(|(_, body)| decode_body(body))
        .collect()
}

/// Frames `body` (`len, crc, body`) onto `out`; shared by every metadata log.
pub(super) fn put_frame(body: &[u8], out: &mut Vec<u8>) {
    assert!(
        body.len() <= MAX_EVENT_BODY,
        "metadata event over its bound"
    );
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    out.extend_from_slice(body);
}

/// Splits a metadata log into its checked event bodies, each with its byte
/// offset.
pub(super) fn split_frames(bytes: &[u8]) -> Result<Vec<(usize, &[u8])>, CodecError> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + FRAME_HEADER)
            .ok_or(CodecError::Truncated { at })?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_EVENT_BODY {
            return Err(CodecError::TooLong { at, len });
        }
        let body = bytes
            .get(at + FRAME_HEADER..at + FRAME_HEADER + len)
            .ok_or(CodecError::Truncated { at })?;
        if crc32c::crc32c(body) != crc {
            return Err(CodecError::Checksum { at });
        }
        frames.push((at, body));
        at += FRAME_HEADER + len;
    }
    Ok(frames)
}

fn put_event(event: &StreamEvent, out: &mut Vec<u8>) {
    match event {
        StreamEvent::Created {
            config,
            ranges,
            at_ms,
        } => {
            out.push(1);
            put_config(config, out);
            put_ranges(ranges, out);
            out.extend_from_slice(&at_ms.to_le_bytes());
        }
        StreamEvent::Activated => out.push(2),
        StreamEvent::ScaleStarted {
            seal,
            ranges,
            at_ms,
        } => {
            out.push(3);
            put_count(seal.len(), out);
            seal.iter()
                .for_each(|n| out.extend_from_slice(&n.to_le_bytes()));
            put_ranges(ranges, out);
            out.extend_from_slice(&at_ms.to_le_bytes());
        }
        StreamEvent::ScaleCompleted => out.push(4),
        StreamEvent::ConfigUpdated { config } => {
            out.push(5);
            put_config(config, out);
        }
        StreamEvent::TruncateStarted { positions } => {
            out.push(6);
            put_count(positions.len(), out);
            for (segment, offset) in positions {
                out.extend_from_slice(&segment.to_le_bytes());
                out.extend_from_slice(&offset.to_le_bytes());
            }
        }
        StreamEvent::TruncateCompleted => out.push(7),
        StreamEvent::SealStarted => out.push(8),
        StreamEvent::SealCompleted => out.push(9),
        StreamEvent::DeleteStarted => out.push(10),
        StreamEvent::TxnBegun { id, lease_ms } => put_u64s(11, &[*id, *lease_ms], out),
        StreamEvent::TxnOpened { id } => put_u64s(12, &[*id], out),
        StreamEvent::TxnCommitStarted { id, at_ms } => put_u64s(13, &[*id, *at_ms], out),
        StreamEvent::TxnCommitted { id } => put_u64s(14, &[*id], out),
        StreamEvent::TxnAbortStarted { id } => put_u64s(15, &[*id], out),
        StreamEvent::TxnAborted { id } => put_u64s(16, &[*id], out),
        StreamEvent::Snapshot(state) => {
            out.push(17);
            snapshot::put_snapshot(state, out);
        }
    }
}

fn put_u64s(kind: u8, values: &[u64], out: &mut Vec<u8>) {
    out.push(kind);
    values
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
}

fn put_count(n: usize, out: &mut Vec<u8>) {
    let n = u32::try_from(n).unwrap_or_else(|_| panic!("count {n} over u32"));
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_ranges(ranges: &[KeyRange], out: &mut Vec<u8>) {
    put_count(ranges.len(), out);
    for range in ranges {
        out.extend_from_slice(&range.start.to_le_bytes());
        out.extend_from_slice(&range.end.to_le_bytes());
    }
}

fn put_config(config: &StreamConfig, out: &mut Vec<u8>) {
    match config.scaling {
        ScalingPolicy::Fixed { segments } => {
            out.push(1);
            out.extend_from_slice(&segments.to_le_bytes());
        }
        ScalingPolicy::ByEventRate {
            target_events_per_s: target,
            scale_factor,
            min_segments,
        } => put_rate(2, [target, scale_factor, min_segments], out),
        ScalingPolicy::ByByteRate {
            target_kib_per_s: target,
            scale_factor,
            min_segments,
        } => put_rate(3, [target, scale_factor, min_segments], out),
    }
    let (tag, min, max) = match config.retention {
        RetentionPolicy::None => (0, 0, None),
        RetentionPolicy::ByTime { min_ms, max_ms } => (1, min_ms, max_ms),
        RetentionPolicy::BySize {
            min_bytes,
            max_bytes,
        } => (2, min_bytes, max_bytes),
    };
    out.push(tag);
    if tag != 0 {
        out.extend_from_slice(&min.to_le_bytes());
        out.push(u8::from(max.is_some()));
        out.extend_from_slice(&max.unwrap_or(0).to_le_bytes());
    }
}

fn put_rate(tag: u8, values: [u32; 3], out: &mut Vec<u8>) {
    out.push(tag);
    values
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
}

fn decode_body(body: &[u8]) -> Result<StreamEvent, CodecError> {
    let mut r = Reader::new(body);
    let version = r.u8()?;
    if version != EVENT_VERSION {
        return Err(CodecError::Version(version));
    }
    let event = match r.u8()? {
        1 => StreamEvent::Created {
            config: r.config()?,
            ranges: r.ranges()?,
            at_ms: r.u64()?,
        },
        2 => StreamEvent::Activated,
        3 => {
            let count = r.count(8)?;
            let seal = (0..count).map(|_| r.u64()).collect::<Result<_, _>>()?;
            StreamEvent::ScaleStarted {
                seal,
                ranges: r.ranges()?,
                at_ms: r.u64()?,
            }
        }
        4 => StreamEvent::ScaleCompleted,
        5 => StreamEvent::ConfigUpdated {
            config: r.config()?,
        },
        6 => {
            let count = r.count(16)?;
            let positions = (0..count)
                .map(|_| Ok((r.u64()?, r.u64()?)))
                .collect::<Result<_, CodecError>>()?;
            StreamEvent::TruncateStarted { positions }
        }
        7 => StreamEvent::TruncateCompleted,
        8 => StreamEvent::SealStarted,
        9 => StreamEvent::SealCompleted,
        10 => StreamEvent::DeleteStarted,
        11 => StreamEvent::TxnBegun {
            id: r.u64()?,
            lease_ms: r.u64()?,
        },
        12 => StreamEvent::TxnOpened { id: r.u64()? },
        13 => StreamEvent::TxnCommitStarted {
            id: r.u64()?,
            at_ms: r.u64()?,
        },
        14 => StreamEvent::TxnCommitted { id: r.u64()? },
        15 => StreamEvent::TxnAbortStarted { id: r.u64()? },
        16 => StreamEvent::TxnAborted { id: r.u64()? },
        17 => StreamEvent::Snapshot(Box::new(snapshot::get_snapshot(&mut r)?)),
        kind => return Err(CodecError::Kind(kind)),
    };
    if r.remaining() != 0 {
        return Err(CodecError::Malformed("bytes after the event"));
    }
    Ok(event)
}

impl From<ShortRead> for CodecError {
    fn from(_: ShortRead) -> Self {
        CodecError::Malformed("ends inside a field")
    }
}

/// Stream-log fields on top of the shared cursor.
trait LogFields {
    fn count(&mut self, item: usize) -> Result<usize, CodecError>;
    fn ranges(&mut self) -> Result<Vec<KeyRange>, CodecError>;
    fn config(&mut self) -> Result<StreamConfig, CodecError>;
}

impl LogFields for Reader<'_> {
    /// A count of items of `item` bytes, bounded by the bytes left.
    fn count(&mut self, item: usize) -> Result<usize, CodecError> {
        let count = self.u32()? as usize;
        if count > self.remaining() / item {
            return Err(CodecError::Malformed("a count larger than the event"));
        }
        Ok(count)
    }

    fn ranges(&mut self) -> Result<Vec<KeyRange>, CodecError> {
        let count = self.count(16)?;
        (0..count)
            .map(|_| {
                let (start, end) = (self.u64()?, self.u64()?);
                KeyRange::new(start, end).map_err(|_| CodecError::Malformed("an empty key range"))
            })
            .collect()
    }

    fn config(&mut self) -> Result<StreamConfig, CodecError> {
        let scaling = match self.u8()? {
            1 => ScalingPolicy::Fixed {
                segments: self.u32()?,
            },
            2 => ScalingPolicy::ByEventRate {
                target_events_per_s: self.u32()?,
                scale_factor: self.u32()?,
                min_segments: self.u32()?,
            },
            3 => ScalingPolicy::ByByteRate {
                target_kib_per_s: self.u32()?,
                scale_factor: self.u32()?,
                min_segments: self.u32()?,
            },
            _ => return Err(CodecError::Malformed("an unknown scaling policy")),
        };
        let retention = match self.u8()? {
            0 => RetentionPolicy::None,
            tag @ (1 | 2) => {
                let min = self.u64()?;
                let has_max = match self.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(CodecError::Malformed("a flag that is not 0 or 1")),
                };
                let max = self.u64()?;
                let max = has_max.then_some(max);
                if tag == 1 {
                    RetentionPolicy::ByTime {
                        min_ms: min,
                        max_ms: max,
                    }
                } else {
                    RetentionPolicy::BySize {
                        min_bytes: min,
                        max_bytes: max,
                    }
                }
            }
            _ => return Err(CodecError::Malformed("an unknown retention policy")),
        };
        Ok(StreamConfig { scaling, retention })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_wire::stream::split_evenly;

    fn every_kind() -> Vec<StreamEvent> {
        let config = StreamConfig {
            scaling: ScalingPolicy::ByByteRate {
                target_kib_per_s: 1024,
                scale_factor: 3,
                min_segments: 2,
            },
            retention: RetentionPolicy::ByTime {
                min_ms: 60_000,
                max_ms: Some(3_600_000),
            },
        };
        let ranges = split_evenly(KeyRange::ALL, 3).expect("3");
        vec![
            StreamEvent::Created {
                config,
                ranges: ranges.clone(),
                at_ms: 17,
            },
            StreamEvent::Activated,
            StreamEvent::ScaleStarted {
                seal: vec![0, 1],
                ranges,
                at_ms: 99,
            },
            StreamEvent::ScaleCompleted,
            StreamEvent::ConfigUpdated {
                config: StreamConfig::fixed(4),
            },
            StreamEvent::TruncateStarted {
                positions: vec![(2, 10), (3, 0)],
            },
            StreamEvent::TruncateCompleted,
            StreamEvent::SealStarted,
            StreamEvent::SealCompleted,
            StreamEvent::DeleteStarted,
            StreamEvent::TxnBegun {
                id: 7,
                lease_ms: 30_000,
            },
            StreamEvent::TxnOpened { id: 7 },
            StreamEvent::TxnCommitStarted {
                id: 7,
                at_ms: u64::MAX,
            },
            StreamEvent::TxnCommitted { id: 7 },
            StreamEvent::TxnAbortStarted { id: 8 },
            StreamEvent::TxnAborted { id: 8 },
            StreamEvent::Snapshot(Box::new(snapshot_sample())),
        ]
    }

    /// A snapshot with something in every field: a scaled stream, a
    /// truncation, open and ended transactions.
    fn snapshot_sample() -> crate::controller::StreamSnapshot {
        use crate::controller::StreamState;
        let created = StreamState::create_event(StreamConfig::fixed(2), 5).expect("valid");
        let mut state = StreamState::from_created(&created).expect("created");
        let mut apply = |event: StreamEvent| state.apply(&event).expect("fits");
        apply(StreamEvent::Activated);
        let halves = split_evenly(split_evenly(KeyRange::ALL, 2).expect("2")[1], 2).expect("2");
        apply(StreamEvent::ScaleStarted {
            seal: vec![1],
            ranges: halves,
            at_ms: 9,
        });
        apply(StreamEvent::ScaleCompleted);
        apply(StreamEvent::TruncateStarted {
            positions: vec![(0, 4), (1, 7)],
        });
        apply(StreamEvent::TruncateCompleted);
        for id in 0..3 {
            apply(StreamEvent::TxnBegun { id, lease_ms: 500 });
            apply(StreamEvent::TxnOpened { id });
        }
        apply(StreamEvent::TxnAbortStarted { id: 1 });
        apply(StreamEvent::TxnAborted { id: 1 });
        state.snapshot().expect("idle")
    }

    #[test]
    fn a_snapshot_restores_the_state_it_was_taken_from() {
        let snapshot = snapshot_sample();
        let state = crate::controller::StreamState::from_snapshot(&snapshot).expect("consistent");
        assert_eq!(state.snapshot(), Some(snapshot.clone()));
        assert_eq!(state.open_txns().count(), 2);
        let mut broken = snapshot.clone();
        broken.next_number = 1;
        assert!(crate::controller::StreamState::from_snapshot(&broken).is_err());
        let mut broken = snapshot;
        broken.next_txn = 2;
        assert!(crate::controller::StreamState::from_snapshot(&broken).is_err());
    }

    #[test]
    fn every_event_round_trips_through_a_log() {
        let events = every_kind();
        let mut log = Vec::new();
        for event in &events {
            encode_event(event, &mut log);
        }
        assert_eq!(decode_log(&log), Ok(events));
        assert_eq!(decode_log(&[]), Ok(Vec::new()));
    }

    #[test]
    fn the_frame_is_pinned() {
        let mut log = Vec::new();
        encode_event(&StreamEvent::Activated, &mut log);
        let body = [EVENT_VERSION, 2];
        let mut want = 2u32.to_le_bytes().to_vec();
        want.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        want.extend_from_slice(&body);
        assert_eq!(log, want);
    }

    #[test]
    fn damaged_logs_are_errors_never_panics() {
        use rand::rngs::SmallRng;
        use rand::{Rng, SeedableRng};
        let mut log = Vec::new();
        every_kind().iter().for_each(|e| encode_event(e, &mut log));
        assert!(matches!(
            decode_log(&log[..log.len() - 1]),
            Err(CodecError::Truncated { .. })
        ));
        let mut flipped = log.clone();
        flipped[20] ^= 4;
        assert!(decode_log(&flipped).is_err());
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..20_000 {
            let mut bad = log.clone();
            let i = rng.random_range(0..bad.len());
            bad[i] = rng.random();
            bad.truncate(rng.random_range(0..=bad.len()));
            let _ = decode_log(&bad);
            // Bodies past the checksum: feed random bodies straight in.
            let body: Vec<u8> = (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
            let _ = decode_body(&body);
        }
    }
}
