//! The events the crash loop writes: every byte is a pure function of
//! (segment, writer, event number).
//!
//! A segment is a byte stream, so each event carries a small header that
//! names it; the rest is derived from the header's fields. A reader can then
//! check any event bit-exact without knowing what was sent, and an event
//! that lands in the wrong segment, under the wrong number or with one byte
//! changed no longer matches its own header. Determinism also makes resends
//! harmless: a restarted writer that reuses a number sends the same bytes.

/// First bytes of every event: a misaligned parse fails here at once.
pub const MAGIC: [u8; 4] = *b"SPCE";
/// Magic, writer (u32), event number (u64), body length (u32); little endian.
pub const HEADER_BYTES: usize = 20;
/// Largest body: big enough to cross read chunks and journal batches,
/// small enough that an epoch stays within the node's cache.
pub const MAX_BODY_BYTES: usize = 48 * 1024;

/// Which event: a writer's event number. The segment is known from context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    /// The writer's index in the run (its writer id is derived from it).
    pub writer: u32,
    /// The writer's event number in this segment, from 0.
    pub number: u64,
}

/// The exactly-once writer id a writer index appends with. Fixed, so a
/// restarted writer process resumes the same id's numbering on the node.
pub fn writer_id(writer: u32) -> u128 {
    0x5ba7_e000_0000_0000_0000_0000_0000_0000 | u128::from(writer)
}

/// Seed of an event's bytes: the segment name folded in, so an event copied
/// into another segment does not match there.
fn seed(segment: &str, id: EventId) -> u64 {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in segment.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mixed = splitmix(&mut (hash ^ u64::from(id.writer).rotate_left(40)));
    mixed ^ id.number.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// SplitMix64: a tiny, well-mixed generator for the body bytes.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The body length of an event: mostly small, sometimes several KiB, now
/// and then tens of KiB, and sometimes empty, so that events straddle read
/// chunks and batches in every way.
pub fn body_len(segment: &str, id: EventId) -> usize {
    let mut state = seed(segment, id);
    let draw = splitmix(&mut state);
    let class = draw % 64;
    let size = (draw >> 8) as usize;
    match class {
        0 => size % (MAX_BODY_BYTES + 1),
        1..=7 => size % 4097,
        8..=11 => 0,
        _ => size % 257,
    }
}

/// The whole event as it must appear in the segment.
pub fn encode(segment: &str, id: EventId) -> Vec<u8> {
    let len = body_len(segment, id);
    let mut out = Vec::with_capacity(HEADER_BYTES + len);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&id.writer.to_le_bytes());
    out.extend_from_slice(&id.number.to_le_bytes());
    // body_len is at most MAX_BODY_BYTES, far below u32::MAX.
    out.extend_from_slice(&(len as u32).to_le_bytes());
    let mut state = seed(segment, id);
    // The first draw chose the length; the body starts after it.
    splitmix(&mut state);
    while out.len() < HEADER_BYTES + len {
        let word = splitmix(&mut state).to_le_bytes();
        let room = HEADER_BYTES + len - out.len();
        out.extend_from_slice(&word[..room.min(word.len())]);
    }
    out
}

/// An event header read from a segment, not yet checked against the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The event the header names.
    pub id: EventId,
    /// The body length the header claims.
    pub body_len: u32,
}

/// Reads a header from the first `HEADER_BYTES` of `bytes`; `None` if the
/// magic is wrong. The caller supplies at least `HEADER_BYTES` bytes.
pub fn read_header(bytes: &[u8; HEADER_BYTES]) -> Option<Header> {
    let (magic, rest) = bytes.split_first_chunk::<4>()?;
    if *magic != MAGIC {
        return None;
    }
    let (writer, rest) = rest.split_first_chunk::<4>()?;
    let (number, rest) = rest.split_first_chunk::<8>()?;
    let (body_len, _) = rest.split_first_chunk::<4>()?;
    Some(Header {
        id: EventId {
            writer: u32::from_le_bytes(*writer),
            number: u64::from_le_bytes(*number),
        },
        body_len: u32::from_le_bytes(*body_len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_deterministic_and_self_describing() {
        let id = EventId {
            writer: 3,
            number: 17,
        };
        let event = encode("s/a", id);
        assert_eq!(event, encode("s/a", id));
        let header: [u8; HEADER_BYTES] = event[..HEADER_BYTES].try_into().expect("header");
        let header = read_header(&header).expect("magic");
        assert_eq!(header.id, id);
        assert_eq!(header.body_len as usize, body_len("s/a", id));
        assert_eq!(event.len(), HEADER_BYTES + body_len("s/a", id));
    }

    #[test]
    fn the_segment_writer_and_number_all_change_the_bytes() {
        let id = EventId {
            writer: 1,
            number: 2,
        };
        // Compare bodies long enough to differ for sure: find such numbers.
        let long = (0..1000)
            .map(|number| EventId { number, ..id })
            .find(|id| body_len("s/a", *id) > 64 && body_len("s/b", *id) > 64)
            .expect("some long events");
        assert_ne!(
            encode("s/a", long)[HEADER_BYTES..],
            encode("s/b", long)[HEADER_BYTES..]
        );
        let other = EventId {
            number: long.number + 1,
            ..long
        };
        assert_ne!(encode("s/a", long), encode("s/a", other));
    }

    #[test]
    fn lengths_vary_across_classes() {
        let lens: Vec<usize> = (0..5000)
            .map(|number| body_len("s/a", EventId { writer: 0, number }))
            .collect();
        assert!(lens.contains(&0), "some empty events");
        assert!(lens.iter().any(|&len| len > 4096), "some large events");
        assert!(lens.iter().all(|&len| len <= MAX_BODY_BYTES));
    }
}
