//! The byte stream reader: a segment reader (prefetching, long-polling at
//! the tail) behind a `read(&mut [u8])` interface.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use spate_wire::StatusCode;

use crate::client::Client;
use crate::error::ClientError;
use crate::reader::{ReadOutcome, SegmentReader};
use crate::stream::StreamName;

use super::{byte_segment, head_and_tail};

/// Reads a byte stream from its head (or any offset it seeks to). `read`
/// blocks at the tail until bytes arrive, and returns 0 only at the end of
/// a sealed stream.
pub struct ByteStreamReader {
    client: Client,
    segment: String,
    reader: SegmentReader,
    /// Bytes fetched and not yet returned: `buffer[taken..]`, starting at
    /// `offset`.
    buffer: Vec<u8>,
    taken: usize,
    offset: u64,
    /// The sealed stream's length once reached.
    end: Option<u64>,
}

impl ByteStreamReader {
    /// Opens a reader at the stream's head (its lowest readable offset).
    pub fn open(client: &Client, stream: &StreamName) -> Result<Self, ClientError> {
        let segment = byte_segment(client, stream)?;
        let (head, _) = head_and_tail(client, &segment)?;
        let reader = client.segment_reader(&segment, head)?;
        Ok(ByteStreamReader {
            client: client.clone(),
            segment,
            reader,
            buffer: Vec::new(),
            taken: 0,
            offset: head,
            end: None,
        })
    }

    /// The offset of the next byte `read` returns.
    pub fn current_offset(&self) -> u64 {
        self.offset
    }

    /// Continues from `offset`; what was fetched ahead is dropped. Reading
    /// below the head fails with `SegmentTruncated`; past the tail waits.
    pub fn seek_to_offset(&mut self, offset: u64) {
        self.reader.seek(offset);
        self.buffer.clear();
        self.taken = 0;
        self.offset = offset;
        self.end = None;
    }

    /// The stream's lowest readable offset now.
    pub fn fetch_head_offset(&self) -> Result<u64, ClientError> {
        Ok(head_and_tail(&self.client, &self.segment)?.0)
    }

    /// The offset after the stream's last durable byte now.
    pub fn fetch_tail_offset(&self) -> Result<u64, ClientError> {
        Ok(head_and_tail(&self.client, &self.segment)?.1)
    }

    /// Bytes `read` can return without waiting: those buffered plus a
    /// chunk already fetched ahead. Never blocks on the node.
    pub fn available(&mut self) -> Result<usize, ClientError> {
        if self.buffered() == 0 && self.end.is_none() {
            let ready = {
                let mut read = pin!(self.reader.read());
                let mut cx = Context::from_waker(Waker::noop());
                match read.as_mut().poll(&mut cx) {
                    Poll::Ready(outcome) => Some(outcome),
                    Poll::Pending => None,
                }
            };
            if let Some(outcome) = ready {
                self.take(outcome)?;
            }
        }
        Ok(self.buffered())
    }

    /// Copies the next bytes into `out`, waiting for at least one. Returns
    /// 0 at the end of a sealed stream (or for an empty `out`). A read of
    /// truncated bytes fails with an `InvalidRequest` whose status is
    /// `SegmentTruncated` and which names the head; seek past it to go on.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, ClientError> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.buffered() == 0 {
            if self.end.is_some() {
                return Ok(0);
            }
            let outcome = self.reader.read().wait();
            self.take(outcome)?;
        }
        let n = out.len().min(self.buffered());
        out[..n].copy_from_slice(&self.buffer[self.taken..self.taken + n]);
        self.taken += n;
        self.offset += n as u64;
        Ok(n)
    }

    fn buffered(&self) -> usize {
        self.buffer.len() - self.taken
    }

    fn take(&mut self, outcome: Result<ReadOutcome, ClientError>) -> Result<(), ClientError> {
        match outcome? {
            ReadOutcome::Data(chunk) => {
                if chunk.end_of_segment {
                    self.end = Some(chunk.offset + chunk.data.len() as u64);
                }
                self.buffer = chunk.data;
                self.taken = 0;
                Ok(())
            }
            ReadOutcome::EndOfSegment { offset } => {
                self.end = Some(offset);
                Ok(())
            }
            ReadOutcome::Truncated { start_offset } => Err(ClientError::InvalidRequest {
                reason: format!(
                    "offset {} of {} was truncated; the stream now starts at {start_offset}",
                    self.offset, self.segment
                ),
                status: Some(StatusCode::SegmentTruncated),
            }),
            ReadOutcome::NoSuchSegment => Err(ClientError::invalid(format!(
                "the byte stream's segment {} no longer exists",
                self.segment
            ))),
        }
    }
}

impl io::Read for ByteStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        ByteStreamReader::read(self, buf).map_err(io::Error::other)
    }
}

impl std::fmt::Debug for ByteStreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStreamReader")
            .field("segment", &self.segment)
            .field("offset", &self.offset)
            .finish()
    }
}
