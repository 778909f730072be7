//! Byte streams: raw bytes on a stream of one fixed segment, as Pravega's
//! `ByteStreamWriter` and `ByteStreamReader`. No event framing: the
//! segment's offsets are the stream's byte offsets. Mixing this with the
//! event API on one stream garbles both.

mod reader;
mod writer;

pub use reader::ByteStreamReader;
pub use writer::ByteStreamWriter;

use spate_wire::stream::ScalingPolicy;

use crate::client::Client;
use crate::error::ClientError;
use crate::stream::StreamName;

/// The name of the one segment of a byte stream, or why the stream is not
/// one: it must exist and be configured with exactly one fixed segment.
fn byte_segment(client: &Client, stream: &StreamName) -> Result<String, ClientError> {
    let info = client
        .describe_stream(stream)
        .wait()?
        .found(&stream.to_string())?;
    let fixed_one = matches!(
        info.description.config.scaling,
        ScalingPolicy::Fixed { segments: 1 }
    );
    let segments = &info.description.segments;
    if !fixed_one || segments.len() != 1 {
        return Err(ClientError::invalid(format!(
            "{stream} is not a byte stream: a byte stream has exactly one segment and a fixed \
             scaling policy of 1 segment (this one has {:?} and {} segment(s))",
            info.description.config.scaling,
            info.description.segments.len()
        )));
    }
    Ok(info.segment_name(segments[0].number))
}

/// The segment's start offset and length (its head and tail).
fn head_and_tail(client: &Client, segment: &str) -> Result<(u64, u64), ClientError> {
    match client.info(segment).wait()? {
        crate::InfoOutcome::Found(info) => Ok((info.start_offset, info.length)),
        crate::InfoOutcome::NoSuchSegment => Err(ClientError::invalid(format!(
            "the byte stream's segment {segment} no longer exists"
        ))),
    }
}
