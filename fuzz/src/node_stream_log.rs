//! The `node_stream_log` target: a stream's metadata log through the
//! controller's decoder and, when it decodes, the stream model's replay.

use spate_node::controller::{StreamState, decode_log, encode_event};

/// Decodes `data` as a stream log; a decoded log must re-encode to the same
/// bytes, and replaying it must end in a state or an error, never a panic.
pub fn replay_log(data: &[u8]) {
    let Ok(events) = decode_log(data) else {
        return;
    };
    let mut encoded = Vec::with_capacity(data.len());
    for event in &events {
        encode_event(event, &mut encoded);
    }
    assert_eq!(encoded, data, "a decoded stream log re-encodes exactly");
    let Some((first, rest)) = events.split_first() else {
        return;
    };
    let Ok(mut state) = StreamState::from_created(first) else {
        return;
    };
    for event in rest {
        if state.apply(event).is_err() {
            return;
        }
        // Whatever phase the log leaves, its pending work is computable.
        let _ = state.pending_work();
    }
}
