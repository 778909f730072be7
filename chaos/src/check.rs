//! The oracle's verdict on one segment: the events read back against what
//! the writers logged, and against what readers saw earlier.
//!
//! The verifier reads the logs' ACKED entries *before* it reads the segment
//! and their SENT entries *after*, so writers can keep running: anything
//! acknowledged before the read must be in it, and anything in it must have
//! been sent before the read ended.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::event::EventId;
use crate::ledger::WriterRecord;
use crate::parse::{Corrupt, Observed};

/// Something the node must never do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Bytes that are not the event they claim to be.
    Corrupt {
        /// Segment name.
        segment: String,
        /// The parse failure.
        corrupt: Corrupt,
    },
    /// An acknowledged event is not in the segment.
    Lost {
        /// Segment name.
        segment: String,
        /// The event.
        id: EventId,
        /// Where it should have been: the offset of the writer's next event
        /// that is there, or the segment's end.
        before_offset: u64,
    },
    /// An event that no writer ever sent.
    Invented {
        /// Segment name.
        segment: String,
        /// Where it is.
        offset: u64,
        /// The event it claims to be.
        id: EventId,
    },
    /// An event present twice.
    Duplicate {
        /// Segment name.
        segment: String,
        /// The second copy.
        offset: u64,
        /// The event.
        id: EventId,
        /// The first copy.
        first_offset: u64,
    },
    /// A writer's event after one of its later events.
    Reordered {
        /// Segment name.
        segment: String,
        /// Where the out-of-order event is.
        offset: u64,
        /// The event.
        id: EventId,
        /// The higher number the writer had already reached.
        after: u64,
    },
    /// A writer's event whose predecessors are missing: they were sent in
    /// order, so the node dropped some and kept a later one (its dedupe
    /// would then also drop a resend of the missing ones).
    Gap {
        /// Segment name.
        segment: String,
        /// Where the event after the gap is.
        offset: u64,
        /// The event after the gap.
        id: EventId,
        /// The first missing number (the gap is `missing_from..id.number`).
        missing_from: u64,
    },
    /// A reader had read and checked bytes that are no longer there, or no
    /// longer the same (reads must only ever return durable data).
    ReaderView {
        /// Segment name.
        segment: String,
        /// How far the reader had read.
        offset: u64,
        /// What is wrong there now.
        reason: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Corrupt { segment, corrupt } => write!(f, "CORRUPT {segment}: {corrupt}"),
            Violation::Lost {
                segment,
                id,
                before_offset,
            } => write!(
                f,
                "LOST {segment}: writer {} event {} was acknowledged but is not in the segment \
                 (expected before offset {before_offset})",
                id.writer, id.number
            ),
            Violation::Invented {
                segment,
                offset,
                id,
            } => write!(
                f,
                "INVENTED {segment} offset {offset}: writer {} event {} was never sent",
                id.writer, id.number
            ),
            Violation::Duplicate {
                segment,
                offset,
                id,
                first_offset,
            } => write!(
                f,
                "DUPLICATE {segment} offset {offset}: writer {} event {} is already at offset \
                 {first_offset}",
                id.writer, id.number
            ),
            Violation::Reordered {
                segment,
                offset,
                id,
                after,
            } => write!(
                f,
                "REORDERED {segment} offset {offset}: writer {} event {} comes after its event \
                 {after}",
                id.writer, id.number
            ),
            Violation::Gap {
                segment,
                offset,
                id,
                missing_from,
            } => write!(
                f,
                "GAP {segment} offset {offset}: writer {} event {} is here but its events \
                 {missing_from}..{} are not before it",
                id.writer, id.number, id.number
            ),
            Violation::ReaderView {
                segment,
                offset,
                reason,
            } => write!(f, "READER-VIEW {segment} offset {offset}: {reason}"),
        }
    }
}

/// Per-writer order and exactly-once, event by event. Readers use it as
/// they read; the verifier uses it on the whole segment.
#[derive(Debug, Default)]
pub struct OrderCheck {
    /// Highest number seen per writer.
    last: HashMap<u32, u64>,
    /// Where each event was first seen.
    seen: HashMap<EventId, u64>,
}

impl OrderCheck {
    /// Checks the next event of `segment`, in segment order.
    pub fn observe(&mut self, segment: &str, event: &Observed) -> Option<Violation> {
        let id = event.id;
        if let Some(&first_offset) = self.seen.get(&id) {
            return Some(Violation::Duplicate {
                segment: segment.to_owned(),
                offset: event.offset,
                id,
                first_offset,
            });
        }
        self.seen.insert(id, event.offset);
        let expected = match self.last.get(&id.writer) {
            Some(&last) if id.number < last => {
                return Some(Violation::Reordered {
                    segment: segment.to_owned(),
                    offset: event.offset,
                    id,
                    after: last,
                });
            }
            Some(&last) => last + 1,
            // Every writer numbers each segment from 0.
            None => 0,
        };
        self.last.insert(id.writer, id.number);
        (id.number > expected).then(|| Violation::Gap {
            segment: segment.to_owned(),
            offset: event.offset,
            id,
            missing_from: expected,
        })
    }
}

/// What one segment's check found.
#[derive(Debug, Default)]
pub struct SegmentReport {
    /// Events in the segment.
    pub events: usize,
    /// Events the logs say were acknowledged (before the read).
    pub acked: usize,
    /// Of those, how many are not in the segment.
    pub lost: usize,
    /// Everything wrong, in segment order, lost events last.
    pub violations: Vec<Violation>,
}

/// What the logs say about a segment: `acked` from a snapshot taken before
/// the segment was read, `sent` from one taken after.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// writer → record, for ACKED.
    pub acked: &'a HashMap<u32, WriterRecord>,
    /// writer → record, for SENT.
    pub sent: &'a HashMap<u32, WriterRecord>,
}

/// Checks a segment's events (in order, as parsed from offset 0, up to
/// `end` or up to `corrupt`) against the logs.
pub fn check_segment(
    segment: &str,
    observed: &[Observed],
    end: u64,
    corrupt: Option<&Corrupt>,
    expected: Expected<'_>,
) -> SegmentReport {
    let mut report = SegmentReport {
        events: observed.len(),
        ..SegmentReport::default()
    };
    if let Some(corrupt) = corrupt {
        report.violations.push(Violation::Corrupt {
            segment: segment.to_owned(),
            corrupt: corrupt.clone(),
        });
    }
    let mut order = OrderCheck::default();
    // writer → number → offset, to place lost events.
    let mut by_writer: HashMap<u32, BTreeMap<u64, u64>> = HashMap::new();
    for event in observed {
        let id = event.id;
        let was_sent = expected
            .sent
            .get(&id.writer)
            .is_some_and(|record| record.sent.contains(&id.number));
        if !was_sent {
            report.violations.push(Violation::Invented {
                segment: segment.to_owned(),
                offset: event.offset,
                id,
            });
        }
        report.violations.extend(order.observe(segment, event));
        by_writer
            .entry(id.writer)
            .or_default()
            .entry(id.number)
            .or_insert(event.offset);
    }
    let mut writers: Vec<_> = expected.acked.iter().collect();
    writers.sort_by_key(|(writer, _)| **writer);
    for (&writer, record) in writers {
        let present = by_writer.get(&writer);
        for &number in &record.acked {
            report.acked += 1;
            let found = present.is_some_and(|numbers| numbers.contains_key(&number));
            if found {
                continue;
            }
            report.lost += 1;
            let before_offset = present
                .and_then(|numbers| numbers.range(number..).next())
                .map_or(end, |(_, &offset)| offset);
            report.violations.push(Violation::Lost {
                segment: segment.to_owned(),
                id: EventId { writer, number },
                before_offset,
            });
        }
    }
    report
}

/// Checks readers' checkpoints (`(offset, digest)`, taken before the
/// segment was read) against the segment as read now: `boundaries` maps
/// each event end offset to the CRC32C of the bytes before it, and `end` is
/// how far the segment was read.
pub fn check_reader_views(
    segment: &str,
    seen: &[(u64, u32)],
    boundaries: &HashMap<u64, u32>,
    end: u64,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    for &(offset, digest) in seen {
        let reason = if offset == 0 {
            continue;
        } else if offset > end {
            format!("a reader read this far, but the segment now ends at {end}")
        } else {
            match boundaries.get(&offset) {
                None => "a reader found an event boundary here; now there is none".to_owned(),
                Some(&now) if now != digest => format!(
                    "the bytes before it had digest {digest:08x} when a reader read them; now \
                     {now:08x}"
                ),
                Some(_) => continue,
            }
        };
        violations.push(Violation::ReaderView {
            segment: segment.to_owned(),
            offset,
            reason,
        });
    }
    violations
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
