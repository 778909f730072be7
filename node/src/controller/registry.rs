//! Name registries: the list of scopes (`_system/scopes`) and each scope's
//! list of streams (`_system/scope/SCOPE`), each a metadata log of
//! additions and removals framed like a stream log (`codec.rs`).
//!
//! A scope's index can be closed: deleting a scope first appends `Closed`
//! with a conditional append at the length where it saw no streams, so a
//! stream created at the same moment either lands before (and the delete
//! fails its condition) or sees the index closed. Nothing is added after.
//!
//! | kind | event | body after the kind byte |
//! |---:|---|---|
//! | 1 | Added | `len: u16`, name bytes |
//! | 2 | Removed | `len: u16`, name bytes |
//! | 3 | Closed | — |

use std::collections::BTreeSet;

use super::codec::{CodecError, EVENT_VERSION, put_frame, split_frames};
use crate::le_reader::LeReader;

/// One entry of a registry log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryEvent {
    Added(String),
    Removed(String),
    /// No more additions (the scope is being deleted).
    Closed,
}

/// The fold of a registry log: the names present, and whether it is closed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    pub names: BTreeSet<String>,
    pub closed: bool,
}

impl Registry {
    /// Applies the events of a log, in order. Additions after `Closed` are
    /// ignored (they cannot be written; a damaged log must not revive one).
    pub fn apply(&mut self, events: &[RegistryEvent]) {
        for event in events {
            match event {
                RegistryEvent::Added(name) if !self.closed => {
                    self.names.insert(name.clone());
                }
                RegistryEvent::Added(_) => {}
                RegistryEvent::Removed(name) => {
                    self.names.remove(name);
                }
                RegistryEvent::Closed => self.closed = true,
            }
        }
    }
}

/// Appends the framed event to `out`.
pub fn encode_registry_event(event: &RegistryEvent, out: &mut Vec<u8>) {
    let mut body = vec![EVENT_VERSION];
    match event {
        RegistryEvent::Added(name) => put_name(1, name, &mut body),
        RegistryEvent::Removed(name) => put_name(2, name, &mut body),
        RegistryEvent::Closed => body.push(3),
    }
    put_frame(&body, out);
}

fn put_name(kind: u8, name: &str, body: &mut Vec<u8>) {
    let len = u16::try_from(name.len()).expect("registry names are at most 64 bytes");
    body.push(kind);
    body.extend_from_slice(&len.to_le_bytes());
    body.extend_from_slice(name.as_bytes());
}

/// Splits a registry log into its events.
pub fn decode_registry(bytes: &[u8]) -> Result<Vec<RegistryEvent>, CodecError> {
    split_frames(bytes)?
        .into_iter()
        .map(|(_, body)| decode_body(body))
        .collect()
}

fn decode_body(body: &[u8]) -> Result<RegistryEvent, CodecError> {
    let mut r = LeReader::new(body);
    let version = r.u8()?;
    if version != EVENT_VERSION {
        return Err(CodecError::Version(version));
    }
    let event = match r.u8()? {
        1 => RegistryEvent::Added(take_name(&mut r)?),
        2 => RegistryEvent::Removed(take_name(&mut r)?),
        3 => RegistryEvent::Closed,
        kind => return Err(CodecError::Kind(kind)),
    };
    if r.remaining() != 0 {
        return Err(CodecError::Malformed("bytes after the event"));
    }
    Ok(event)
}

fn take_name(r: &mut LeReader<'_>) -> Result<String, CodecError> {
    let len = u16::from_le_bytes([r.u8()?, r.u8()?]) as usize;
    let bytes = r.take(len)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| CodecError::Malformed("a name is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(events: &[RegistryEvent]) -> Vec<u8> {
        let mut out = Vec::new();
        events
            .iter()
            .for_each(|e| encode_registry_event(e, &mut out));
        out
    }

    #[test]
    fn a_registry_round_trips_and_folds() {
        let events = vec![
            RegistryEvent::Added("orders".into()),
            RegistryEvent::Added("clicks".into()),
            RegistryEvent::Removed("orders".into()),
            RegistryEvent::Closed,
            RegistryEvent::Added("late".into()),
        ];
        let decoded = decode_registry(&log(&events)).expect("decodes");
        assert_eq!(decoded, events);
        let mut registry = Registry::default();
        registry.apply(&decoded);
        assert_eq!(registry.names.into_iter().collect::<Vec<_>>(), ["clicks"]);
        assert!(registry.closed);
    }

    #[test]
    fn damage_is_an_error_never_another_event() {
        let bytes = log(&[RegistryEvent::Added("orders".into())]);
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x10;
            assert!(decode_registry(&damaged).is_err(), "flip at {i}");
        }
        assert!(matches!(
            decode_registry(&bytes[..bytes.len() - 1]),
            Err(CodecError::Truncated { at: 0 })
        ));
    }
}
