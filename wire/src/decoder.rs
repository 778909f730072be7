//! Incremental frame decoding for a byte stream that arrives in pieces.
//!
//! The decoder takes from its input only the bytes of the current frame, so
//! the caller keeps the rest for the next call. When the decoder holds nothing
//! and the input contains a whole frame, the frame borrows from the input (no
//! copy); otherwise the frame is assembled in the decoder's own buffer.
//!
//! Memory per connection is bounded by the bytes the peer actually sent for
//! the current frame, never by the length it declared: a header claiming 16
//! MiB followed by silence costs 28 bytes, and a declared length over the
//! limit fails as soon as the header is complete.

use crate::error::DecodeError;
use crate::frame::{Decoded, Frame, decode_frame};
use crate::header::{FrameHeader, HEADER_LEN};

/// After a frame larger than this, the decoder frees its body buffer instead
/// of keeping the capacity, so an idle connection holds little memory.
pub const RETAINED_BODY_CAPACITY: usize = 64 * 1024;

/// What one [`FrameDecoder::decode`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step<'a> {
    /// Bytes taken from the input; the caller passes the rest next time.
    pub consumed: usize,
    pub decoded: Decoded<'a>,
}

/// Turns a byte stream into frames. One per connection.
///
/// After an error the stream has no known frame boundary: every later call
/// fails with [`DecodeError::AfterError`] and the connection must be closed.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame_bytes: u32,
    head: [u8; HEADER_LEN],
    head_len: usize,
    header: Option<FrameHeader>,
    body: Vec<u8>,
    /// The last call returned a frame from `body`; reset before reading on.
    frame_returned: bool,
    failed: bool,
}

impl FrameDecoder {
    /// A decoder that rejects frames (header included) over `max_frame_bytes`.
    pub fn new(max_frame_bytes: u32) -> Self {
        FrameDecoder {
            max_frame_bytes,
            head: [0; HEADER_LEN],
            head_len: 0,
            header: None,
            body: Vec::new(),
            frame_returned: false,
            failed: false,
        }
    }

    /// Takes bytes from `input` until one frame is complete or the input is
    /// used up. A returned frame borrows from `input` or from the decoder and
    /// must be handled before the next call.
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> Result<Step<'a>, DecodeError> {
        if self.failed {
            return Err(DecodeError::AfterError);
        }
        self.reset_after_frame();
        if self.head_len == 0
            && let Some(step) = self.whole_frame(input)?
        {
            return Ok(step);
        }
        self.buffered(input)
    }

    /// Zero-copy path: a whole frame at the start of `input` is returned in
    /// place; anything less is left for [`Self::buffered`].
    fn whole_frame<'a>(&mut self, input: &'a [u8]) -> Result<Option<Step<'a>>, DecodeError> {
        match decode_frame(input, self.max_frame_bytes) {
            Ok(Decoded::Frame(frame)) => {
                let consumed = frame.len();
                Ok(Some(Step {
                    consumed,
                    decoded: Decoded::Frame(frame),
                }))
            }
            Ok(Decoded::NeedMore(_)) => Ok(None),
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }

    /// Copying path: assembles the frame in the decoder's own buffers.
    fn buffered(&mut self, input: &[u8]) -> Result<Step<'_>, DecodeError> {
        let fill = self.fill(input).inspect_err(|_| self.failed = true)?;
        Ok(match fill {
            Fill::Partial { consumed, need } => Step {
                consumed,
                decoded: Decoded::NeedMore(need),
            },
            Fill::Complete { consumed, header } => {
                self.frame_returned = true;
                let frame = Frame {
                    header,
                    body: &self.body,
                };
                Step {
                    consumed,
                    decoded: Decoded::Frame(frame),
                }
            }
        })
    }

    /// Checks, at the end of the stream, that no frame was cut off.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.head_len == 0 || self.frame_returned {
            return Ok(());
        }
        let buffered = self.head_len + self.body.len();
        let missing = match self.header {
            Some(header) => header.frame_len() - buffered,
            None => HEADER_LEN - self.head_len,
        };
        Err(DecodeError::Truncated { buffered, missing })
    }

    /// True if no partial frame is buffered.
    pub fn is_idle(&self) -> bool {
        self.head_len == 0 || self.frame_returned
    }

    fn reset_after_frame(&mut self) {
        if !self.frame_returned {
            return;
        }
        self.frame_returned = false;
        self.head_len = 0;
        self.header = None;
        self.body.clear();
        if self.body.capacity() > RETAINED_BODY_CAPACITY {
            self.body = Vec::new();
        }
    }

    /// Copies the current frame's bytes from `input` into the decoder.
    fn fill(&mut self, input: &[u8]) -> Result<Fill, DecodeError> {
        let mut consumed = 0;
        let header = match self.header {
            Some(header) => header,
            None => {
                let take = (HEADER_LEN - self.head_len).min(input.len());
                self.head[self.head_len..self.head_len + take].copy_from_slice(&input[..take]);
                self.head_len += take;
                consumed = take;
                if self.head_len < HEADER_LEN {
                    return Ok(Fill::Partial {
                        consumed,
                        need: HEADER_LEN - self.head_len,
                    });
                }
                let header = FrameHeader::parse(&self.head, self.max_frame_bytes)?;
                self.header = Some(header);
                header
            }
        };
        let body_len = header.body_len as usize;
        // No reserve for the declared length: the buffer grows only with bytes
        // that actually arrive (see the module comment).
        let take = (body_len - self.body.len()).min(input.len() - consumed);
        self.body
            .extend_from_slice(&input[consumed..consumed + take]);
        consumed += take;
        if self.body.len() < body_len {
            return Ok(Fill::Partial {
                consumed,
                need: body_len - self.body.len(),
            });
        }
        header.check_crc(&self.head, &self.body)?;
        Ok(Fill::Complete { consumed, header })
    }
}

/// How far [`FrameDecoder::fill`] got.
enum Fill {
    Partial {
        consumed: usize,
        need: usize,
    },
    Complete {
        consumed: usize,
        header: FrameHeader,
    },
}
