//! A group-commit write being assembled.
//!
//! Records are encoded straight into an aligned buffer, so a batch becomes a
//! write without another copy. A batch always starts on a block boundary of its
//! file (no acknowledged byte is ever rewritten) and is padded with zeros to the
//! next one.

use crate::aligned::{AlignedBuf, BLOCK, align_up};
use crate::format::Lsn;
use crate::format::record::{RecordIdentity, encode_record, record_footprint};

/// Where in the journal's file sequence a batch is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub file_seq: u64,
    /// Block-aligned byte offset in the file, at least one block (block 0 is
    /// the file header).
    pub offset: u64,
}

impl Position {
    /// Where the records of a new file start.
    pub fn file_start(file_seq: u64) -> Self {
        Self {
            file_seq,
            offset: BLOCK as u64,
        }
    }
}

pub(crate) struct Batch {
    buf: AlignedBuf,
    /// Bytes used, header block included.
    len: usize,
    /// Bytes this batch may use: the buffer, limited by what is left of its file.
    limit: usize,
    pub position: Position,
    /// The first batch of a new file: its header must be durable first.
    pub opens_file: bool,
    pub first_lsn: Lsn,
    /// The LSN after the last record in the batch.
    pub end_lsn: Lsn,
    /// No more records may be added.
    pub sealed: bool,
}

impl Batch {
    /// Starts a batch at `position` in a file of `file_bytes` bytes.
    pub fn new(
        mut buf: AlignedBuf,
        position: Position,
        opens_file: bool,
        file_bytes: u64,
        first_lsn: Lsn,
    ) -> Self {
        assert_eq!(
            position.offset % BLOCK as u64,
            0,
            "batches start on a block boundary"
        );
        assert!(
            position.offset >= BLOCK as u64,
            "block 0 is the file header"
        );
        assert!(
            position.offset < file_bytes,
            "batch position past the end of its file"
        );
        buf.set_len(0);
        let room = (file_bytes - position.offset) as usize;
        let limit = buf.capacity().min(room);
        Self {
            buf,
            len: 0,
            limit,
            position,
            opens_file,
            first_lsn,
            end_lsn: first_lsn,
            sealed: false,
        }
    }

    /// Whether a record of `payload_len` bytes fits.
    pub fn fits(&self, payload_len: usize) -> bool {
        !self.sealed && self.len + record_footprint(payload_len) <= self.limit
    }

    pub fn push(&mut self, id: RecordIdentity, payload: &[u8]) {
        assert!(self.fits(payload.len()), "push into a batch without room");
        assert_eq!(
            id.lsn, self.end_lsn,
            "records of a batch have consecutive LSNs"
        );
        assert_eq!(id.file_seq, self.position.file_seq);
        let dst = &mut self.buf.spare_all()[self.len..];
        self.len += encode_record(dst, id, payload);
        self.end_lsn += 1;
    }

    /// The file offset the next pushed record starts at.
    pub fn next_record_offset(&self) -> u64 {
        self.position.offset + self.len as u64
    }

    pub fn is_empty(&self) -> bool {
        self.end_lsn == self.first_lsn
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes this batch occupies on disk.
    pub fn write_len(&self) -> usize {
        align_up(self.len)
    }

    /// Where the batch after this one starts.
    pub fn next_position(&self) -> Position {
        Position {
            file_seq: self.position.file_seq,
            offset: self.position.offset + self.write_len() as u64,
        }
    }

    /// The buffer to write, its padding zeroed.
    pub fn into_write(mut self) -> AlignedBuf {
        assert!(!self.is_empty(), "an empty batch is never written");
        let write_len = self.write_len();
        self.buf.spare_all()[self.len..write_len].fill(0);
        self.buf.set_len(write_len);
        self.buf
    }
}
