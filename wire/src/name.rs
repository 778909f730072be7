//! Segment names: the rule every name on the wire must follow, and the
//! name → container mapping that shard-aware clients and the node share.
//!
//! The rule: 1 to [`MAX_SEGMENT_NAME_BYTES`] bytes; 1 to
//! [`MAX_SEGMENT_NAME_COMPONENTS`] components separated by `/`; each component
//! non-empty, made only of ASCII letters, digits, `-`, `_`, `.` and `#`, and
//! neither `.` nor `..`. So `scope/stream/3.#epoch.0` and
//! `scope/stream/3#transaction.00ff` are valid; `/a`, `a//b`, `a/../b` and
//! names with spaces or non-ASCII are not. The node maps names to files, so
//! the rule keeps every name a safe relative path.

use std::num::NonZeroU32;

use thiserror::Error;

use crate::limits::{MAX_SEGMENT_NAME_BYTES, MAX_SEGMENT_NAME_COMPONENTS};

/// Why a segment name breaks the rule.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NameError {
    #[error("segment name is empty")]
    Empty,
    #[error("segment name is {len} bytes; the maximum is {MAX_SEGMENT_NAME_BYTES}")]
    TooLong { len: usize },
    #[error("segment name has more than {MAX_SEGMENT_NAME_COMPONENTS} components")]
    TooManyComponents,
    #[error("segment name has an empty component (leading, trailing or double '/')")]
    EmptyComponent,
    #[error("segment name has a '.' or '..' component")]
    DotComponent,
    #[error("segment name has a disallowed byte 0x{byte:02x} at {index}")]
    BadByte { index: usize, byte: u8 },
}

/// Checks `name` against the segment naming rule.
pub fn validate_segment_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_SEGMENT_NAME_BYTES {
        return Err(NameError::TooLong { len: name.len() });
    }
    if let Some(index) = name.bytes().position(|b| !is_name_byte(b)) {
        let byte = name.as_bytes()[index];
        return Err(NameError::BadByte { index, byte });
    }
    let mut components = 0;
    for component in name.split('/') {
        components += 1;
        if components > MAX_SEGMENT_NAME_COMPONENTS {
            return Err(NameError::TooManyComponents);
        }
        check_component(component)?;
    }
    Ok(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'#' | b'/')
}

fn check_component(component: &str) -> Result<(), NameError> {
    match component {
        "" => Err(NameError::EmptyComponent),
        "." | ".." => Err(NameError::DotComponent),
        _ => Ok(()),
    }
}

/// The container that owns segment `name`, among `container_count`.
///
/// Part of the protocol: a shard-aware client computes this to pick the core
/// (from the handshake's container → core map) to send the segment's traffic
/// to. It hashes only the part of the name before the first `#`, so derived
/// segments (`<parent>#transaction.<id>`, `<parent>#transient.<n>`) live in
/// their parent's container and can be merged into it on one core.
///
/// The count is `NonZeroU32` because a node always has a container; the
/// handshake decoder rejects a map with none.
pub fn container_for(name: &str, container_count: NonZeroU32) -> u32 {
    let base = name.split('#').next().unwrap_or(name);
    crc32c::crc32c(base.as_bytes()) % container_count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pravega_shaped_names() {
        for name in [
            "s",
            "scope/stream/0",
            "scope/stream/3.#epoch.12",
            "scope/stream/3#transaction.00112233445566778899aabbccddeeff",
            "_system/_requeststream/0",
            "a-b_c.d",
        ] {
            assert_eq!(validate_segment_name(name), Ok(()), "{name}");
        }
        let longest = "a".repeat(MAX_SEGMENT_NAME_BYTES);
        assert_eq!(validate_segment_name(&longest), Ok(()));
    }

    #[test]
    fn rejects_each_broken_rule() {
        use NameError::*;
        let too_long = "a".repeat(MAX_SEGMENT_NAME_BYTES + 1);
        let cases: &[(&str, NameError)] = &[
            ("", Empty),
            (
                &too_long,
                TooLong {
                    len: MAX_SEGMENT_NAME_BYTES + 1,
                },
            ),
            ("a/b/c/d/e/f/g/h/i", TooManyComponents),
            ("/a", EmptyComponent),
            ("a/", EmptyComponent),
            ("a//b", EmptyComponent),
            ("a/../b", DotComponent),
            (".", DotComponent),
            (
                "a b",
                BadByte {
                    index: 1,
                    byte: b' ',
                },
            ),
            (
                "é",
                BadByte {
                    index: 0,
                    byte: 0xc3,
                },
            ),
            ("a\0", BadByte { index: 1, byte: 0 }),
        ];
        for (name, want) in cases {
            assert_eq!(validate_segment_name(name).as_ref(), Err(want), "{name:?}");
        }
    }

    #[test]
    fn derived_segments_share_the_parent_container() {
        let parent = "scope/stream/7";
        let txn = "scope/stream/7#transaction.00ff";
        for count in [1, 3, 16, 1024].into_iter().filter_map(NonZeroU32::new) {
            assert_eq!(container_for(parent, count), container_for(txn, count));
            assert!(container_for(parent, count) < count.get());
        }
    }

    /// The hash is CRC32C (Castagnoli): this is its standard check value.
    #[test]
    fn hash_is_crc32c() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }
}
