//! The segments of a container and the one function that changes them.
//!
//! [`State::apply`] is the only way a state changes. The live path applies a
//! mutation to the live view as soon as it is journaled and to the durable
//! view once it is durable; replay applies decoded records to both. So the
//! durable view is, by construction, the fold of `apply` over the durable
//! records, which is exactly what recovery computes.
//!
//! `apply` checks everything before it changes anything: a mutation that
//! does not fit the state (a corrupt or misordered record on replay) leaves
//! the state as it was and returns an [`ApplyError`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use thiserror::Error;

use super::chunks::{Chunks, Freed};
use super::mutation::{Event, Mutation};
use super::snapshot::{SegmentSnapshot, SnapshotError};
use super::types::MutationSeq;

/// One segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub data: Chunks,
    pub sealed: bool,
    pub created_ms: u64,
    pub attributes: HashMap<u128, i64>,
    /// Last event number per writer id, for deduplication.
    pub writers: HashMap<u128, i64>,
    /// The last mutation that touched this segment. A reply computed from
    /// this segment's live state is true once this is durable.
    pub last_seq: MutationSeq,
}

/// Why a mutation does not fit the state it is applied to.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ApplyError {
    #[error("segment {0:?} does not exist")]
    NoSuchSegment(String),
    #[error("segment {0:?} already exists")]
    SegmentExists(String),
    #[error("segment {0:?} is sealed")]
    Sealed(String),
    #[error("segment {segment:?}: the record expects length {expected}, the state has {actual}")]
    LengthMismatch {
        segment: String,
        expected: u64,
        actual: u64,
    },
    #[error("append to {0:?} has no events")]
    NoEvents(String),
    #[error(
        "append to {segment:?}: writer {writer_id:#x} event number {event_number} \
         is not above {previous:?}"
    )]
    BadEventNumber {
        segment: String,
        writer_id: u128,
        event_number: i64,
        previous: Option<i64>,
    },
    #[error("truncate {segment:?} to {start_offset}: outside ({current}, {length}]")]
    BadTruncate {
        segment: String,
        start_offset: u64,
        current: u64,
        length: u64,
    },
    #[error("merge of {0:?} into itself")]
    MergeIntoSelf(String),
    #[error("merge source {0:?} is not sealed")]
    SourceNotSealed(String),
    #[error("merge source {0:?} is truncated")]
    SourceTruncated(String),
}

/// All segments of one container, as seen by one view (live or durable).
/// Cloning shares the data chunks (tests compare views before and after).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct State {
    segments: HashMap<String, Segment>,
    /// Sum of the segments' resident bytes.
    data_bytes: u64,
    /// The part of `data_bytes` that could be evicted (it has a journal source).
    evictable_bytes: u64,
    /// Segments track lengths but hold no data (the live view).
    lengths_only: bool,
}

impl State {
    pub(crate) fn get(&self, name: &str) -> Option<&Segment> {
        self.segments.get(name)
    }

    pub(crate) fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// A view whose segments track offsets and lengths but hold no data.
    pub(crate) fn lengths_only() -> Self {
        Self {
            lengths_only: true,
            ..Self::default()
        }
    }

    pub(crate) fn data_bytes(&self) -> u64 {
        self.data_bytes
    }

    pub(crate) fn evictable_bytes(&self) -> u64 {
        self.evictable_bytes
    }

    /// Every segment, by name (unordered).
    pub(crate) fn segments(&self) -> impl Iterator<Item = (&String, &Segment)> {
        self.segments.iter()
    }

    /// Replaces the chunks of `run` in `name` with one hot chunk (see
    /// `Chunks::replace_with_hot`), keeping the memory counts. False if the
    /// run no longer stands.
    pub(crate) fn replace_with_hot(
        &mut self,
        name: &str,
        run: &super::chunks::FlushRun,
        hot: super::chunks::HotData,
        data: bytes::Bytes,
    ) -> bool {
        let Some(segment) = self.segments.get_mut(name) else {
            return false;
        };
        let Some((old, held)) = segment.data.replace_with_hot(run, hot, data) else {
            return false;
        };
        self.data_bytes = self.data_bytes - old.resident + held;
        self.evictable_bytes = self.evictable_bytes - old.evictable + held;
        true
    }

    /// Drops from memory the bytes of the chunk of `name` at `offset`, if it
    /// is resident and can be read back from the journal. Returns the bytes
    /// freed (0 if the segment or chunk is gone or not evictable).
    pub(crate) fn evict(&mut self, name: &str, offset: u64) -> u64 {
        let Some(segment) = self.segments.get_mut(name) else {
            return 0;
        };
        let freed = segment.data.evict(offset);
        self.data_bytes -= freed;
        self.evictable_bytes -= freed;
        freed
    }

    /// The segments as checkpoint metadata, sorted by name; `None` if some
    /// data has no journal source (and is not in a segment kept in memory).
    pub(crate) fn snapshot_segments(&self) -> Option<Vec<SegmentSnapshot>> {
        let mut segments = self
            .segments
            .iter()
            .map(|(name, s)| {
                let mut attributes: Vec<_> = s.attributes.iter().map(|(k, v)| (*k, *v)).collect();
                let mut writers: Vec<_> = s.writers.iter().map(|(k, v)| (*k, *v)).collect();
                attributes.sort_unstable();
                writers.sort_unstable();
                Some(SegmentSnapshot {
                    name: name.clone(),
                    sealed: s.sealed,
                    created_ms: s.created_ms,
                    start_offset: s.data.start_offset(),
                    length: s.data.length(),
                    last_seq: s.last_seq,
                    attributes,
                    writers,
                    chunks: s.data.refs(super::kept_in_memory(name))?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        segments.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Some(segments)
    }

    /// A view rebuilt from checkpoint metadata: chunks in the journal
    /// evicted, inline chunks (segments kept in memory) resident.
    pub(crate) fn restore(
        segments: &[SegmentSnapshot],
        lengths_only: bool,
    ) -> Result<Self, SnapshotError> {
        let mut state = if lengths_only {
            Self::lengths_only()
        } else {
            Self::default()
        };
        for s in segments {
            let inconsistent = |problem: String| SnapshotError::Inconsistent {
                segment: s.name.clone(),
                problem,
            };
            // Only segments kept in memory are checkpointed inline; the node
            // would not write another, and could not checkpoint it again.
            let inline = |c: &&super::snapshot::ChunkRef| {
                matches!(c.source, super::snapshot::ChunkSource::Inline(_))
            };
            if !super::kept_in_memory(&s.name) && s.chunks.iter().any(|c| inline(&c)) {
                return Err(inconsistent(
                    "an inline chunk in a segment not kept in memory".into(),
                ));
            }
            let data = Chunks::from_refs(s.start_offset, s.length, &s.chunks, lengths_only)
                .map_err(inconsistent)?;
            state.data_bytes += data.held().resident;
            let segment = Segment {
                data,
                sealed: s.sealed,
                created_ms: s.created_ms,
                attributes: s.attributes.iter().copied().collect(),
                writers: s.writers.iter().copied().collect(),
                last_seq: s.last_seq,
            };
            if state.segments.insert(s.name.clone(), segment).is_some() {
                return Err(inconsistent("named twice".into()));
            }
        }
        Ok(state)
    }

    /// Whether the chunk of `name` at `offset` exists and could be evicted.
    pub(crate) fn is_evictable(&self, name: &str, offset: u64) -> bool {
        self.segments
            .get(name)
            .is_some_and(|s| s.data.is_evictable(offset))
    }

    /// Evicts evictable chunks of any segment until `bytes` are freed or
    /// none is left. Slow (it walks every chunk); for what the eviction
    /// queue does not name.
    pub(crate) fn evict_any(&mut self, bytes: u64) -> u64 {
        let mut freed = 0;
        for segment in self.segments.values_mut() {
            if freed >= bytes {
                break;
            }
            freed += segment.data.evict_up_to(bytes - freed);
        }
        self.data_bytes -= freed;
        self.evictable_bytes -= freed;
        freed
    }

    /// Applies `mutation`, numbered `seq`. On error nothing changed.
    pub(crate) fn apply(
        &mut self,
        mutation: &Mutation,
        seq: MutationSeq,
    ) -> Result<(), ApplyError> {
        let freed = match mutation {
            Mutation::Create {
                segment,
                created_ms,
            } => self
                .create(segment, *created_ms, seq)
                .map(|()| Freed::default())?,
            Mutation::Append {
                segment,
                writer_id,
                offset,
                events,
                data,
                source,
            } => {
                let payloads: u64 = events.iter().map(|e| u64::from(e.len)).sum();
                assert_eq!(
                    payloads,
                    data.len() as u64,
                    "an append's data is its events' payloads"
                );
                self.append(segment, *writer_id, *offset, events, seq)?;
                let held = match self.segments.get_mut(segment.as_str()) {
                    Some(s) => s.data.push(data.clone(), *source),
                    None => unreachable!("append checked the segment exists"),
                };
                self.data_bytes += held;
                if source.is_some() {
                    self.evictable_bytes += held;
                }
                Freed::default()
            }
            Mutation::Seal { segment, length } => self
                .seal(segment, *length, seq)
                .map(|()| Freed::default())?,
            Mutation::Truncate {
                segment,
                start_offset,
            } => self.truncate(segment, *start_offset, seq)?,
            Mutation::Merge {
                target,
                source,
                target_offset,
                source_length,
            } => self
                .merge(target, source, *target_offset, *source_length, seq)
                .map(|()| Freed::default())?,
            Mutation::Delete { segment } => self.delete(segment)?,
            Mutation::SetAttribute {
                segment,
                key,
                value,
            } => self
                .set_attribute(segment, *key, *value, seq)
                .map(|()| Freed::default())?,
        };
        self.data_bytes -= freed.resident;
        self.evictable_bytes -= freed.evictable;
        Ok(())
    }

    fn create(&mut self, name: &str, created_ms: u64, seq: MutationSeq) -> Result<(), ApplyError> {
        match self.segments.entry(name.to_owned()) {
            Entry::Occupied(_) => Err(ApplyError::SegmentExists(name.to_owned())),
            Entry::Vacant(slot) => {
                let data = if self.lengths_only {
                    Chunks::lengths_only()
                } else {
                    Chunks::default()
                };
                slot.insert(Segment {
                    data,
                    sealed: false,
                    created_ms,
                    attributes: HashMap::new(),
                    writers: HashMap::new(),
                    last_seq: seq,
                });
                Ok(())
            }
        }
    }

    fn append(
        &mut self,
        name: &str,
        writer_id: u128,
        offset: u64,
        events: &[Event],
        seq: MutationSeq,
    ) -> Result<(), ApplyError> {
        let segment = writable(&mut self.segments, name)?;
        check_length(name, offset, segment.data.length())?;
        let last = check_event_numbers(name, writer_id, segment.writers.get(&writer_id), events)?;
        segment.writers.insert(writer_id, last);
        segment.last_seq = seq;
        Ok(())
    }

    fn seal(&mut self, name: &str, length: u64, seq: MutationSeq) -> Result<(), ApplyError> {
        let segment = writable(&mut self.segments, name)?;
        check_length(name, length, segment.data.length())?;
        segment.sealed = true;
        segment.last_seq = seq;
        Ok(())
    }

    fn truncate(
        &mut self,
        name: &str,
        start_offset: u64,
        seq: MutationSeq,
    ) -> Result<Freed, ApplyError> {
        let segment = existing(&mut self.segments, name)?;
        let (current, length) = (segment.data.start_offset(), segment.data.length());
        if start_offset <= current || start_offset > length {
            return Err(ApplyError::BadTruncate {
                segment: name.to_owned(),
                start_offset,
                current,
                length,
            });
        }
        segment.last_seq = seq;
        Ok(segment.data.truncate(start_offset))
    }

    fn merge(
        &mut self,
        target: &str,
        source: &str,
        target_offset: u64,
        source_length: u64,
        seq: MutationSeq,
    ) -> Result<(), ApplyError> {
        if target == source {
            return Err(ApplyError::MergeIntoSelf(target.to_owned()));
        }
        let from = existing(&mut self.segments, source)?;
        if !from.sealed {
            return Err(ApplyError::SourceNotSealed(source.to_owned()));
        }
        if from.data.start_offset() > 0 {
            return Err(ApplyError::SourceTruncated(source.to_owned()));
        }
        check_length(source, source_length, from.data.length())?;
        let into = writable(&mut self.segments, target)?;
        check_length(target, target_offset, into.data.length())?;
        // Checked above: both exist, so neither lookup below can fail.
        let Some(from) = self.segments.remove(source) else {
            unreachable!("merge source vanished")
        };
        let Some(into) = self.segments.get_mut(target) else {
            unreachable!("merge target vanished")
        };
        // Only data moves: the source's attributes and writer states go away
        // with it (as in Pravega), and the target's stay as they are.
        into.data.append_all(from.data);
        into.last_seq = seq;
        Ok(())
    }

    fn delete(&mut self, name: &str) -> Result<Freed, ApplyError> {
        match self.segments.remove(name) {
            Some(segment) => Ok(segment.data.held()),
            None => Err(ApplyError::NoSuchSegment(name.to_owned())),
        }
    }

    fn set_attribute(
        &mut self,
        name: &str,
        key: u128,
        value: i64,
        seq: MutationSeq,
    ) -> Result<(), ApplyError> {
        let segment = writable(&mut self.segments, name)?;
        segment.attributes.insert(key, value);
        segment.last_seq = seq;
        Ok(())
    }
}

fn existing<'a>(
    segments: &'a mut HashMap<String, Segment>,
    name: &str,
) -> Result<&'a mut Segment, ApplyError> {
    segments
        .get_mut(name)
        .ok_or_else(|| ApplyError::NoSuchSegment(name.to_owned()))
}

/// The segment, if it exists and is not sealed.
fn writable<'a>(
    segments: &'a mut HashMap<String, Segment>,
    name: &str,
) -> Result<&'a mut Segment, ApplyError> {
    let segment = existing(segments, name)?;
    if segment.sealed {
        return Err(ApplyError::Sealed(name.to_owned()));
    }
    Ok(segment)
}

fn check_length(name: &str, expected: u64, actual: u64) -> Result<(), ApplyError> {
    if expected != actual {
        return Err(ApplyError::LengthMismatch {
            segment: name.to_owned(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// Checks that the events' numbers are non-negative, strictly increasing and
/// above the writer's last. Returns the new last event number.
fn check_event_numbers(
    name: &str,
    writer_id: u128,
    previous: Option<&i64>,
    events: &[Event],
) -> Result<i64, ApplyError> {
    let mut previous = previous.copied();
    for event in events {
        let number = event.event_number;
        if number < 0 || previous.is_some_and(|p| number <= p) {
            return Err(ApplyError::BadEventNumber {
                segment: name.to_owned(),
                writer_id,
                event_number: number,
                previous,
            });
        }
        previous = Some(number);
    }
    previous.ok_or_else(|| ApplyError::NoEvents(name.to_owned()))
}
