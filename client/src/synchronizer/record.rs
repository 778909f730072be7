//! The synchronizer's records. Each is one stream event (`len: u32 LE`,
//! then `len` bytes, see `stream::framing`) whose first byte is its kind:
//!
//! | kind | record | body |
//! |---:|---|---|
//! | 1 | update | the state type's encoding of one update |
//! | 2 | snapshot | the state type's encoding of the whole state |
//!
//! One conditional append may hold several update records: they land
//! together or not at all, so a closure's updates are atomic.

use crate::error::ClientError;
use crate::stream::frame_event;

/// Largest record body the synchronizer writes or accepts. Far below the
/// node's frame limit; a state that outgrows it cannot be snapshotted and
/// is the application's bug to bound.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

const UPDATE: u8 = 1;
const SNAPSHOT: u8 = 2;

/// A record read back from the segment.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Record<'a> {
    Update(&'a [u8]),
    Snapshot(&'a [u8]),
}

/// Appends the framed form of a record of `kind` holding `body` to `out`.
fn push(out: &mut Vec<u8>, kind: u8, body: &[u8]) -> Result<(), ClientError> {
    if body.len() > MAX_RECORD_BYTES {
        return Err(ClientError::invalid(format!(
            "a synchronizer record of {} bytes; the most is {MAX_RECORD_BYTES}",
            body.len()
        )));
    }
    let mut payload = Vec::with_capacity(1 + body.len());
    payload.push(kind);
    payload.extend_from_slice(body);
    out.extend_from_slice(&frame_event(&payload));
    Ok(())
}

pub(super) fn push_update(out: &mut Vec<u8>, body: &[u8]) -> Result<(), ClientError> {
    push(out, UPDATE, body)
}

pub(super) fn push_snapshot(out: &mut Vec<u8>, body: &[u8]) -> Result<(), ClientError> {
    push(out, SNAPSHOT, body)
}

/// Parses one event's payload (the framing is already stripped).
pub(super) fn parse(payload: &[u8], offset: u64) -> Result<Record<'_>, ClientError> {
    match payload.split_first() {
        Some((&UPDATE, body)) => Ok(Record::Update(body)),
        Some((&SNAPSHOT, body)) => Ok(Record::Snapshot(body)),
        Some((kind, _)) => Err(ClientError::protocol(format_args!(
            "synchronizer record at offset {offset} has unknown kind {kind}"
        ))),
        None => Err(ClientError::protocol(format_args!(
            "synchronizer record at offset {offset} is empty"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::EventSplitter;

    #[test]
    fn records_round_trip_through_the_event_framing() {
        let mut out = Vec::new();
        push_update(&mut out, b"one").expect("small");
        push_snapshot(&mut out, b"").expect("small");
        let events = EventSplitter::at(0)
            .push(&out, MAX_RECORD_BYTES + 1)
            .expect("framed");
        assert_eq!(
            parse(&events[0].payload, 0).expect("update"),
            Record::Update(b"one")
        );
        assert_eq!(
            parse(&events[1].payload, 8).expect("snapshot"),
            Record::Snapshot(b"")
        );
        assert!(parse(&[9, 1], 0).is_err());
        assert!(parse(&[], 0).is_err());
        assert!(push_update(&mut out, &vec![0; MAX_RECORD_BYTES + 1]).is_err());
    }
}
