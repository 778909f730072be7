//! Helpers shared by the protocol tests.

use spate_wire::fuzz::{sample_replies, sample_requests};
use spate_wire::{DEFAULT_MAX_FRAME_BYTES, Decoded, Encode, Frame, FrameEncoder, decode_frame};

/// Encodes `message` as one frame under the default limit.
pub fn encode<M: Encode + ?Sized>(message: &M, request_id: u64) -> Vec<u8> {
    let mut out = Vec::new();
    FrameEncoder::new(DEFAULT_MAX_FRAME_BYTES)
        .encode(message, request_id, &mut out)
        .expect("sample messages encode");
    out
}

/// Decodes exactly one complete frame from `bytes`.
pub fn single_frame(bytes: &[u8]) -> Frame<'_> {
    match decode_frame(bytes, DEFAULT_MAX_FRAME_BYTES).expect("valid frame") {
        Decoded::Frame(frame) => {
            assert_eq!(frame.len(), bytes.len(), "one frame, no trailing bytes");
            frame
        }
        Decoded::NeedMore(n) => panic!("frame incomplete, needs {n} more"),
    }
}

/// Every sample message, requests then replies, each as one encoded frame.
pub fn sample_frames() -> Vec<Vec<u8>> {
    let requests = sample_requests().into_iter().map(|m| encode(&m, 1));
    let replies = sample_replies().into_iter().map(|m| encode(&m, 2));
    requests.chain(replies).collect()
}
