//! Entry points for fuzzing the decoders of bytes read from disk. Each must
//! return (an error or a value) for any input, never panic.

use crate::format::manifest::Manifest;
use crate::format::names::classify;
use crate::format::shard::ShardHeader;

/// Decodes `bytes` as a manifest; a decoded one must encode back to them.
pub fn manifest(bytes: &[u8]) {
    if let Ok(manifest) = Manifest::decode(bytes) {
        assert_eq!(
            manifest.encode(),
            bytes,
            "a decoded manifest re-encodes exactly"
        );
    }
}

/// Decodes `bytes` as a shard header; a decoded one must encode back to its
/// header block.
pub fn shard_header(bytes: &[u8]) {
    if let Ok(header) = ShardHeader::decode(bytes) {
        let encoded = header.encode();
        let name_end = 64 + header.segment.len();
        assert_eq!(&encoded[..name_end], &bytes[..name_end]);
    }
}

/// Classifies `bytes` as a file name.
pub fn file_name(bytes: &[u8]) {
    if let Ok(name) = std::str::from_utf8(bytes) {
        let _ = classify(name);
    }
}
