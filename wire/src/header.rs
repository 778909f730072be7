//! The fixed frame header: layout, parsing and writing.
//!
//! ```text
//! offset size field       encoding
//!  0      4   magic       b"SPTW"
//!  4      2   version     u16 little-endian, protocol version of this frame
//!  6      2   msg_type    u16 LE, a `MessageType` code
//!  8      2   flags       u16 LE, no flag is defined in version 1: must be 0
//! 10      2   reserved    u16 LE, must be 0
//! 12      4   body_len    u32 LE, bytes of body after the header
//! 16      8   request_id  u64 LE, chosen by the requester, echoed in replies
//! 24      4   crc32c      u32 LE, CRC32C (Castagnoli) of bytes 0..24 then the body
//! 28          body        body_len bytes: an rkyv archive of the message
//! ```
//!
//! All checks that need only the header (magic, version, type, flags,
//! reserved, length limit) run as soon as its 28 bytes are in, so a hostile
//! length is rejected before a single body byte is buffered. The CRC needs the
//! body and is checked when the frame is complete.

use crate::error::DecodeError;
use crate::msg::MessageType;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 28;
/// First four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"SPTW";
/// Oldest protocol version this build speaks.
pub const MIN_VERSION: u16 = 1;
/// Newest protocol version this build speaks.
pub const MAX_VERSION: u16 = 1;
/// The version every handshake frame (`Hello`, `HelloReply`, and an `Error`
/// answering a `Hello`) carries, forever: a peer must be able to read the
/// handshake before it knows which versions the other side speaks.
pub const HANDSHAKE_VERSION: u16 = 1;
/// Flag bits this build understands (none yet). Others are rejected so that a
/// future flag cannot be silently ignored.
pub const KNOWN_FLAGS: u16 = 0;

/// Byte range of the fields covered by the CRC in the header.
const CRC_COVERED: usize = 24;

/// A parsed, checked frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub version: u16,
    pub msg_type: MessageType,
    pub flags: u16,
    pub body_len: u32,
    pub request_id: u64,
    pub crc: u32,
}

impl FrameHeader {
    /// Bytes of the whole frame: header plus body.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.body_len as usize
    }

    /// Parses and checks a header. `max_frame_bytes` bounds the whole frame.
    pub fn parse(bytes: &[u8; HEADER_LEN], max_frame_bytes: u32) -> Result<Self, DecodeError> {
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != MAGIC {
            return Err(DecodeError::BadMagic { found: magic });
        }
        let version = u16_at(bytes, 4);
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return Err(DecodeError::UnsupportedVersion { version });
        }
        let code = u16_at(bytes, 6);
        let msg_type =
            MessageType::from_u16(code).ok_or(DecodeError::UnknownMessageType { code })?;
        let flags = u16_at(bytes, 8);
        if flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::UnknownFlags { flags });
        }
        let reserved = u16_at(bytes, 10);
        if reserved != 0 {
            return Err(DecodeError::ReservedNotZero { value: reserved });
        }
        let body_len = u32_at(bytes, 12);
        let frame_len = HEADER_LEN as u64 + u64::from(body_len);
        if frame_len > u64::from(max_frame_bytes) {
            return Err(DecodeError::FrameTooLarge {
                frame_len,
                max: max_frame_bytes,
            });
        }
        Ok(FrameHeader {
            version,
            msg_type,
            flags,
            body_len,
            request_id: u64_at(bytes, 16),
            crc: u32_at(bytes, 24),
        })
    }

    /// Checks the CRC over the header bytes and `body`.
    pub fn check_crc(&self, header: &[u8; HEADER_LEN], body: &[u8]) -> Result<(), DecodeError> {
        let computed = frame_crc(header, body);
        if computed != self.crc {
            return Err(DecodeError::ChecksumMismatch {
                declared: self.crc,
                computed,
            });
        }
        Ok(())
    }
}

/// The CRC32C of a frame: header bytes 0..24 (everything but the CRC field),
/// then the body.
pub fn frame_crc(header: &[u8; HEADER_LEN], body: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&header[..CRC_COVERED]);
    crc32c::crc32c_append(crc, body)
}

/// The header bytes for a frame, CRC field zero; see [`seal_header`].
pub fn header_bytes(
    version: u16,
    msg_type: MessageType,
    body_len: u32,
    request_id: u64,
) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&MAGIC);
    h[4..6].copy_from_slice(&version.to_le_bytes());
    h[6..8].copy_from_slice(&msg_type.code().to_le_bytes());
    // flags (8..10) and reserved (10..12) stay zero in version 1.
    h[12..16].copy_from_slice(&body_len.to_le_bytes());
    h[16..24].copy_from_slice(&request_id.to_le_bytes());
    h
}

/// Fills in the CRC field of `header` for `body`.
pub fn seal_header(header: &mut [u8; HEADER_LEN], body: &[u8]) {
    let crc = frame_crc(header, body);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
}

fn u16_at(b: &[u8; HEADER_LEN], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8; HEADER_LEN], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8; HEADER_LEN], at: usize) -> u64 {
    let mut le = [0u8; 8];
    le.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(le)
}
