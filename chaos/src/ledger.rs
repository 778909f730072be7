//! The oracle's record: what writers sent and had acknowledged, and what
//! readers saw, one line per fact in plain text files of the run directory.
//!
//! A writer writes `SENT` before it hands an event to the client and `ACKED`
//! after the node acknowledged it, so the log over-approximates what may be
//! in a segment (SENT) and under-approximates what must be (ACKED), whenever
//! the writer is killed. Each line goes out in one `write`, which a `kill -9`
//! cannot split; a line cut short (the process died in the call) is the
//! last one of its file and is ignored until the restarted process trims it.
//!
//! Lines:
//! - `SENT <writer> <segment> <number>`
//! - `ACKED <writer> <segment> <number>`
//! - `SEEN <segment> <offset> <crc32c-hex>`: a reader had read (and checked)
//!   the first `offset` bytes of the segment, whose digest was that.
//! - `VIOLATION <text>`: a writer or reader caught the node misbehaving.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One line of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The event may reach the node from now on.
    Sent {
        /// Writer index.
        writer: u32,
        /// Segment name.
        segment: String,
        /// Event number.
        number: u64,
    },
    /// The node acknowledged the event as durable.
    Acked {
        /// Writer index.
        writer: u32,
        /// Segment name.
        segment: String,
        /// Event number.
        number: u64,
    },
    /// A reader checked the segment's bytes up to `offset`.
    Seen {
        /// Segment name.
        segment: String,
        /// Bytes read (an event boundary).
        offset: u64,
        /// CRC32C of those bytes.
        digest: u32,
    },
    /// A worker process found a violation itself.
    Violation(String),
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Sent {
                writer,
                segment,
                number,
            } => write!(f, "SENT {writer} {segment} {number}"),
            Entry::Acked {
                writer,
                segment,
                number,
            } => write!(f, "ACKED {writer} {segment} {number}"),
            Entry::Seen {
                segment,
                offset,
                digest,
            } => write!(f, "SEEN {segment} {offset} {digest:08x}"),
            // One line: a newline inside would split the entry.
            Entry::Violation(text) => write!(f, "VIOLATION {}", text.replace('\n', " | ")),
        }
    }
}

/// A log line that does not parse (and is not a torn last line).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A line in the middle of a file is malformed.
    #[error("{path}:{line}: malformed log line {text:?}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

fn parse_line(line: &str) -> Option<Entry> {
    if let Some(text) = line.strip_prefix("VIOLATION ") {
        return Some(Entry::Violation(text.to_owned()));
    }
    let mut words = line.split(' ');
    let kind = words.next()?;
    let entry = match kind {
        "SENT" | "ACKED" => {
            let writer = words.next()?.parse().ok()?;
            let segment = words.next()?.to_owned();
            let number = words.next()?.parse().ok()?;
            if kind == "SENT" {
                Entry::Sent {
                    writer,
                    segment,
                    number,
                }
            } else {
                Entry::Acked {
                    writer,
                    segment,
                    number,
                }
            }
        }
        "SEEN" => Entry::Seen {
            segment: words.next()?.to_owned(),
            offset: words.next()?.parse().ok()?,
            digest: u32::from_str_radix(words.next()?, 16).ok()?,
        },
        _ => return None,
    };
    words.next().is_none().then_some(entry)
}

/// Parses a whole log. Only complete lines count: text after the last
/// newline is a line still being written (or torn by a kill) and is skipped.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Entry>, LedgerError> {
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => return Ok(Vec::new()),
    };
    complete
        .split('\n')
        .enumerate()
        .map(|(index, line)| {
            parse_line(line).ok_or_else(|| LedgerError::Malformed {
                path: path.to_owned(),
                line: index + 1,
                text: line.to_owned(),
            })
        })
        .collect()
}

/// Reads and parses one log file; a missing file is an empty log (its
/// process has not started yet).
pub fn read(path: &Path) -> Result<Vec<Entry>, LedgerError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &String::from_utf8_lossy(&bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(LedgerError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// An append-only log a worker process writes.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
}

impl LogWriter {
    /// Opens `path` for appending, first cutting off a torn last line left
    /// by a previous process of the same role that was killed mid-write:
    /// appending after it would glue two lines into a malformed one.
    pub fn open(path: &Path) -> Result<LogWriter, LedgerError> {
        let io = |source| LedgerError::Io {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if keep < bytes.len() {
            file.set_len(keep as u64).map_err(io)?;
        }
        Ok(LogWriter {
            path: path.to_owned(),
            file,
        })
    }

    /// Writes `entries` with one `write` call, so that a kill leaves either
    /// all of them, a prefix, or a torn last line, never a gap.
    pub fn write(&mut self, entries: &[Entry]) -> Result<(), LedgerError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for entry in entries {
            text.push_str(&entry.to_string());
            text.push('\n');
        }
        self.file
            .write_all(text.as_bytes())
            .map_err(|source| LedgerError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// What the writers' logs say about one (segment, writer).
#[derive(Debug, Default, Clone)]
pub struct WriterRecord {
    /// Every event number logged as SENT.
    pub sent: BTreeSet<u64>,
    /// Every event number logged as ACKED.
    pub acked: BTreeSet<u64>,
}

/// Everything the logs of one epoch say, aggregated.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// segment → writer → record.
    pub writers: HashMap<String, HashMap<u32, WriterRecord>>,
    /// Reader checkpoints: (segment, offset, digest).
    pub seen: Vec<(String, u64, u32)>,
    /// Violations the workers reported, with the file they came from.
    pub violations: Vec<String>,
}

impl Ledger {
    /// Adds one log's entries; `source` names the log in violations.
    pub fn add(&mut self, source: &str, entries: Vec<Entry>) {
        for entry in entries {
            match entry {
                Entry::Sent {
                    writer,
                    segment,
                    number,
                } => {
                    self.record(segment, writer).sent.insert(number);
                }
                Entry::Acked {
                    writer,
                    segment,
                    number,
                } => {
                    self.record(segment, writer).acked.insert(number);
                }
                Entry::Seen {
                    segment,
                    offset,
                    digest,
                } => self.seen.push((segment, offset, digest)),
                Entry::Violation(text) => self.violations.push(format!("{source}: {text}")),
            }
        }
    }

    fn record(&mut self, segment: String, writer: u32) -> &mut WriterRecord {
        self.writers
            .entry(segment)
            .or_default()
            .entry(writer)
            .or_default()
    }

    /// Reads every `*.log` file of `dir`.
    pub fn read_dir(dir: &Path) -> Result<Ledger, LedgerError> {
        let io = |source| LedgerError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        paths.retain(|path| path.extension().is_some_and(|ext| ext == "log"));
        paths.sort();
        let mut ledger = Ledger::default();
        for path in paths {
            let source = path
                .file_name()
                .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
            ledger.add(&source, read(&path)?);
        }
        Ok(ledger)
    }

    /// Events acknowledged, over every segment and writer.
    pub fn acked_count(&self) -> usize {
        self.writers
            .values()
            .flat_map(|writers| writers.values())
            .map(|record| record.acked.len())
            .sum()
    }

    /// Events acknowledged from `writer`, over every segment.
    pub fn acked_by(&self, writer: u32) -> usize {
        self.writers
            .values()
            .filter_map(|writers| writers.get(&writer))
            .map(|record| record.acked.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_text() {
        let entries = [
            Entry::Sent {
                writer: 2,
                segment: "chaos/e0/1".into(),
                number: 9,
            },
            Entry::Acked {
                writer: 2,
                segment: "chaos/e0/1".into(),
                number: 9,
            },
            Entry::Seen {
                segment: "chaos/e0/1".into(),
                offset: 4096,
                digest: 0xdead_beef,
            },
            Entry::Violation("two\nlines".into()),
        ];
        let text: String = entries.iter().map(|e| format!("{e}\n")).collect();
        let parsed = parse(Path::new("x.log"), &text).expect("parses");
        assert_eq!(parsed[..3], entries[..3]);
        assert_eq!(parsed[3], Entry::Violation("two | lines".into()));
    }

    #[test]
    fn a_torn_last_line_is_skipped_but_a_bad_middle_line_is_an_error() {
        let torn = "SENT 1 s/a 0\nACKED 1 s/a 0\nSENT 1 s/";
        assert_eq!(parse(Path::new("x.log"), torn).expect("parses").len(), 2);
        let bad = "SENT 1 s/a 0\nSENT 1 s/\nACKED 1 s/a 0\n";
        match parse(Path::new("x.log"), bad) {
            Err(LedgerError::Malformed { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a malformed line, got {other:?}"),
        }
    }

    #[test]
    fn reopening_trims_a_torn_line_before_appending() {
        let dir = std::env::temp_dir().join(format!("spate-chaos-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("w.log");
        std::fs::write(&path, "SENT 0 s/a 0\nACKED 0 s").expect("write");
        let mut log = LogWriter::open(&path).expect("open");
        let acked = Entry::Acked {
            writer: 0,
            segment: "s/a".into(),
            number: 0,
        };
        log.write(std::slice::from_ref(&acked)).expect("write");
        let entries = read(&path).expect("parses");
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], acked);
    }
}
