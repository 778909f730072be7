//! Which of a transaction's segments takes an event: the position of its
//! routing key (or, unkeyed, a position from the event's number within the
//! transaction), over the ranges of the segments the transaction began
//! with. The hashing is the event writer's, so a key's events go to the
//! transaction segment whose parent the event writer would have chosen.

use spate_wire::TxnSegment;
use spate_wire::stream::{KeyRange, check_cover, key_position};

use super::super::writer::number_position;

/// A transaction's segments in key order; their ranges cover the key space.
#[derive(Debug, Clone)]
pub(super) struct Routes {
    segments: Vec<TxnSegment>,
}

impl Routes {
    /// The segments of a `TxnBegun`, in any order. Refused (with the reason)
    /// unless they cover the key space exactly, each parent once.
    pub fn new(mut segments: Vec<TxnSegment>) -> Result<Routes, String> {
        segments.sort_by_key(|s| s.range);
        let ranges: Vec<KeyRange> = segments.iter().map(|s| s.range).collect();
        check_cover(&ranges, KeyRange::ALL).map_err(|e| e.to_string())?;
        let mut parents: Vec<u64> = segments.iter().map(|s| s.parent).collect();
        parents.sort_unstable();
        if let Some(pair) = parents.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(format!("parent segment {} is named twice", pair[0]));
        }
        Ok(Routes { segments })
    }

    /// How many segments the transaction has.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Segment `index`, in key order.
    pub fn segment(&self, index: usize) -> &TxnSegment {
        &self.segments[index]
    }

    /// The index of the segment whose range holds `position`.
    pub fn index_for(&self, position: u64) -> usize {
        // The ranges are contiguous from 0: the last one starting at or
        // before the position holds it (the first starts at 0, so the
        // count is at least 1).
        self.segments
            .partition_point(|s| s.range.start <= position)
            .saturating_sub(1)
    }
}

/// Where an event goes in the key space: its key's position, or for an
/// unkeyed event one derived from its number in the transaction (as the
/// event writer does), so unkeyed events spread evenly.
pub(super) fn event_position(routing_key: Option<&[u8]>, number: i64) -> u64 {
    routing_key.map_or_else(|| number_position(number), key_position)
}

#[cfg(test)]
mod tests {
    use spate_wire::stream::split_evenly;

    use super::*;

    fn segments(parts: u32) -> Vec<TxnSegment> {
        split_evenly(KeyRange::ALL, parts)
            .expect("splits")
            .into_iter()
            .enumerate()
            .map(|(i, range)| TxnSegment {
                parent: 10 + i as u64,
                range,
            })
            .collect()
    }

    #[test]
    fn a_key_goes_to_the_segment_over_its_position() {
        let mut shuffled = segments(5);
        shuffled.reverse();
        let routes = Routes::new(shuffled).expect("covers");
        for key in 0..2000u32 {
            let key = key.to_le_bytes();
            let position = key_position(&key);
            let index = routes.index_for(event_position(Some(&key), 7));
            assert!(routes.segment(index).range.contains(position));
            assert_eq!(
                index,
                routes.index_for(event_position(Some(&key), 8)),
                "a key's events all go to one segment, whatever their number"
            );
        }
        assert_eq!(routes.index_for(0), 0);
        assert_eq!(routes.index_for(u64::MAX), 4);
        let second = routes.segment(1).range;
        assert_eq!(routes.index_for(second.start), 1);
        assert_eq!(routes.index_for(second.end), 1);
        assert_eq!(routes.index_for(second.end + 1), 2);
    }

    #[test]
    fn unkeyed_events_spread_over_every_segment() {
        let routes = Routes::new(segments(4)).expect("covers");
        let mut counts = [0usize; 4];
        for number in 0..4000 {
            counts[routes.index_for(event_position(None, number))] += 1;
        }
        for count in counts {
            assert!((800..=1200).contains(&count), "{counts:?}");
        }
        assert_eq!(
            event_position(None, 41),
            number_position(41),
            "the event writer's placement"
        );
    }

    #[test]
    fn one_segment_takes_everything() {
        let routes = Routes::new(segments(1)).expect("covers");
        assert_eq!(routes.len(), 1);
        assert_eq!(routes.index_for(0), 0);
        assert_eq!(routes.index_for(u64::MAX), 0);
        assert_eq!(routes.index_for(event_position(Some(b"k"), 0)), 0);
    }

    #[test]
    fn segments_must_cover_the_key_space_once() {
        let mut gap = segments(3);
        gap.remove(1);
        assert!(Routes::new(gap).is_err());
        let mut overlap = segments(2);
        overlap[1].range.start -= 1;
        assert!(Routes::new(overlap).is_err());
        let mut twice = segments(2);
        twice[1].parent = twice[0].parent;
        assert!(Routes::new(twice).expect_err("refused").contains("twice"));
        assert!(Routes::new(Vec::new()).is_err());
    }
}
