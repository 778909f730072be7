//! Writing frames: header, rkyv body and CRC, straight into the caller's buffer.
//!
//! The body is serialized in place after a zeroed header, then the header is
//! filled in once the body length and CRC are known, so an append's payload is
//! copied exactly once (into the output buffer).

use bytes::BytesMut;
use rkyv::api::high::HighSerializer;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::ser::{Positional, Writer};

use crate::error::{DecodeError, EncodeError};
use crate::header::{
    HANDSHAKE_VERSION, HEADER_LEN, MAX_VERSION, MIN_VERSION, header_bytes, seal_header,
};
use crate::msg::{Encode, MessageType};

mod sealed {
    pub trait Sealed {}
    impl Sealed for Vec<u8> {}
    impl Sealed for bytes::BytesMut {}
}

/// A growable byte buffer frames can be written into: `Vec<u8>` or
/// `bytes::BytesMut`. Sealed.
pub trait FrameBuf: sealed::Sealed {
    #[doc(hidden)]
    fn len(&self) -> usize;
    #[doc(hidden)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    #[doc(hidden)]
    fn extend_from_slice(&mut self, bytes: &[u8]);
    #[doc(hidden)]
    fn truncate(&mut self, len: usize);
    #[doc(hidden)]
    fn bytes_mut(&mut self) -> &mut [u8];
}

impl FrameBuf for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl FrameBuf for BytesMut {
    fn len(&self) -> usize {
        BytesMut::len(self)
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        BytesMut::extend_from_slice(self, bytes);
    }
    fn truncate(&mut self, len: usize) {
        BytesMut::truncate(self, len);
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// rkyv writer that appends to a [`FrameBuf`] and reports positions relative
/// to the start of the body, which is what rkyv's relative pointers need.
pub(crate) struct BodyWriter<'b, B> {
    out: &'b mut B,
    start: usize,
}

impl<B: FrameBuf> Positional for BodyWriter<'_, B> {
    fn pos(&self) -> usize {
        self.out.len() - self.start
    }
}

impl<B: FrameBuf, E> Writer<E> for BodyWriter<'_, B> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), E> {
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

/// Appends the rkyv archive of `value` to `out`.
pub(crate) fn write_archive<T, B>(value: &T, out: &mut B) -> Result<(), rancor::Error>
where
    B: FrameBuf,
    T: for<'a, 'b> rkyv::Serialize<
            HighSerializer<BodyWriter<'b, B>, ArenaHandle<'a>, rancor::Error>,
        >,
{
    let start = out.len();
    rkyv::api::high::to_bytes_in::<_, rancor::Error>(value, BodyWriter { out, start })?;
    Ok(())
}

/// Writes frames for one connection: knows its version and frame limit.
#[derive(Debug, Clone, Copy)]
pub struct FrameEncoder {
    version: u16,
    max_frame_bytes: u32,
}

impl FrameEncoder {
    /// An encoder at the handshake version, for a connection whose handshake
    /// is not done yet; switch with [`Self::with_version`] afterwards.
    pub fn new(max_frame_bytes: u32) -> Self {
        FrameEncoder {
            version: HANDSHAKE_VERSION,
            max_frame_bytes,
        }
    }

    /// The same encoder speaking the version agreed in the handshake. Fails
    /// if this build does not speak `version` (a peer's `HelloReply` may name
    /// anything).
    pub fn with_version(self, version: u16) -> Result<Self, DecodeError> {
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return Err(DecodeError::UnsupportedVersion { version });
        }
        Ok(FrameEncoder { version, ..self })
    }

    /// Appends one frame carrying `msg` to `out`; returns the frame's length.
    /// On error `out` is left as it was.
    pub fn encode<M, B>(&self, msg: &M, request_id: u64, out: &mut B) -> Result<usize, EncodeError>
    where
        M: Encode + ?Sized,
        B: FrameBuf,
    {
        let start = out.len();
        let result = self.encode_at(msg, request_id, out, start);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Writes a zeroed header, the body, then the real header over the zeros.
    fn encode_at<M, B>(
        &self,
        msg: &M,
        request_id: u64,
        out: &mut B,
        start: usize,
    ) -> Result<usize, EncodeError>
    where
        M: Encode + ?Sized,
        B: FrameBuf,
    {
        out.extend_from_slice(&[0; HEADER_LEN]);
        msg.write_body(out).map_err(EncodeError::Serialize)?;
        let frame_len = out.len() - start;
        let body_len = self.check_frame_len(frame_len)?;
        let msg_type = msg.message_type();
        let mut header = header_bytes(self.version_for(msg_type), msg_type, body_len, request_id);
        let frame = &mut out.bytes_mut()[start..];
        seal_header(&mut header, &frame[HEADER_LEN..]);
        frame[..HEADER_LEN].copy_from_slice(&header);
        Ok(frame_len)
    }

    /// The body length for the header, if the frame is within the limit.
    fn check_frame_len(&self, frame_len: usize) -> Result<u32, EncodeError> {
        let too_large = || EncodeError::FrameTooLarge {
            frame_len: frame_len as u64,
            max: self.max_frame_bytes,
        };
        if frame_len > self.max_frame_bytes as usize {
            return Err(too_large());
        }
        u32::try_from(frame_len - HEADER_LEN).map_err(|_| too_large())
    }

    /// Handshake frames are always written at the frozen handshake version.
    fn version_for(&self, msg_type: MessageType) -> u16 {
        match msg_type {
            MessageType::Hello | MessageType::HelloReply => HANDSHAKE_VERSION,
            _ => self.version,
        }
    }
}
