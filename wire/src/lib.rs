//! Spate's binary protocol: frames, messages, status codes and limits.
//!
//! No I/O and no runtime: the node and the client own their sockets and hand
//! bytes to this crate. Everything a peer sends is untrusted; every way it can
//! be wrong is a typed [`DecodeError`], never a panic. `docs/wire.md` is the
//! specification; this crate is its implementation.
//!
//! Receiving: feed bytes to a [`FrameDecoder`] (or call [`decode_frame`] on a
//! buffer), then view the body in place with [`Frame::request`] or
//! [`Frame::reply`]. Sending: [`FrameEncoder::encode`] any message struct,
//! [`Request`] or [`Reply`] into a `Vec<u8>` or `BytesMut`.

mod decoder;
mod encode;
mod error;
mod frame;
pub mod fuzz;
mod header;
mod limits;
mod msg;
mod name;
mod status;
pub mod stream;

pub use decoder::{FrameDecoder, RETAINED_BODY_CAPACITY, Step};
pub use encode::{FrameBuf, FrameEncoder};
pub use error::{DecodeError, EncodeError, FieldError};
pub use frame::{Decoded, Frame, decode_frame};
pub use header::{
    FrameHeader, HANDSHAKE_VERSION, HEADER_LEN, KNOWN_FLAGS, MAGIC, MAX_VERSION, MIN_VERSION,
    frame_crc,
};
pub use limits::*;
pub use msg::*;
pub use name::{NameError, container_for, validate_segment_name};
pub use status::{ArchivedRetryAdvice, RetryAdvice, StatusCode};
