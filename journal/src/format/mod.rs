//! The on-disk format: file headers and records. Pure functions over bytes;
//! `docs/journal.md` is the reference for every field.

pub mod file_header;
pub mod record;

/// A log sequence number. Every record gets the next one; the first is 1, so 0
/// can mean "none" on disk.
pub type Lsn = u64;

/// Reads a little-endian u64 at `at`; the caller has checked the bounds.
fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}
