//! A journal directory opened for reading only, and what its files say
//! about the journal's settings.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use spate_journal::direct::{list_slots, read_full_at, slot_path};
use spate_journal::format::file_header::FileHeader;
use spate_journal::{AlignedBuf, BLOCK, Completion, JournalConfig, Op, Slot, SlotInfo, Storage};

pub fn holds_journal_files(dir: &Path) -> anyhow::Result<bool> {
    let slots = list_slots(dir).with_context(|| format!("listing {}", dir.display()))?;
    Ok(!slots.is_empty())
}

/// Serves recovery's reads with plain reads; refuses every write.
pub struct ReadOnlyJournal {
    dir: PathBuf,
    journal_id: u64,
    file_bytes: u64,
    refused: Vec<Completion>,
}

impl ReadOnlyJournal {
    /// Learns the journal's identity from the first valid file header and
    /// its file size from the files. `None` if no file has a header: the
    /// journal never started a file, so it holds nothing.
    pub fn open(dir: &Path) -> anyhow::Result<Option<Self>> {
        let slots = list_slots(dir).with_context(|| format!("listing {}", dir.display()))?;
        let file_bytes = slots.iter().map(|s| s.len).max().unwrap_or(0);
        let mut journal_id = None;
        for slot in &slots {
            let mut block = vec![0; BLOCK];
            let file = File::open(slot_path(dir, slot.slot))?;
            if file.read_exact_at(&mut block, 0).is_ok()
                && let Ok(header) = FileHeader::decode(&block)
            {
                journal_id = Some(header.journal_id);
                break;
            }
        }
        let Some(journal_id) = journal_id else {
            return Ok(None);
        };
        Ok(Some(Self {
            dir: dir.to_path_buf(),
            journal_id,
            file_bytes,
            refused: Vec::new(),
        }))
    }

    /// Settings for recovery: the identity found, the files' size, and a
    /// record bound as large as a file (the scan checks each record's own
    /// length against the file anyway).
    pub fn config(&self) -> JournalConfig {
        let max_record = u32::try_from(self.file_bytes).unwrap_or(u32::MAX);
        JournalConfig {
            journal_id: self.journal_id,
            file_bytes: self.file_bytes,
            max_record_bytes: max_record,
            ..JournalConfig::default()
        }
    }
}

impl Storage for ReadOnlyJournal {
    fn slots(&mut self) -> io::Result<Vec<SlotInfo>> {
        list_slots(&self.dir)
    }

    fn read_at(&mut self, slot: Slot, offset: u64, buf: &mut AlignedBuf) -> io::Result<()> {
        let file = File::open(slot_path(&self.dir, slot))?;
        read_full_at(&file, offset, buf)
    }

    fn submit(&mut self, token: u64, op: Op) {
        let buf = match op {
            Op::DurableWrite { buf, .. } => Some(buf),
            Op::Prepare { .. } => None,
        };
        let result = Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "spate journal opens journals read-only",
        ));
        self.refused.push(Completion { token, result, buf });
    }

    fn reap(&mut self, _wait: bool, out: &mut Vec<Completion>) -> io::Result<()> {
        out.append(&mut self.refused);
        Ok(())
    }
}
