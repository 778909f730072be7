//! What `spate journal` prints: a line per journal (verify) or per record
//! (dump), or the same as JSON objects. Writes go to a caller's writer so a
//! closed pipe (`spate journal dump DIR | head`) ends the command quietly.

use std::io::{self, Write};
use std::path::Path;

use serde_json::json;
use spate_journal::{Inspection, RecordKind, RecoveredRecord, RecoveryError};
use spate_node::container::{decode_checkpoint, record_container};

use super::summary;

pub fn verified(
    out: &mut impl Write,
    dir: &Path,
    inspection: &Inspection,
    as_json: bool,
) -> io::Result<()> {
    if !as_json {
        return writeln!(out, "{}: ok: {}", dir.display(), summary(inspection));
    }
    let torn = inspection
        .recovered
        .torn_tail
        .as_ref()
        .map(|t| json!({"file_seq": t.file_seq, "offset": t.offset, "lsn": t.lsn}));
    let line = json!({
        "dir": dir.display().to_string(),
        "ok": true,
        "files": inspection.chain.len(),
        "free_files": inspection.free_slots,
        "records": inspection.recovered.records.len(),
        "next_lsn": inspection.recovered.next_lsn,
        "checkpoint": inspection.recovered.checkpoint,
        "retain_lsn": inspection.retain_lsn,
        "torn_tail": torn,
    });
    writeln!(out, "{line}")
}

/// A journal none of whose files was ever started: nothing to check.
pub fn empty(out: &mut impl Write, dir: &Path, as_json: bool) -> io::Result<()> {
    if as_json {
        let line = json!({"dir": dir.display().to_string(), "ok": true, "files": 0, "records": 0});
        return writeln!(out, "{line}");
    }
    writeln!(
        out,
        "{}: ok: empty (no journal file was started)",
        dir.display()
    )
}

pub fn damaged(
    out: &mut impl Write,
    dir: &Path,
    error: &RecoveryError,
    as_json: bool,
) -> io::Result<()> {
    if as_json {
        let line =
            json!({"dir": dir.display().to_string(), "ok": false, "error": error.to_string()});
        return writeln!(out, "{line}");
    }
    writeln!(out, "{}: DAMAGED: {error}", dir.display())
}

pub fn dump(
    out: &mut impl Write,
    dir: &Path,
    inspection: &Inspection,
    as_json: bool,
) -> io::Result<()> {
    if !as_json {
        writeln!(out, "# {}: {}", dir.display(), summary(inspection))?;
        writeln!(
            out,
            "{:>10}  {:<10}  {:>8}  {:>10}  {:>9}  contents",
            "lsn", "kind", "file_seq", "offset", "bytes"
        )?;
    }
    for record in &inspection.recovered.records {
        let (kind, contents) = describe(record);
        let at = record.location;
        if as_json {
            let line = json!({
                "dir": dir.display().to_string(),
                "lsn": record.lsn,
                "kind": kind,
                "file_seq": at.file_seq,
                "offset": at.offset,
                "bytes": record.payload.len(),
                "contents": contents,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:>10}  {:<10}  {:>8}  {:>10}  {:>9}  {contents}",
                record.lsn,
                kind,
                at.file_seq,
                at.offset,
                record.payload.len()
            )?;
        }
    }
    Ok(())
}

/// The record's kind and what the node wrote in it, in a few words.
fn describe(record: &RecoveredRecord) -> (&'static str, String) {
    match record.kind {
        RecordKind::Data => {
            let contents = match record_container(&record.payload) {
                Ok(container) => format!("container {container} mutation"),
                Err(e) => format!("not a node record: {e}"),
            };
            ("data", contents)
        }
        RecordKind::Checkpoint => {
            let contents = match decode_checkpoint(&record.payload) {
                Ok(snapshots) => {
                    let segments: usize = snapshots.iter().map(|s| s.segments.len()).sum();
                    format!("{} containers, {segments} segments", snapshots.len())
                }
                Err(e) => format!("not a node checkpoint: {e}"),
            };
            ("checkpoint", contents)
        }
    }
}
