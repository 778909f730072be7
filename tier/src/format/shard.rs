//! Shard files: one cell of one stripe, behind a header that names it.
//!
//! A shard file is a 4 KiB header block followed by the cell (so the cell
//! starts aligned, ready for O_DIRECT later). The header is the *stripe
//! header*: every shard of a stripe repeats it, so any k surviving shards
//! describe their stripe without the manifest.
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0..4 | magic | `SPTS` |
//! | 4..6 | version | 1 |
//! | 6 | codec | 1 = reed-solomon-simd (Leopard, GF(2^16)) |
//! | 7 | k | data cells per stripe |
//! | 8 | m | parity cells per stripe |
//! | 9 | shard | this cell's index: 0..k data, k..k+m parity |
//! | 10..12 | name_len | bytes of the segment name |
//! | 12..16 | cell_size | configured cell size of the stripe |
//! | 16..20 | cell_len | bytes of every cell of this stripe |
//! | 20..24 | data_len | segment bytes in the stripe |
//! | 24..32 | stripe | stripe number within the segment |
//! | 32..40 | offset | segment offset of the stripe's first byte |
//! | 40..44 | cell_crc | see [`cell_crc`] |
//! | 44..60 | reserved | zero |
//! | 60..64 | header_crc | CRC32C of bytes 0..60, then the name |
//! | 64..64+name_len | name | the segment name, UTF-8 |
//! | ..4096 | padding | zero |
//! | 4096..4096+cell_len | cell | the cell's bytes |
//!
//! All integers little-endian.

use super::geometry::{Codec, Geometry, MAX_NAME_BYTES};
use super::{FormatError, le_u16, le_u32, le_u64};

pub const SHARD_MAGIC: [u8; 4] = *b"SPTS";
pub const SHARD_VERSION: u16 = 1;
/// Bytes before the cell.
pub const SHARD_HEADER_LEN: usize = 4096;
const FIXED_LEN: usize = 64;
const WHAT: &str = "shard header";

/// Which cell of which stripe of which segment: what the cell checksum binds
/// the bytes to, so a cell read from the wrong file or place never passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellId<'a> {
    pub segment: &'a str,
    /// Segment offset of the stripe's first byte.
    pub offset: u64,
    pub stripe: u64,
    pub shard: u8,
}

/// CRC32C of a cell bound to its identity: the name length (u16 LE), the name,
/// the stripe's segment offset (u64 LE), the stripe number (u64 LE), the shard
/// index (u8), then the cell's bytes.
pub fn cell_crc(id: CellId<'_>, cell: &[u8]) -> u32 {
    let name_len = u16::try_from(id.segment.len()).expect("segment names are checked short");
    let mut crc = crc32c::crc32c(&name_len.to_le_bytes());
    crc = crc32c::crc32c_append(crc, id.segment.as_bytes());
    crc = crc32c::crc32c_append(crc, &id.offset.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &id.stripe.to_le_bytes());
    crc = crc32c::crc32c_append(crc, &[id.shard]);
    crc32c::crc32c_append(crc, cell)
}

/// A decoded shard header whose checksum and fields check out. The cell is
/// verified separately, against the checksum the manifest holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    pub geometry: Geometry,
    pub shard: u8,
    pub cell_len: u32,
    pub data_len: u32,
    pub stripe: u64,
    pub offset: u64,
    pub cell_crc: u32,
    pub segment: String,
}

impl ShardHeader {
    pub fn id(&self) -> CellId<'_> {
        CellId {
            segment: &self.segment,
            offset: self.offset,
            stripe: self.stripe,
            shard: self.shard,
        }
    }

    /// The header block of a shard file.
    pub fn encode(&self) -> Vec<u8> {
        assert!(
            self.segment.len() <= MAX_NAME_BYTES,
            "segment name too long"
        );
        assert!(self.geometry.check(WHAT).is_ok(), "{:?}", self.geometry);
        assert!(usize::from(self.shard) < self.geometry.shards());
        assert_eq!(self.cell_len, self.geometry.cell_len(self.data_len));
        let name_len = u16::try_from(self.segment.len()).expect("checked above");
        let mut out = vec![0u8; SHARD_HEADER_LEN];
        out[0..4].copy_from_slice(&SHARD_MAGIC);
        out[4..6].copy_from_slice(&SHARD_VERSION.to_le_bytes());
        out[6] = self.geometry.codec.code();
        out[7] = self.geometry.k;
        out[8] = self.geometry.m;
        out[9] = self.shard;
        out[10..12].copy_from_slice(&name_len.to_le_bytes());
        out[12..16].copy_from_slice(&self.geometry.cell_size.to_le_bytes());
        out[16..20].copy_from_slice(&self.cell_len.to_le_bytes());
        out[20..24].copy_from_slice(&self.data_len.to_le_bytes());
        out[24..32].copy_from_slice(&self.stripe.to_le_bytes());
        out[32..40].copy_from_slice(&self.offset.to_le_bytes());
        out[40..44].copy_from_slice(&self.cell_crc.to_le_bytes());
        let name_end = FIXED_LEN + self.segment.len();
        out[FIXED_LEN..name_end].copy_from_slice(self.segment.as_bytes());
        let crc = header_crc(&out[..60], self.segment.as_bytes());
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes the header at the start of `bytes` (at least the fixed part and
    /// the name; the padding is not checked, so a reader may pass just the
    /// header block or the whole file).
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let too_short = FormatError::TooShort {
            what: WHAT,
            len: bytes.len(),
        };
        let fixed = bytes.get(..FIXED_LEN).ok_or(too_short)?;
        if fixed[0..4] != SHARD_MAGIC {
            return Err(FormatError::BadMagic { what: WHAT });
        }
        let version = le_u16(fixed, 4);
        if version != SHARD_VERSION {
            return Err(FormatError::BadVersion {
                what: WHAT,
                version,
            });
        }
        let name_len = usize::from(le_u16(fixed, 10));
        if name_len == 0 || name_len > MAX_NAME_BYTES {
            return Err(bad("name_len"));
        }
        let name = bytes
            .get(FIXED_LEN..FIXED_LEN + name_len)
            .ok_or(too_short)?;
        if header_crc(&fixed[..60], name) != le_u32(fixed, 60) {
            return Err(FormatError::BadChecksum { what: WHAT });
        }
        if fixed[44..60].iter().any(|&b| b != 0) {
            return Err(bad("reserved"));
        }
        let codec = Codec::from_code(fixed[6]).ok_or(bad("codec"))?;
        let geometry = Geometry {
            codec,
            k: fixed[7],
            m: fixed[8],
            cell_size: le_u32(fixed, 12),
        };
        geometry.check(WHAT)?;
        let shard = fixed[9];
        if usize::from(shard) >= geometry.shards() {
            return Err(bad("shard"));
        }
        let data_len = le_u32(fixed, 20);
        if !geometry.holds(data_len) {
            return Err(bad("data_len"));
        }
        let cell_len = le_u32(fixed, 16);
        if cell_len != geometry.cell_len(data_len) {
            return Err(bad("cell_len"));
        }
        let segment = std::str::from_utf8(name).map_err(|_| bad("name"))?;
        Ok(Self {
            geometry,
            shard,
            cell_len,
            data_len,
            stripe: le_u64(fixed, 24),
            offset: le_u64(fixed, 32),
            cell_crc: le_u32(fixed, 40),
            segment: segment.to_owned(),
        })
    }
}

fn bad(field: &'static str) -> FormatError {
    FormatError::BadField { what: WHAT, field }
}

fn header_crc(fixed: &[u8], name: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(fixed), name)
}
