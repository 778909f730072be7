//! Turns a segment's bytes, fed in chunks of any size, back into events,
//! checking each one bit-exact against its deterministic encoding.
//!
//! The parser also keeps a running CRC32C of every byte it has accepted, so
//! a reader can record "the first N bytes had digest D" and the verifier can
//! later prove those bytes are still there, unchanged.

use crate::event::{self, EventId, HEADER_BYTES, MAX_BODY_BYTES};

/// One event found in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// Offset of the event's first byte.
    pub offset: u64,
    /// Offset just past its last byte (the next event's offset).
    pub end: u64,
    /// Which event it is.
    pub id: EventId,
    /// CRC32C of the segment's bytes `0..end` (when parsing began at 0).
    pub digest: u32,
}

/// Bytes that are not the event they claim to be. Parsing cannot go on
/// past it: the next event's position is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt bytes at offset {offset}: {reason}")]
pub struct Corrupt {
    /// Where the bad event starts.
    pub offset: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// A streaming parser of one segment.
#[derive(Debug)]
pub struct Parser {
    segment: String,
    /// Offset of `pending[0]`: the end of the last whole event.
    boundary: u64,
    /// CRC32C of the bytes before `boundary`.
    digest: u32,
    /// Bytes of an event not yet complete.
    pending: Vec<u8>,
}

impl Parser {
    /// A parser of `segment` from its first byte.
    pub fn new(segment: &str) -> Self {
        Parser {
            segment: segment.to_owned(),
            boundary: 0,
            digest: 0,
            pending: Vec::new(),
        }
    }

    /// Offset just past the last whole event: where a new read must start
    /// after the partial event is dropped.
    pub fn boundary(&self) -> u64 {
        self.boundary
    }

    /// CRC32C of the bytes before `boundary()`.
    pub fn digest(&self) -> u32 {
        self.digest
    }

    /// Offset of the next byte `feed` expects.
    pub fn next_offset(&self) -> u64 {
        self.boundary + self.pending.len() as u64
    }

    /// Forgets a partial event (its bytes will be read again).
    pub fn drop_partial(&mut self) {
        self.pending.clear();
    }

    /// Accepts the next bytes and appends the events they complete to
    /// `out`. After an error the parser is stuck at the bad event.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Observed>) -> Result<(), Corrupt> {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        let result = loop {
            match self.next_event(&self.pending[start..]) {
                Ok(Some((id, len))) => {
                    let event = &self.pending[start..start + len];
                    let offset = self.boundary;
                    self.digest = crc32c::crc32c_append(self.digest, event);
                    self.boundary += len as u64;
                    out.push(Observed {
                        offset,
                        end: self.boundary,
                        id,
                        digest: self.digest,
                    });
                    start += len;
                }
                Ok(None) => break Ok(()),
                Err(reason) => {
                    break Err(Corrupt {
                        offset: self.boundary,
                        reason,
                    });
                }
            }
        };
        self.pending.drain(..start);
        result
    }

    /// The whole event at the start of `bytes` (its id and length), `None`
    /// if more bytes are needed, or why these bytes are not an event.
    fn next_event(&self, bytes: &[u8]) -> Result<Option<(EventId, usize)>, String> {
        let Some(header) = bytes.first_chunk::<HEADER_BYTES>() else {
            // A partial header can still be checked for its magic.
            let known = bytes.len().min(event::MAGIC.len());
            if bytes[..known] != event::MAGIC[..known] {
                return Err(format!("no event magic: {:02x?}", &bytes[..known]));
            }
            return Ok(None);
        };
        let Some(header) = event::read_header(header) else {
            return Err(format!("no event magic: {:02x?}", &bytes[..4]));
        };
        let expected = event::body_len(&self.segment, header.id);
        // Checked before waiting for the body, so a garbled length never
        // makes the parser wait for (or buffer) gigabytes.
        if header.body_len as usize != expected {
            return Err(format!(
                "writer {} event {} claims {} body bytes; it has {expected}",
                header.id.writer, header.id.number, header.body_len
            ));
        }
        debug_assert!(expected <= MAX_BODY_BYTES);
        let len = HEADER_BYTES + expected;
        let Some(found) = bytes.get(..len) else {
            return Ok(None);
        };
        let wanted = event::encode(&self.segment, header.id);
        if let Some(at) = found.iter().zip(&wanted).position(|(a, b)| a != b) {
            return Err(format!(
                "writer {} event {}: byte {at} is {:#04x}, not {:#04x}",
                header.id.writer, header.id.number, found[at], wanted[at]
            ));
        }
        Ok(Some((header.id, len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(writer: u32, number: u64) -> EventId {
        EventId { writer, number }
    }

    fn stream(segment: &str, ids: &[EventId]) -> Vec<u8> {
        ids.iter()
            .flat_map(|&id| event::encode(segment, id))
            .collect()
    }

    #[test]
    fn events_come_back_whatever_the_chunking() {
        let ids = [id(0, 0), id(1, 0), id(0, 1), id(2, 0), id(1, 1)];
        let bytes = stream("s/x", &ids);
        for chunk in [1, 3, 7, 20, 21, 4096, bytes.len()] {
            let mut parser = Parser::new("s/x");
            let mut out = Vec::new();
            for piece in bytes.chunks(chunk) {
                parser.feed(piece, &mut out).expect("valid stream");
            }
            let found: Vec<EventId> = out.iter().map(|o| o.id).collect();
            assert_eq!(found, ids, "chunks of {chunk}");
            assert_eq!(parser.boundary(), bytes.len() as u64);
            assert_eq!(parser.digest(), crc32c::crc32c(&bytes));
        }
    }

    #[test]
    fn a_flipped_bit_is_corruption_at_its_event() {
        let ids = [id(0, 0), id(0, 1), id(0, 2)];
        let mut bytes = stream("s/x", &ids);
        let second = event::encode("s/x", ids[0]).len();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x10;
        let mut parser = Parser::new("s/x");
        let mut out = Vec::new();
        let error = parser.feed(&bytes, &mut out).expect_err("corrupt");
        let third = second + event::encode("s/x", ids[1]).len();
        assert_eq!(error.offset, third as u64);
        assert_eq!(out.len(), 2, "the events before it are still reported");
    }

    #[test]
    fn an_event_from_another_segment_does_not_parse() {
        let bytes = stream("s/other", &[id(0, 0), id(0, 1), id(0, 2), id(0, 3)]);
        let mut parser = Parser::new("s/x");
        let result = parser.feed(&bytes, &mut Vec::new());
        // Lengths or bodies differ somewhere among four events.
        assert!(result.is_err());
    }

    #[test]
    fn garbage_is_caught_before_a_whole_header_arrives() {
        let mut parser = Parser::new("s/x");
        let error = parser.feed(b"SPX", &mut Vec::new()).expect_err("bad magic");
        assert_eq!(error.offset, 0);
    }

    #[test]
    fn a_partial_event_waits_and_can_be_dropped() {
        let bytes = stream("s/x", &[id(0, 0), id(0, 1)]);
        let first = event::encode("s/x", id(0, 0)).len();
        let mut parser = Parser::new("s/x");
        let mut out = Vec::new();
        parser.feed(&bytes[..first + 5], &mut out).expect("valid");
        assert_eq!(out.len(), 1);
        assert_eq!(parser.next_offset(), first as u64 + 5);
        parser.drop_partial();
        assert_eq!(parser.next_offset(), first as u64);
        parser.feed(&bytes[first..], &mut out).expect("valid");
        assert_eq!(out.len(), 2);
    }
}
