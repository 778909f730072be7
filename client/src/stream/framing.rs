//! Events inside a segment: each is `len: u32 LE` then `len` bytes, and an
//! append holds whole events only, so every append boundary is an event
//! boundary and a reader can split any read that starts at one.

use crate::error::ClientError;

/// Bytes before each event's payload.
pub const EVENT_HEADER_BYTES: usize = 4;

/// The framed form of `payload`.
pub fn frame_event(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("events are far below 4 GiB");
    let mut framed = Vec::with_capacity(EVENT_HEADER_BYTES + payload.len());
    framed.extend_from_slice(&len.to_le_bytes());
    framed.extend_from_slice(payload);
    framed
}

/// Splits a segment's bytes into events, carrying a partial event over to
/// the next read.
#[derive(Debug, Default)]
pub struct EventSplitter {
    partial: Vec<u8>,
    /// Offset of `partial`'s first byte in the segment.
    offset: u64,
}

/// One event with the segment offset of its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitEvent {
    /// Segment offset of the event's header.
    pub offset: u64,
    /// The event's bytes.
    pub payload: Vec<u8>,
}

impl EventSplitter {
    /// A splitter for bytes starting at `offset` (an event boundary).
    pub fn at(offset: u64) -> Self {
        Self {
            partial: Vec::new(),
            offset,
        }
    }

    /// Adds the next bytes of the segment; returns the events they complete.
    /// `max_event` bounds a header's length: a larger one means the bytes
    /// are not events (a start offset off a boundary, or a foreign segment).
    pub fn push(&mut self, bytes: &[u8], max_event: usize) -> Result<Vec<SplitEvent>, ClientError> {
        self.partial.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut at = 0;
        while let Some(header) = self.partial.get(at..at + EVENT_HEADER_BYTES) {
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            if len > max_event {
                return Err(ClientError::protocol(format_args!(
                    "an event header at segment offset {} says {len} bytes, over the {max_event} \
                     allowed: the data is not framed events",
                    self.offset + at as u64
                )));
            }
            let Some(payload) = self
                .partial
                .get(at + EVENT_HEADER_BYTES..at + EVENT_HEADER_BYTES + len)
            else {
                break;
            };
            events.push(SplitEvent {
                offset: self.offset + at as u64,
                payload: payload.to_vec(),
            });
            at += EVENT_HEADER_BYTES + len;
        }
        self.partial.drain(..at);
        self.offset += at as u64;
        Ok(events)
    }

    /// True if no partial event is pending (the reader stopped on a boundary).
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_any_read_boundaries() {
        let payloads: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; i as usize * 7]).collect();
        let bytes: Vec<u8> = payloads.iter().flat_map(|p| frame_event(p)).collect();
        for chunk in [1, 3, 4, 5, 64, bytes.len()] {
            let mut splitter = EventSplitter::at(100);
            let mut got = Vec::new();
            for piece in bytes.chunks(chunk) {
                got.extend(splitter.push(piece, 1 << 20).expect("framed"));
            }
            assert!(splitter.is_empty());
            let got_payloads: Vec<Vec<u8>> = got.iter().map(|e| e.payload.clone()).collect();
            assert_eq!(got_payloads, payloads, "chunk {chunk}");
            assert_eq!(got[0].offset, 100);
            assert_eq!(got[1].offset, 100 + 4);
        }
    }

    #[test]
    fn a_header_over_the_bound_is_an_error() {
        let mut splitter = EventSplitter::at(0);
        assert!(splitter.push(&u32::MAX.to_le_bytes(), 1024).is_err());
    }
}
