//! Scope and stream names, and the segment names of a stream.
//!
//! A scope or stream name is 1 to [`MAX_STREAM_NAME_BYTES`] bytes of ASCII
//! letters, digits, `-`, `.` and `_`, not `.` or `..`, and not starting with
//! `_` (that prefix is the node's own: `_system`). So a stream's segments,
//! `scope/stream/N`, are always valid segment names.

use thiserror::Error;

/// The longest scope or stream name.
pub const MAX_STREAM_NAME_BYTES: usize = 64;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StreamNameError {
    #[error("{what} name is empty")]
    Empty { what: &'static str },
    #[error("{what} name is {len} bytes; the maximum is {MAX_STREAM_NAME_BYTES}")]
    TooLong { what: &'static str, len: usize },
    #[error(
        "{what} name has a disallowed byte 0x{byte:02x} at {index} (letters, digits, '-', '.', '_')"
    )]
    BadByte {
        what: &'static str,
        index: usize,
        byte: u8,
    },
    #[error("{what} name may not start with '_' (reserved) or be '.' or '..'")]
    Reserved { what: &'static str },
}

pub fn validate_scope_name(name: &str) -> Result<(), StreamNameError> {
    validate("scope", name)
}

pub fn validate_stream_name(name: &str) -> Result<(), StreamNameError> {
    validate("stream", name)
}

fn validate(what: &'static str, name: &str) -> Result<(), StreamNameError> {
    if name.is_empty() {
        return Err(StreamNameError::Empty { what });
    }
    if name.len() > MAX_STREAM_NAME_BYTES {
        return Err(StreamNameError::TooLong {
            what,
            len: name.len(),
        });
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if let Some(index) = name.bytes().position(|b| !allowed(b)) {
        let byte = name.as_bytes()[index];
        return Err(StreamNameError::BadByte { what, index, byte });
    }
    if name.starts_with('_') || name == "." || name == ".." {
        return Err(StreamNameError::Reserved { what });
    }
    Ok(())
}

/// The name of segment `number` of `scope/stream`.
pub fn segment_name(scope: &str, stream: &str, number: u64) -> String {
    format!("{scope}/{stream}/{number}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate_segment_name;

    #[test]
    fn names_follow_the_rule() {
        for good in ["a", "orders", "Orders-2026.v1", "a_b", &"x".repeat(64)] {
            assert_eq!(validate_stream_name(good), Ok(()), "{good}");
        }
        assert!(matches!(
            validate_scope_name(""),
            Err(StreamNameError::Empty { .. })
        ));
        assert!(matches!(
            validate_scope_name(&"x".repeat(65)),
            Err(StreamNameError::TooLong { len: 65, .. })
        ));
        for bad in ["a/b", "a b", "é", "a#b"] {
            assert!(
                matches!(
                    validate_stream_name(bad),
                    Err(StreamNameError::BadByte { .. })
                ),
                "{bad}"
            );
        }
        for reserved in ["_system", ".", ".."] {
            assert!(matches!(
                validate_scope_name(reserved),
                Err(StreamNameError::Reserved { .. })
            ));
        }
    }

    #[test]
    fn stream_segments_have_valid_segment_names() {
        let name = segment_name(&"s".repeat(64), &"t".repeat(64), u64::MAX);
        assert_eq!(validate_segment_name(&name), Ok(()));
    }
}
