//! The routing-key space and ranges of it.
//!
//! A routing key maps to a position in `[0, 2^64)`, the key space (Pravega's
//! `[0, 1)` scaled by 2^64, so ranges are exact integers rather than
//! floating-point fractions). A segment of a stream owns a [`KeyRange`];
//! the ranges of the segments of one epoch cover the key space exactly.
//!
//! The position of a key is part of the protocol: a writer routes by it and
//! the node checks ranges with it, so it must never change. It is two
//! CRC32C passes (hardware-fast everywhere) mixed by the SplitMix64
//! finaliser so that keys differing in one bit land far apart.

use thiserror::Error;

/// Where a routing key lies in `[0, 2^64)`.
pub fn key_position(key: &[u8]) -> u64 {
    let low = crc32c::crc32c(key);
    let high = crc32c::crc32c_append(0x9e37_79b9, key);
    mix(u64::from(high) << 32 | u64::from(low))
}

/// SplitMix64's finaliser: a bijection that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A range of the key space, `[start, end]` with both ends included (so the
/// whole space, `[0, 2^64 - 1]`, fits in `u64`s).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct KeyRange {
    pub start: u64,
    pub end: u64,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RangeError {
    #[error("key range [{start:#x}, {end:#x}] is empty (start after end)")]
    Empty { start: u64, end: u64 },
    #[error("key ranges leave a gap or overlap at {at:#x}")]
    NotContiguous { at: u64 },
    #[error("key ranges cover [{start:#x}, {end:#x}], not [{want_start:#x}, {want_end:#x}]")]
    WrongCover {
        start: u64,
        end: u64,
        want_start: u64,
        want_end: u64,
    },
    #[error("no key ranges")]
    None,
    #[error("cannot split a range of {width} positions into {parts} parts")]
    TooNarrow { width: u128, parts: u32 },
    #[error("{0:?} is not a fraction of the key space in [0, 1]")]
    BadFraction(String),
}

impl KeyRange {
    /// The whole key space.
    pub const ALL: KeyRange = KeyRange {
        start: 0,
        end: u64::MAX,
    };

    pub fn new(start: u64, end: u64) -> Result<Self, RangeError> {
        if start > end {
            return Err(RangeError::Empty { start, end });
        }
        Ok(Self { start, end })
    }

    pub fn contains(&self, position: u64) -> bool {
        self.start <= position && position <= self.end
    }

    pub fn overlaps(&self, other: &KeyRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// Positions in the range.
    pub fn width(&self) -> u128 {
        u128::from(self.end - self.start) + 1
    }

    /// The range as fractions of the key space, `[low, high)`, for people.
    pub fn fractions(&self) -> (f64, f64) {
        let scale = 2f64.powi(64);
        (
            self.start as f64 / scale,
            (u128::from(self.end) + 1) as f64 / scale,
        )
    }

    /// The range `[low, high)` of the key space given as fractions, snapped
    /// to the nearest positions (so `0.5` is exactly `2^63`). `high` of 1
    /// reaches the end of the space.
    pub fn from_fractions(low: f64, high: f64) -> Result<Self, RangeError> {
        let position = |f: f64| -> Result<u128, RangeError> {
            if !(0.0..=1.0).contains(&f) {
                return Err(RangeError::BadFraction(f.to_string()));
            }
            Ok((f * 2f64.powi(64)).round() as u128)
        };
        let (start, end) = (position(low)?, position(high)?);
        if start >= end {
            return Err(RangeError::Empty {
                start: start.min(u128::from(u64::MAX)) as u64,
                end: end.saturating_sub(1) as u64,
            });
        }
        Ok(Self {
            start: start as u64,
            end: (end - 1) as u64,
        })
    }
}

impl std::fmt::Display for KeyRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (low, high) = self.fractions();
        write!(f, "[{low:.6}, {high:.6})")
    }
}

/// Checks that `ranges` (in any order) cover exactly `cover`: no gap, no
/// overlap, nothing outside.
pub fn check_cover(ranges: &[KeyRange], cover: KeyRange) -> Result<(), RangeError> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return Err(RangeError::None);
    };
    if first.start != cover.start || last.end != cover.end {
        return Err(RangeError::WrongCover {
            start: first.start,
            end: last.end,
            want_start: cover.start,
            want_end: cover.end,
        });
    }
    for pair in sorted.windows(2) {
        if pair[0].end.checked_add(1) != Some(pair[1].start) {
            return Err(RangeError::NotContiguous { at: pair[1].start });
        }
    }
    Ok(())
}

/// `range` cut into `parts` contiguous ranges of equal width (the first ones
/// one position wider when it does not divide evenly).
pub fn split_evenly(range: KeyRange, parts: u32) -> Result<Vec<KeyRange>, RangeError> {
    let width = range.width();
    if parts == 0 || width < u128::from(parts) {
        return Err(RangeError::TooNarrow { width, parts });
    }
    let (base, extra) = (width / u128::from(parts), width % u128::from(parts));
    let mut start = u128::from(range.start);
    let mut out = Vec::with_capacity(parts as usize);
    for i in 0..u128::from(parts) {
        let len = base + u128::from(i < extra);
        out.push(KeyRange {
            start: start as u64,
            end: (start + len - 1) as u64,
        });
        start += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions_are_stable_and_spread() {
        // Pinned: a writer and a node built at different times must agree.
        assert_eq!(key_position(b""), key_position(b""));
        let pinned = key_position(b"customer-42");
        assert_eq!(pinned, key_position(b"customer-42"));
        // 10,000 keys over 16 equal ranges: each gets a fair share.
        let ranges = split_evenly(KeyRange::ALL, 16).expect("splits");
        let mut counts = [0u32; 16];
        for i in 0..10_000u32 {
            let p = key_position(format!("key-{i}").as_bytes());
            let at = ranges.iter().position(|r| r.contains(p)).expect("covered");
            counts[at] += 1;
        }
        assert!(
            counts.iter().all(|&c| (450..=800).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn even_splits_cover_exactly() {
        for parts in [1, 2, 3, 7, 16, 1000] {
            let split = split_evenly(KeyRange::ALL, parts).expect("splits");
            assert_eq!(split.len(), parts as usize);
            assert_eq!(check_cover(&split, KeyRange::ALL), Ok(()));
        }
        let narrow = KeyRange::new(10, 12).expect("range");
        assert_eq!(
            check_cover(&split_evenly(narrow, 3).expect("3"), narrow),
            Ok(())
        );
        assert!(split_evenly(narrow, 4).is_err());
    }

    #[test]
    fn covers_with_gaps_overlaps_or_the_wrong_extent_are_refused() {
        let halves = split_evenly(KeyRange::ALL, 2).expect("halves");
        let gap = [
            halves[0],
            KeyRange::new(halves[1].start + 1, u64::MAX).expect("r"),
        ];
        assert_eq!(
            check_cover(&gap, KeyRange::ALL),
            Err(RangeError::NotContiguous {
                at: halves[1].start + 1
            })
        );
        let short = [KeyRange::new(1, u64::MAX).expect("r")];
        assert!(matches!(
            check_cover(&short, KeyRange::ALL),
            Err(RangeError::WrongCover { start: 1, .. })
        ));
        let mid = KeyRange::new(0, 100).expect("r");
        let overlap = [mid, KeyRange::new(100, u64::MAX).expect("r")];
        assert!(matches!(
            check_cover(&overlap, KeyRange::ALL),
            Err(RangeError::NotContiguous { at: 100 })
        ));
        let hole = [mid, KeyRange::new(102, u64::MAX).expect("r")];
        assert!(matches!(
            check_cover(&hole, KeyRange::ALL),
            Err(RangeError::NotContiguous { at: 102 })
        ));
        assert_eq!(check_cover(&[], KeyRange::ALL), Err(RangeError::None));
    }

    #[test]
    fn fractions_round_trip_at_clean_boundaries() {
        let upper = KeyRange::from_fractions(0.5, 1.0).expect("upper half");
        assert_eq!(upper, KeyRange::new(1 << 63, u64::MAX).expect("r"));
        let lower = KeyRange::from_fractions(0.0, 0.5).expect("lower half");
        assert_eq!(check_cover(&[lower, upper], KeyRange::ALL), Ok(()));
        assert_eq!(upper.fractions(), (0.5, 1.0));
        assert_eq!(upper.to_string(), "[0.500000, 1.000000)");
        assert!(KeyRange::from_fractions(0.5, 0.5).is_err());
        assert!(KeyRange::from_fractions(-0.1, 0.5).is_err());
        assert!(KeyRange::from_fractions(0.0, f64::NAN).is_err());
    }
}
