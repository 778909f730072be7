//! Journal settings and their bounds.

use crate::aligned::BLOCK;
use crate::format::record::RECORD_HEADER_LEN;

/// Settings of one journal. Every queue and buffer the journal holds is bounded
/// by one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// Identity stamped into every file header; a file of another journal is
    /// never mistaken for one of ours.
    pub journal_id: u64,
    /// Size of each preallocated journal file.
    pub file_bytes: u64,
    /// Largest payload one record may carry.
    pub max_record_bytes: u32,
    /// Group-commit bound: a write carries at most this many bytes, unless a
    /// single record needs more (it then gets a write of its own).
    pub max_write_bytes: u32,
    /// Writes that may be in flight at once.
    pub max_writes_in_flight: u16,
    /// Bytes encoded but not yet submitted; past this, `append` answers `Busy`.
    pub max_queued_bytes: u64,
    /// Files the journal may hold at once (live plus spare). When every file
    /// holds unreleased records, `append` answers `Busy` until `release`.
    pub max_files: u32,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            journal_id: 0,
            file_bytes: 128 << 20,
            max_record_bytes: 8 << 20,
            max_write_bytes: 1 << 20,
            max_writes_in_flight: 4,
            max_queued_bytes: 32 << 20,
            max_files: 16,
        }
    }
}

/// A setting that cannot work, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid journal configuration: {0}")]
pub struct ConfigError(pub String);

impl JournalConfig {
    /// Bytes one record occupies at most in a write: header, payload, padding.
    pub(crate) fn max_record_footprint(&self) -> u64 {
        (RECORD_HEADER_LEN + self.max_record_bytes as usize + 8) as u64
    }

    /// Checks the settings against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |msg: String| Err(ConfigError(msg));
        if !self.file_bytes.is_multiple_of(BLOCK as u64) {
            return fail(format!(
                "file_bytes {} is not a multiple of {BLOCK}",
                self.file_bytes
            ));
        }
        if self.max_write_bytes < BLOCK as u32 || !self.max_write_bytes.is_multiple_of(BLOCK as u32)
        {
            return fail(format!(
                "max_write_bytes {} must be a positive multiple of {BLOCK}",
                self.max_write_bytes
            ));
        }
        let largest_write = self
            .max_record_footprint()
            .max(u64::from(self.max_write_bytes));
        // Block 0 holds the file header; the largest write must fit after it.
        if self.file_bytes < BLOCK as u64 + largest_write + BLOCK as u64 {
            return fail(format!(
                "file_bytes {} cannot hold a header block and a write of {largest_write} bytes",
                self.file_bytes
            ));
        }
        if self.max_writes_in_flight == 0 {
            return fail("max_writes_in_flight must be at least 1".into());
        }
        if self.max_queued_bytes < largest_write {
            return fail(format!(
                "max_queued_bytes {} is below the largest write ({largest_write} bytes)",
                self.max_queued_bytes
            ));
        }
        if self.max_files < 3 {
            return fail("max_files must be at least 3 (active, spare, one to recycle)".into());
        }
        Ok(())
    }
}
