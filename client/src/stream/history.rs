//! Reading a whole stream once, in an order that keeps each routing key's
//! events in the order they were written: segments by the epoch that
//! created them (a key's segments form a chain whose epochs increase), each
//! from its start offset to its current end. For tools and tests; reader
//! groups (tail reads, checkpoints, several readers) are their own layer.

use super::StreamName;
use super::framing::EventSplitter;
use crate::client::Client;
use crate::error::ClientError;
use crate::reader::ReadOutcome;

/// One event read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// The segment's number in the stream.
    pub segment: u64,
    /// The offset of the event's header in its segment.
    pub offset: u64,
    /// The event's bytes.
    pub payload: Vec<u8>,
}

/// Every event the stream holds now, predecessors before successors.
pub fn read_stream(client: &Client, name: &StreamName) -> Result<Vec<StreamEvent>, ClientError> {
    let info = client
        .describe_stream(name)
        .wait()?
        .found(&name.to_string())?;
    let mut segments: Vec<_> = info.description.segments.iter().collect();
    segments.sort_by_key(|s| (s.created_epoch, s.range));
    let max_event = client.topology().limits.max_frame_bytes as usize;
    let mut events = Vec::new();
    for segment in segments {
        let name = info.segment_name(segment.number);
        let mut splitter = EventSplitter::at(segment.start_offset);
        let mut reader = client.segment_reader(&name, segment.start_offset)?;
        let mut offset = segment.start_offset;
        while offset < segment.length {
            match reader.read().wait()? {
                ReadOutcome::Data(chunk) => {
                    offset = chunk.offset + chunk.data.len() as u64;
                    for event in splitter.push(&chunk.data, max_event)? {
                        events.push(StreamEvent {
                            segment: segment.number,
                            offset: event.offset,
                            payload: event.payload,
                        });
                    }
                    if chunk.end_of_segment {
                        break;
                    }
                }
                _ => break,
            }
        }
    }
    Ok(events)
}
