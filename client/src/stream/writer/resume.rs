//! What the node recorded for a named writer, read when it opens: the last
//! event number each segment of the stream holds from its writer id.

use spate_wire::stream::KeyRange;

use super::super::description::StreamInfo;
use crate::client::{Client, WriterStateOutcome};
use crate::error::ClientError;

/// Per segment (current or sealed, not yet truncated away): its key range
/// and the writer's last event number there.
#[derive(Debug, Default)]
pub(super) struct Recorded {
    segments: Vec<(KeyRange, i64)>,
}

impl Recorded {
    pub fn read(client: &Client, info: &StreamInfo, writer_id: u128) -> Result<Self, ClientError> {
        let mut segments = Vec::new();
        let queries: Vec<_> = info
            .description
            .segments
            .iter()
            .map(|s| {
                (
                    s.range,
                    client.writer_state(&info.segment_name(s.number), writer_id),
                )
            })
            .collect();
        for (range, query) in queries {
            if let WriterStateOutcome::Found {
                last_event_number: Some(last),
            } = query.wait()?
            {
                segments.push((range, last));
            }
        }
        Ok(Self { segments })
    }

    /// Whether event `number` at `position` is durable: some segment over
    /// the position holds a number at least its own.
    pub fn holds(&self, position: u64, number: i64) -> bool {
        self.segments
            .iter()
            .any(|(range, last)| range.contains(position) && *last >= number)
    }

    pub fn highest(&self) -> Option<i64> {
        self.segments.iter().map(|(_, last)| *last).max()
    }
}
