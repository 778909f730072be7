//! The file header, in block 0 of every journal file.
//!
//! | bytes  | field          | meaning                                           |
//! |--------|----------------|---------------------------------------------------|
//! | 0..8   | magic          | `SPATEJNL`                                        |
//! | 8..12  | version        | format version, 1                                 |
//! | 12..16 | reserved       | zero                                              |
//! | 16..24 | journal_id     | the journal this file belongs to                  |
//! | 24..32 | file_seq       | increases by one for every file the journal starts |
//! | 32..40 | start_lsn      | LSN of the first record in this file              |
//! | 40..48 | retain_lsn     | the release floor when the file started: recovery starts at the file holding it, 0 for the first file |
//! | 48..52 | crc            | CRC32C of bytes 0..48                             |
//!
//! The rest of the block is zero. The header is written together with the first
//! records of the file, in the same write.

use super::{Lsn, le_u32, le_u64};

pub const MAGIC: [u8; 8] = *b"SPATEJNL";
pub const VERSION: u32 = 1;
pub const FILE_HEADER_LEN: usize = 52;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    pub journal_id: u64,
    pub file_seq: u64,
    pub start_lsn: Lsn,
    /// Where recovery starts: the caller's release floor when this file was
    /// started (never past a durable checkpoint). 0 means the first file.
    pub retain_lsn: Lsn,
}

/// Why a block is not a valid header of this journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderDefect {
    /// Never written, or overwritten: no magic. A free file.
    NoMagic,
    UnsupportedVersion(u32),
    BadChecksum,
}

impl FileHeader {
    pub fn encode(&self, dst: &mut [u8]) {
        let dst = &mut dst[..FILE_HEADER_LEN];
        dst[0..8].copy_from_slice(&MAGIC);
        dst[8..12].copy_from_slice(&VERSION.to_le_bytes());
        dst[12..16].fill(0);
        dst[16..24].copy_from_slice(&self.journal_id.to_le_bytes());
        dst[24..32].copy_from_slice(&self.file_seq.to_le_bytes());
        dst[32..40].copy_from_slice(&self.start_lsn.to_le_bytes());
        dst[40..48].copy_from_slice(&self.retain_lsn.to_le_bytes());
        let crc = crc32c::crc32c(&dst[..48]);
        dst[48..52].copy_from_slice(&crc.to_le_bytes());
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, HeaderDefect> {
        let Some(bytes) = bytes.get(..FILE_HEADER_LEN) else {
            return Err(HeaderDefect::NoMagic);
        };
        if bytes[0..8] != MAGIC {
            return Err(HeaderDefect::NoMagic);
        }
        if crc32c::crc32c(&bytes[..48]) != le_u32(bytes, 48) {
            return Err(HeaderDefect::BadChecksum);
        }
        let version = le_u32(bytes, 8);
        if version != VERSION {
            return Err(HeaderDefect::UnsupportedVersion(version));
        }
        Ok(Self {
            journal_id: le_u64(bytes, 16),
            file_seq: le_u64(bytes, 24),
            start_lsn: le_u64(bytes, 32),
            retain_lsn: le_u64(bytes, 40),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_reject_damage() {
        let header = FileHeader {
            journal_id: 9,
            file_seq: 4,
            start_lsn: 100,
            retain_lsn: 90,
        };
        let mut block = vec![0u8; 4096];
        header.encode(&mut block);
        assert_eq!(FileHeader::decode(&block), Ok(header));
        block[30] ^= 1;
        assert_eq!(FileHeader::decode(&block), Err(HeaderDefect::BadChecksum));
        assert_eq!(FileHeader::decode(&[0u8; 4096]), Err(HeaderDefect::NoMagic));
    }

    /// Pins the format.
    #[test]
    fn golden_header_bytes() {
        let header = FileHeader {
            journal_id: 1,
            file_seq: 2,
            start_lsn: 3,
            retain_lsn: 0,
        };
        let mut block = vec![0u8; 64];
        header.encode(&mut block);
        assert_eq!(&block[..8], b"SPATEJNL");
        assert_eq!(
            &block[8..48],
            &[
                1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
    }
}
