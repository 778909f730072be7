//! File names inside a tier directory.
//!
//! Every file of a segment starts with the segment's *key*: the name with
//! every byte outside `[A-Za-z0-9._-]` replaced by `_`, cut to 100 bytes, then
//! `~` and the 64-bit FNV-1a hash of the full name in hex. The key is a
//! safe file name (segment names hold `/` and may be 255 bytes long) that still
//! reads like the segment; the hash keeps keys distinct, and the manifest
//! stores the full name so a collision is detected, never merged.
//!
//! | file | name |
//! |---|---|
//! | manifest copy | `KEY.manifest` |
//! | shard | `KEY.STRIPE.SHARD.shard` (stripe: 16 hex digits, shard: decimal) |
//! | temporary | any of the above + `.tmp` |

/// Longest readable prefix of a key.
const KEY_PREFIX_BYTES: usize = 100;
const MANIFEST_SUFFIX: &str = ".manifest";
const SHARD_SUFFIX: &str = ".shard";
pub const TMP_SUFFIX: &str = ".tmp";

/// FNV-1a, 64 bits: part of the format (keys and shard placement use it).
pub fn name_hash(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in name.as_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The key of segment `name`.
pub fn segment_key(name: &str) -> String {
    let mut key: String = name
        .bytes()
        .take(KEY_PREFIX_BYTES)
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                char::from(b)
            } else {
                '_'
            }
        })
        .collect();
    key.push_str(&format!("~{:016x}", name_hash(name)));
    key
}

pub fn manifest_file(key: &str) -> String {
    format!("{key}{MANIFEST_SUFFIX}")
}

pub fn shard_file(key: &str, stripe: u64, shard: u8) -> String {
    format!("{key}.{stripe:016x}.{shard}{SHARD_SUFFIX}")
}

pub fn tmp_file(name: &str) -> String {
    format!("{name}{TMP_SUFFIX}")
}

/// What a file found in a tier directory is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    Manifest {
        key: String,
    },
    Shard {
        key: String,
        stripe: u64,
        shard: u8,
    },
    /// A write that was never renamed into place (or not yet).
    Temporary,
    /// Not a name the tier writes.
    Unknown,
}

/// Classifies a file name found in a tier directory.
pub fn classify(file: &str) -> FileKind {
    if file.ends_with(TMP_SUFFIX) {
        return FileKind::Temporary;
    }
    if let Some(key) = file.strip_suffix(MANIFEST_SUFFIX)
        && is_key(key)
    {
        return FileKind::Manifest {
            key: key.to_owned(),
        };
    }
    if let Some(rest) = file.strip_suffix(SHARD_SUFFIX)
        && let Some((rest, shard)) = rest.rsplit_once('.')
        && let Some((key, stripe)) = rest.rsplit_once('.')
        && is_key(key)
        && stripe.len() == 16
        && let Ok(stripe) = u64::from_str_radix(stripe, 16)
        && let Ok(shard) = shard.parse::<u8>()
        && shard_file(key, stripe, shard) == file
    {
        return FileKind::Shard {
            key: key.to_owned(),
            stripe,
            shard,
        };
    }
    FileKind::Unknown
}

/// Whether `key` has the shape [`segment_key`] produces.
fn is_key(key: &str) -> bool {
    let Some((prefix, hash)) = key.rsplit_once('~') else {
        return false;
    };
    prefix.len() <= KEY_PREFIX_BYTES
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && hash.len() == 16
        && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_safe_and_distinct() {
        let a = segment_key("scope/stream/0.#epoch.0");
        assert_eq!(
            a,
            format!(
                "scope_stream_0._epoch.0~{:016x}",
                name_hash("scope/stream/0.#epoch.0")
            )
        );
        assert_ne!(a, segment_key("scope/stream/0.#epoch.1"));
        let long = "x".repeat(255);
        assert!(segment_key(&long).len() <= 117);
    }

    #[test]
    fn names_round_trip() {
        let key = segment_key("a/b");
        assert_eq!(
            classify(&shard_file(&key, 0x1f, 5)),
            FileKind::Shard {
                key: key.clone(),
                stripe: 0x1f,
                shard: 5
            }
        );
        assert_eq!(
            classify(&manifest_file(&key)),
            FileKind::Manifest { key: key.clone() }
        );
        assert_eq!(
            classify(&tmp_file(&manifest_file(&key))),
            FileKind::Temporary
        );
        assert_eq!(classify("lost+found"), FileKind::Unknown);
        assert_eq!(classify(&format!("{key}.1f.5.shard")), FileKind::Unknown);
    }

    #[test]
    fn hash_is_pinned() {
        // FNV-1a test vectors: the key and the placement depend on them.
        assert_eq!(name_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
