//! The per-segment manifest: which stripes are committed, where their shards
//! live and what their cells' checksums are. A stripe exists for readers only
//! once a manifest names it.
//!
//! Every tier directory holds a copy (`KEY.manifest`); the valid copy with the
//! highest generation is the segment's state.
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0..4 | magic | `SPTM` |
//! | 4..6 | version | 1 |
//! | 6..8 | flags | bit 0: deleted (a tombstone; no stripes) |
//! | 8..12 | total_len | bytes of the whole manifest, checksum included |
//! | 12..14 | name_len | bytes of the segment name |
//! | 14..16 | reserved | zero |
//! | 16..24 | generation | raised by every change |
//! | 24..32 | next_stripe | the number the next stripe gets (never reused) |
//! | 32..40 | start | first readable offset (raised by truncation) |
//! | 40..48 | end | offset after the last stripe: where the next append starts |
//! | 48..52 | stripe_count | entries that follow |
//! | 52..56 | reserved | zero |
//! | 56.. | name | the segment name, UTF-8 |
//! | | entries | `stripe_count` stripe entries, in offset order |
//! | last 4 | crc | CRC32C of every byte before it |
//!
//! A stripe entry is `28 + 5 × (k + m)` bytes:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | stripe number |
//! | 8..16 | segment offset of its first byte |
//! | 16..20 | data_len |
//! | 20..24 | cell_size |
//! | 24 | codec |
//! | 25 | k |
//! | 26 | m |
//! | 27 | reserved (zero) |
//! | 28..28+n | directory index of each shard (n = k + m) |
//! | then 4 × n | cell CRC of each shard (see `shard::cell_crc`) |
//!
//! All integers little-endian.

use super::geometry::{Codec, Geometry, MAX_NAME_BYTES};
use super::{FormatError, le_u16, le_u32, le_u64};

pub const MANIFEST_MAGIC: [u8; 4] = *b"SPTM";
pub const MANIFEST_VERSION: u16 = 1;
const FIXED_LEN: usize = 56;
const ENTRY_FIXED_LEN: usize = 28;
const FLAG_DELETED: u16 = 1;
/// Largest manifest accepted: bounds what loading one allocates. About 1.1
/// million stripes of 4+2, i.e. 4.4 TiB of one segment in 4 MiB stripes.
pub const MAX_MANIFEST_BYTES: usize = 64 << 20;
const WHAT: &str = "manifest";

/// Bytes of a stripe entry of `geometry` in a manifest.
pub fn entry_len(geometry: super::Geometry) -> usize {
    ENTRY_FIXED_LEN + 5 * geometry.shards()
}

/// One committed stripe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripeEntry {
    pub stripe: u64,
    pub offset: u64,
    pub data_len: u32,
    pub geometry: Geometry,
    /// Directory index of each shard, data cells first.
    pub dirs: Vec<u8>,
    /// Cell CRC of each shard.
    pub crcs: Vec<u32>,
}

impl StripeEntry {
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.data_len)
    }

    pub fn cell_len(&self) -> u32 {
        self.geometry.cell_len(self.data_len)
    }

    /// Bytes of one shard file of this stripe.
    pub fn shard_file_len(&self) -> u64 {
        super::shard::SHARD_HEADER_LEN as u64 + u64::from(self.cell_len())
    }

    fn encoded_len(&self) -> usize {
        entry_len(self.geometry)
    }
}

/// A segment's tier state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub segment: String,
    pub generation: u64,
    pub deleted: bool,
    pub next_stripe: u64,
    pub start: u64,
    pub end: u64,
    pub stripes: Vec<StripeEntry>,
}

impl Manifest {
    /// The state of a segment the tier has never held.
    pub fn empty(segment: &str, offset: u64) -> Self {
        Self {
            segment: segment.to_owned(),
            generation: 0,
            deleted: false,
            next_stripe: 0,
            start: offset,
            end: offset,
            stripes: Vec::new(),
        }
    }

    /// The invariants every manifest holds, written or read.
    pub fn check(&self) -> Result<(), FormatError> {
        let bad = |field| Err(FormatError::BadField { what: WHAT, field });
        if self.segment.is_empty() || self.segment.len() > MAX_NAME_BYTES {
            return bad("name");
        }
        if self.deleted && !self.stripes.is_empty() {
            return bad("flags");
        }
        if self.start > self.end {
            return bad("start");
        }
        let Some(first) = self.stripes.first() else {
            return if self.start == self.end {
                Ok(())
            } else {
                bad("start")
            };
        };
        let mut expect_offset = first.offset;
        let mut min_stripe = 0;
        for entry in &self.stripes {
            entry.geometry.check(WHAT)?;
            if !entry.geometry.holds(entry.data_len) {
                return bad("data_len");
            }
            if entry.offset != expect_offset {
                return bad("offset");
            }
            if entry.stripe < min_stripe || entry.stripe >= self.next_stripe {
                return bad("stripe");
            }
            let n = entry.geometry.shards();
            if entry.dirs.len() != n || entry.crcs.len() != n {
                return bad("shards");
            }
            for (i, dir) in entry.dirs.iter().enumerate() {
                if entry.dirs[..i].contains(dir) {
                    return bad("dirs");
                }
            }
            expect_offset = match entry.offset.checked_add(u64::from(entry.data_len)) {
                Some(end) => end,
                None => return bad("data_len"),
            };
            min_stripe = entry.stripe + 1;
        }
        if expect_offset != self.end {
            return bad("end");
        }
        // Every entry's end is known not to overflow now.
        if self.start < first.offset || self.start >= first.end() {
            return bad("start");
        }
        Ok(())
    }

    /// The entry holding segment offset `offset`, if any.
    pub fn entry_at(&self, offset: u64) -> Option<usize> {
        let i = self.stripes.partition_point(|e| e.end() <= offset);
        (i < self.stripes.len() && self.stripes[i].offset <= offset).then_some(i)
    }

    /// Bytes of the encoded manifest.
    pub fn encoded_len(&self) -> usize {
        FIXED_LEN
            + self.segment.len()
            + self
                .stripes
                .iter()
                .map(StripeEntry::encoded_len)
                .sum::<usize>()
            + 4
    }

    pub fn encode(&self) -> Vec<u8> {
        assert_eq!(
            self.check(),
            Ok(()),
            "manifest to write breaks an invariant"
        );
        let total = self.encoded_len();
        assert!(total <= MAX_MANIFEST_BYTES, "manifest of {total} bytes");
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&MANIFEST_MAGIC);
        out.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
        let flags = if self.deleted { FLAG_DELETED } else { 0 };
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&u32::try_from(total).expect("bounded").to_le_bytes());
        let name_len = u16::try_from(self.segment.len()).expect("checked");
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.next_stripe.to_le_bytes());
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&self.end.to_le_bytes());
        let count = u32::try_from(self.stripes.len()).expect("bounded");
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(self.segment.as_bytes());
        for e in &self.stripes {
            out.extend_from_slice(&e.stripe.to_le_bytes());
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(&e.data_len.to_le_bytes());
            out.extend_from_slice(&e.geometry.cell_size.to_le_bytes());
            out.extend_from_slice(&[e.geometry.codec.code(), e.geometry.k, e.geometry.m, 0]);
            out.extend_from_slice(&e.dirs);
            for crc in &e.crcs {
                out.extend_from_slice(&crc.to_le_bytes());
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(out.len(), total, "manifest length as computed");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let len = bytes.len();
        if len < FIXED_LEN + 4 {
            return Err(FormatError::TooShort { what: WHAT, len });
        }
        if bytes[0..4] != MANIFEST_MAGIC {
            return Err(FormatError::BadMagic { what: WHAT });
        }
        let version = le_u16(bytes, 4);
        if version != MANIFEST_VERSION {
            return Err(FormatError::BadVersion {
                what: WHAT,
                version,
            });
        }
        let total = le_u32(bytes, 8) as usize;
        if total > len {
            return Err(FormatError::TooShort { what: WHAT, len });
        }
        if total != len || total > MAX_MANIFEST_BYTES {
            return Err(bad("total_len"));
        }
        let (body, crc) = bytes.split_at(len - 4);
        if crc32c::crc32c(body) != le_u32(crc, 0) {
            return Err(FormatError::BadChecksum { what: WHAT });
        }
        let flags = le_u16(body, 6);
        if flags & !FLAG_DELETED != 0 {
            return Err(bad("flags"));
        }
        if body[14..16] != [0, 0] || body[52..56] != [0; 4] {
            return Err(bad("reserved"));
        }
        let name_len = usize::from(le_u16(body, 12));
        let mut reader = Reader {
            bytes: body,
            at: FIXED_LEN,
        };
        let name = reader.take(name_len)?;
        let segment = std::str::from_utf8(name).map_err(|_| bad("name"))?;
        let count = le_u32(body, 48) as usize;
        // Each entry is at least this long: refuse counts the bytes cannot
        // hold before reserving room for them.
        if count > body.len() / ENTRY_FIXED_LEN {
            return Err(bad("stripe_count"));
        }
        let mut stripes = Vec::with_capacity(count);
        for _ in 0..count {
            stripes.push(reader.entry()?);
        }
        if reader.at != body.len() {
            return Err(bad("total_len"));
        }
        let manifest = Self {
            segment: segment.to_owned(),
            generation: le_u64(body, 16),
            deleted: flags & FLAG_DELETED != 0,
            next_stripe: le_u64(body, 24),
            start: le_u64(body, 32),
            end: le_u64(body, 40),
            stripes,
        };
        manifest.check()?;
        Ok(manifest)
    }
}

fn bad(field: &'static str) -> FormatError {
    FormatError::BadField { what: WHAT, field }
}

/// Walks the entries, every read bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.at.checked_add(n).ok_or(bad("total_len"))?;
        let slice = self.bytes.get(self.at..end).ok_or(bad("total_len"))?;
        self.at = end;
        Ok(slice)
    }

    fn entry(&mut self) -> Result<StripeEntry, FormatError> {
        let fixed = self.take(ENTRY_FIXED_LEN)?;
        let codec = Codec::from_code(fixed[24]).ok_or(bad("codec"))?;
        if fixed[27] != 0 {
            return Err(bad("reserved"));
        }
        let geometry = Geometry {
            codec,
            k: fixed[25],
            m: fixed[26],
            cell_size: le_u32(fixed, 20),
        };
        geometry.check(WHAT)?;
        let n = geometry.shards();
        let dirs = self.take(n)?.to_vec();
        let crcs = self
            .take(4 * n)?
            .chunks_exact(4)
            .map(|c| le_u32(c, 0))
            .collect();
        Ok(StripeEntry {
            stripe: le_u64(fixed, 0),
            offset: le_u64(fixed, 8),
            data_len: le_u32(fixed, 16),
            geometry,
            dirs,
            crcs,
        })
    }
}
