//! Finding and checking one frame in a byte slice, without copying.
//!
//! [`decode_frame`] is the stateless core: given the unconsumed bytes of a
//! receive buffer it either says how many more bytes it needs or returns a
//! [`Frame`] borrowing its body from that buffer. [`crate::FrameDecoder`]
//! builds on it for callers that receive bytes in arbitrary pieces.

use crate::error::DecodeError;
use crate::header::{FrameHeader, HEADER_LEN};
use crate::msg::{ReplyRef, RequestRef};

/// A complete, CRC-checked frame whose body borrows from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub header: FrameHeader,
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Bytes the frame occupies in the stream: header plus body.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }

    /// Always false: a frame has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Validates the body as a request and views it in place.
    pub fn request(&self) -> Result<RequestRef<'a>, DecodeError> {
        RequestRef::decode(self.header.msg_type, self.body)
    }

    /// Validates the body as a reply and views it in place.
    pub fn reply(&self) -> Result<ReplyRef<'a>, DecodeError> {
        ReplyRef::decode(self.header.msg_type, self.body)
    }
}

/// The result of looking for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// At least this many more bytes are needed before anything can be said.
    NeedMore(usize),
    /// A complete frame.
    Frame(Frame<'a>),
}

/// Looks for one frame at the start of `buf`.
///
/// The header is checked as soon as its bytes are present, so a declared
/// length over `max_frame_bytes` fails before the caller buffers any body.
/// On `Frame(f)` the caller consumes `f.len()` bytes.
pub fn decode_frame(buf: &[u8], max_frame_bytes: u32) -> Result<Decoded<'_>, DecodeError> {
    let Some((header_bytes, rest)) = buf.split_first_chunk::<HEADER_LEN>() else {
        return Ok(Decoded::NeedMore(HEADER_LEN - buf.len()));
    };
    let header = FrameHeader::parse(header_bytes, max_frame_bytes)?;
    let body_len = header.body_len as usize;
    let Some(body) = rest.get(..body_len) else {
        return Ok(Decoded::NeedMore(body_len - rest.len()));
    };
    header.check_crc(header_bytes, body)?;
    Ok(Decoded::Frame(Frame { header, body }))
}
