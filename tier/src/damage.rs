//! What damage the tier found: reads, scrubs and repairs report it in these
//! terms, so an operator can tell which directory to look at.

use std::fmt;
use std::io;

use crate::format::FormatError;

/// Where damage was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Index of the tier directory.
    pub dir: usize,
    pub segment: String,
    pub place: Place,
    pub kind: DamageKind,
}

/// Which file of a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The segment's manifest copy.
    Manifest,
    /// Shard `shard` of stripe `stripe`.
    Shard { stripe: u64, shard: u8 },
    /// The directory itself (it could not be listed).
    Directory,
}

/// What is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DamageKind {
    /// The file is not there.
    Missing,
    /// Reading it failed.
    Unreadable(io::ErrorKind),
    /// It is shorter than its format says.
    Short { len: usize, expected: usize },
    /// Its header does not decode.
    BadHeader(FormatError),
    /// Its header decodes but names another segment, stripe or shard, or
    /// another stripe shape: a misplaced or stale file.
    WrongIdentity,
    /// The cell's checksum does not match.
    Checksum,
    /// Every cell checks out, but the parity is not the code of the data (a
    /// writer bug, found by scrub).
    ParityMismatch,
    /// A manifest copy older than the segment's current state.
    Stale { generation: u64, current: u64 },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "directory {}: segment {:?} ", self.dir, self.segment)?;
        match self.place {
            Place::Manifest => write!(f, "manifest")?,
            Place::Shard { stripe, shard } => write!(f, "stripe {stripe} shard {shard}")?,
            Place::Directory => write!(f, "directory listing")?,
        }
        write!(f, ": {:?}", self.kind)
    }
}

/// Formats a list of damage for an error message.
pub(crate) fn list(damage: &[Damage]) -> String {
    damage
        .iter()
        .map(Damage::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
