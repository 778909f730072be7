//! The byte stream writer: bytes appended through one pipelined segment
//! writer, in pieces no larger than an event may be.

use std::collections::VecDeque;
use std::io;

use crate::client::Client;
use crate::error::ClientError;
use crate::stream::StreamName;
use crate::writer::{AppendFuture, AppendOutcome, SegmentWriter};

use super::{byte_segment, head_and_tail};

/// Writes raw bytes to a byte stream. Each `write` is appended in order;
/// it is durable once [`ByteStreamWriter::flush`] returns. Appends are
/// pipelined and batched by the segment writer underneath, and resent
/// exactly once after a broken connection.
pub struct ByteStreamWriter {
    client: Client,
    stream: StreamName,
    segment: String,
    writer: SegmentWriter,
    /// Appends not yet seen resolved, oldest first.
    pending: VecDeque<AppendFuture>,
    max_piece: usize,
}

impl ByteStreamWriter {
    /// Opens a writer on `stream`, which must have exactly one fixed
    /// segment. Bytes go after whatever the stream already holds.
    pub fn open(client: &Client, stream: &StreamName) -> Result<Self, ClientError> {
        let segment = byte_segment(client, stream)?;
        let writer_id = (u128::from(crate::options::random_u64()) << 64)
            | u128::from(crate::options::random_u64());
        let writer = client.segment_writer(&segment, writer_id)?;
        let max_piece = crate::writer::frame_budget(client.topology().limits.max_frame_bytes)
            .min(spate_wire::MAX_EVENT_BYTES)
            .min(1024 * 1024);
        Ok(ByteStreamWriter {
            client: client.clone(),
            stream: stream.clone(),
            segment,
            writer,
            pending: VecDeque::new(),
            max_piece,
        })
    }

    /// The segment written.
    pub fn segment(&self) -> &str {
        &self.segment
    }

    /// Appends `data` (split into pieces the node takes). Blocks only for
    /// backpressure; fails if an earlier append failed or the stream was
    /// sealed.
    pub fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        self.reap()?;
        for piece in data.chunks(self.max_piece) {
            self.pending.push_back(self.writer.append(piece));
        }
        Ok(())
    }

    /// Waits until every byte written so far is durable.
    pub fn flush(&mut self) -> Result<(), ClientError> {
        while let Some(ack) = self.pending.pop_front() {
            self.check(ack.wait()?)?;
        }
        Ok(())
    }

    /// Flushes, then drops the writer.
    pub fn close(mut self) -> Result<(), ClientError> {
        self.flush()
    }

    /// Flushes, then seals the stream: readers reach its end after the
    /// last byte, and no writer may append again.
    pub fn seal(mut self) -> Result<(), ClientError> {
        self.flush()?;
        self.client
            .seal_stream(&self.stream)
            .wait()?
            .found(&self.stream.to_string())
    }

    /// Drops the bytes before `offset` (a lower offset than the current
    /// head is a no-op; one past the tail is an `InvalidRequest`).
    pub fn truncate_data_before(&self, offset: u64) -> Result<(), ClientError> {
        match self.client.truncate(&self.segment, offset).wait()? {
            crate::TruncateOutcome::Truncated { .. } => Ok(()),
            crate::TruncateOutcome::NoSuchSegment => Err(ClientError::invalid(format!(
                "the byte stream's segment {} no longer exists",
                self.segment
            ))),
        }
    }

    /// The lowest readable offset.
    pub fn fetch_head_offset(&self) -> Result<u64, ClientError> {
        Ok(head_and_tail(&self.client, &self.segment)?.0)
    }

    /// The offset after the last durable byte.
    pub fn fetch_tail_offset(&self) -> Result<u64, ClientError> {
        Ok(head_and_tail(&self.client, &self.segment)?.1)
    }

    /// Drops the appends already resolved, so `pending` stays as long as
    /// what is in flight; reports the first failure.
    fn reap(&mut self) -> Result<(), ClientError> {
        while self.pending.front().is_some_and(|ack| ack.is_done()) {
            let ack = self.pending.pop_front().expect("checked above");
            self.check(ack.wait()?)?;
        }
        Ok(())
    }

    fn check(&self, outcome: AppendOutcome) -> Result<(), ClientError> {
        match outcome {
            AppendOutcome::Appended(_) => Ok(()),
            AppendOutcome::Sealed { length } => Err(ClientError::invalid(format!(
                "byte stream {} is sealed at offset {length}",
                self.stream
            ))),
            AppendOutcome::NoSuchSegment => Err(ClientError::invalid(format!(
                "the byte stream's segment {} no longer exists",
                self.segment
            ))),
        }
    }
}

impl io::Write for ByteStreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        ByteStreamWriter::write(self, buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        ByteStreamWriter::flush(self).map_err(io::Error::other)
    }
}

impl std::fmt::Debug for ByteStreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStreamWriter")
            .field("segment", &self.segment)
            .field("pending", &self.pending.len())
            .finish()
    }
}
