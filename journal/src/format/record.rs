//! Record encoding.
//!
//! A record is a 40-byte header, the payload, and zero padding to a multiple of
//! 8 bytes, so every header starts 8-byte aligned within its file:
//!
//! | bytes  | field        | meaning                                              |
//! |--------|--------------|------------------------------------------------------|
//! | 0..4   | crc          | CRC32C of bytes 4..40 and of the payload             |
//! | 4..8   | payload_len  | payload bytes (≤ the configured maximum)            |
//! | 8..16  | lsn          | this record's log sequence number                    |
//! | 16..24 | file_seq     | sequence number of the file the record was written to |
//! | 24..32 | durable_lsn  | every LSN below this was durable when it was encoded |
//! | 32     | kind         | 1 data, 2 checkpoint                                 |
//! | 33..40 | reserved     | zero                                                 |
//!
//! `file_seq` ties a record to one use of a physical file, so records left over
//! from before a file was recycled never pass for current ones. `durable_lsn` is
//! the evidence recovery uses to tell a torn tail (never acknowledged) from
//! corruption of acknowledged data.

use super::{Lsn, le_u32, le_u64};

pub const RECORD_HEADER_LEN: usize = 40;
/// Records start at multiples of this within a file.
pub const RECORD_ALIGN: usize = 8;

/// What a record means to the journal. Payloads are opaque either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Caller data.
    Data,
    /// A caller checkpoint: recovery starts from the last durable one.
    Checkpoint,
}

impl RecordKind {
    fn code(self) -> u8 {
        match self {
            RecordKind::Data => 1,
            RecordKind::Checkpoint => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(RecordKind::Data),
            2 => Some(RecordKind::Checkpoint),
            _ => None,
        }
    }
}

/// A decoded record header whose fields are well-formed. Its checksum is not
/// verified yet: that needs the payload (see [`RecordHeader::verify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub crc: u32,
    pub payload_len: u32,
    pub lsn: Lsn,
    pub file_seq: u64,
    pub durable_lsn: Lsn,
    pub kind: RecordKind,
}

/// Bytes a record with `payload_len` bytes of payload occupies, padding included.
pub const fn record_footprint(payload_len: usize) -> usize {
    RECORD_HEADER_LEN + payload_len.next_multiple_of(RECORD_ALIGN)
}

/// Fields of a record to encode.
#[derive(Clone, Copy, Debug)]
pub struct RecordIdentity {
    pub kind: RecordKind,
    pub lsn: Lsn,
    pub file_seq: u64,
    pub durable_lsn: Lsn,
}

/// Encodes a record into the start of `dst` and returns its footprint.
///
/// Panics if `dst` is shorter than the footprint: callers size their buffers.
pub fn encode_record(dst: &mut [u8], id: RecordIdentity, payload: &[u8]) -> usize {
    let footprint = record_footprint(payload.len());
    assert!(
        dst.len() >= footprint,
        "record of {footprint} bytes into {} bytes",
        dst.len()
    );
    let payload_len = u32::try_from(payload.len()).expect("payload length fits u32");
    let (header, rest) = dst.split_at_mut(RECORD_HEADER_LEN);
    header[4..8].copy_from_slice(&payload_len.to_le_bytes());
    header[8..16].copy_from_slice(&id.lsn.to_le_bytes());
    header[16..24].copy_from_slice(&id.file_seq.to_le_bytes());
    header[24..32].copy_from_slice(&id.durable_lsn.to_le_bytes());
    header[32] = id.kind.code();
    header[33..40].fill(0);
    rest[..payload.len()].copy_from_slice(payload);
    rest[payload.len()..footprint - RECORD_HEADER_LEN].fill(0);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[4..]), payload);
    header[0..4].copy_from_slice(&crc.to_le_bytes());
    footprint
}

impl RecordHeader {
    /// Decodes the header at the start of `bytes`. `None` if the bytes cannot be
    /// a header: too short, unknown kind, non-zero reserved bytes, or a payload
    /// longer than `max_payload`.
    pub fn decode(bytes: &[u8], max_payload: u32) -> Option<Self> {
        let header = bytes.get(..RECORD_HEADER_LEN)?;
        if header[33..40].iter().any(|&b| b != 0) {
            return None;
        }
        let payload_len = le_u32(header, 4);
        if payload_len > max_payload {
            return None;
        }
        Some(Self {
            crc: le_u32(header, 0),
            payload_len,
            lsn: le_u64(header, 8),
            file_seq: le_u64(header, 16),
            durable_lsn: le_u64(header, 24),
            kind: RecordKind::from_code(header[32])?,
        })
    }

    /// Checks the CRC over `header_bytes` (the 40 header bytes) and `payload`.
    pub fn verify(&self, header_bytes: &[u8], payload: &[u8]) -> bool {
        let crc =
            crc32c::crc32c_append(crc32c::crc32c(&header_bytes[4..RECORD_HEADER_LEN]), payload);
        crc == self.crc && payload.len() == self.payload_len as usize
    }

    pub fn footprint(&self) -> usize {
        record_footprint(self.payload_len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(lsn: Lsn) -> RecordIdentity {
        RecordIdentity {
            kind: RecordKind::Data,
            lsn,
            file_seq: 3,
            durable_lsn: lsn - 1,
        }
    }

    #[test]
    fn records_round_trip() {
        let mut buf = vec![0xAAu8; 128];
        let n = encode_record(&mut buf, id(7), b"hello");
        assert_eq!(n, 48);
        let header = RecordHeader::decode(&buf, 1024).expect("decodes");
        assert_eq!((header.lsn, header.file_seq, header.durable_lsn), (7, 3, 6));
        assert!(header.verify(&buf[..40], &buf[40..45]));
        assert_eq!(&buf[45..48], &[0, 0, 0], "padding is zeroed");
    }

    #[test]
    fn any_flipped_bit_fails_the_check() {
        let mut buf = vec![0u8; 64];
        let n = encode_record(&mut buf, id(1), b"payload!");
        for bit in 0..(RECORD_HEADER_LEN + 8) * 8 {
            let mut copy = buf[..n].to_vec();
            copy[bit / 8] ^= 1 << (bit % 8);
            let ok = RecordHeader::decode(&copy, 1024).is_some_and(|h| {
                copy.get(40..40 + h.payload_len as usize)
                    .is_some_and(|p| h.verify(&copy[..40], p))
            });
            assert!(!ok, "flipping bit {bit} went unnoticed");
        }
    }

    /// Pins the format: if this changes, old journals no longer read.
    #[test]
    fn golden_record_bytes() {
        let mut buf = vec![0u8; 48];
        encode_record(
            &mut buf,
            RecordIdentity {
                kind: RecordKind::Checkpoint,
                lsn: 2,
                file_seq: 1,
                durable_lsn: 1,
            },
            b"ckpt",
        );
        let expected_tail: [u8; 44] = [
            4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2,
            0, 0, 0, 0, 0, 0, 0, b'c', b'k', b'p', b't', 0, 0, 0, 0,
        ];
        assert_eq!(&buf[4..48], &expected_tail);
        let crc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        assert_eq!(
            crc,
            crc32c::crc32c_append(crc32c::crc32c(&buf[4..40]), b"ckpt")
        );
    }
}
