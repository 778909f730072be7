//! `spate journal verify|dump DIR`: recovery's checks, read-only.
//!
//! DIR is one core's journal directory (`DATA/journal/core-N`) or a
//! directory holding several (`DATA/journal`), which are checked in turn.

mod dir;
mod report;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use spate_journal::{Inspection, RecoveryError, inspect};

use crate::Outcome;
use dir::ReadOnlyJournal;

#[derive(Subcommand)]
pub enum JournalCommand {
    /// Checks a journal as recovery would: the file chain, every record's
    /// checksum, torn tails (cut on recovery) and corruption (an error).
    Verify(Target),
    /// Lists every record: LSN, kind, file and offset, size, and what the
    /// node wrote in it (container, checkpoint contents).
    Dump(Target),
}

#[derive(Args)]
pub struct Target {
    /// A core's journal directory, or a directory of them.
    dir: PathBuf,
    /// One JSON object per journal (verify) or per record (dump).
    #[arg(long)]
    json: bool,
}

pub fn run(command: JournalCommand) -> anyhow::Result<Outcome> {
    let (target, dump) = match command {
        JournalCommand::Verify(target) => (target, false),
        JournalCommand::Dump(target) => (target, true),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut outcome = Outcome::Healthy;
    for dir in journal_dirs(&target.dir)? {
        match check_one(&mut out, &dir, dump, target.json) {
            Ok(Outcome::Healthy) => {}
            Ok(Outcome::Damaged) => outcome = Outcome::Damaged,
            // The reader went away (`| head`): stop quietly.
            Err(e) if is_broken_pipe(&e) => return Ok(outcome),
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

fn check_one(
    out: &mut impl std::io::Write,
    dir: &Path,
    dump: bool,
    json: bool,
) -> anyhow::Result<Outcome> {
    let Some(mut journal) = ReadOnlyJournal::open(dir)? else {
        report::empty(out, dir, json)?;
        return Ok(Outcome::Healthy);
    };
    let config = journal.config();
    match inspect(&mut journal, &config) {
        Ok(inspection) if dump => report::dump(out, dir, &inspection, json)?,
        Ok(inspection) => report::verified(out, dir, &inspection, json)?,
        Err(RecoveryError::Io { slot, source }) => {
            bail!("{}: reading slot {slot}: {source}", dir.display())
        }
        Err(error) => {
            report::damaged(out, dir, &error, json)?;
            return Ok(Outcome::Damaged);
        }
    }
    Ok(Outcome::Healthy)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `dir` itself if it holds journal files, else its subdirectories that do.
fn journal_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if dir::holds_journal_files(dir)? {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() && dir::holds_journal_files(&path)? {
            dirs.push(path);
        }
    }
    dirs.sort();
    if dirs.is_empty() {
        bail!("{} holds no journal files (*.journal)", dir.display());
    }
    Ok(dirs)
}

/// Used by the reports: what an inspection found, in a few words.
fn summary(inspection: &Inspection) -> String {
    let records = &inspection.recovered.records;
    let (first, last) = (
        records.first().map_or(0, |r| r.lsn),
        records.last().map_or(0, |r| r.lsn),
    );
    format!(
        "{} files in the chain, {} free; {} records (LSN {first}..={last}); last checkpoint {}; {}",
        inspection.chain.len(),
        inspection.free_slots,
        records.len(),
        inspection
            .recovered
            .checkpoint
            .map_or("none".to_string(), |c| format!("LSN {c}")),
        match &inspection.recovered.torn_tail {
            Some(torn) => format!(
                "a torn tail at file seq {} offset {} (LSN {}) would be cut",
                torn.file_seq, torn.offset, torn.lsn
            ),
            None => "no torn tail".to_string(),
        }
    )
}
