//! The on-disk formats: stripe geometry, shard files, manifests and file
//! names. Pure functions over bytes; `docs/tier.md` is the reference for every
//! field, and `tests/golden.rs` pins the bytes.
//!
//! Decoders take bytes read from disk: they return [`FormatError`] for
//! anything malformed and never panic (`tests/parse_fuzz.rs` checks it).

pub mod geometry;
pub mod manifest;
pub mod names;
pub mod shard;

pub use geometry::{Codec, Geometry};

/// Why bytes read from a tier directory are not a valid header or manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("{what}: {len} bytes is too short")]
    TooShort { what: &'static str, len: usize },
    #[error("{what}: bad magic")]
    BadMagic { what: &'static str },
    #[error("{what}: unsupported format version {version}")]
    BadVersion { what: &'static str, version: u16 },
    #[error("{what}: checksum mismatch")]
    BadChecksum { what: &'static str },
    #[error("{what}: invalid field `{field}`")]
    BadField {
        what: &'static str,
        field: &'static str,
    },
}

/// Little-endian reads from a slice the caller has bounds-checked.
pub(crate) fn le_u16(bytes: &[u8], at: usize) -> u16 {
    let mut word = [0u8; 2];
    word.copy_from_slice(&bytes[at..at + 2]);
    u16::from_le_bytes(word)
}

pub(crate) fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

pub(crate) fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}
