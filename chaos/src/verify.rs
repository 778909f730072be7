//! One verification pass over an epoch: read every segment from offset 0
//! up to its length and hold it against the logs.
//!
//! Writers and readers may keep running meanwhile. The order of the three
//! steps is what makes that sound: logs first (ACKED and SEEN), segments
//! second, logs again (SENT). See `check`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use spate_client::{Client, ClientError, InfoOutcome, ReadOutcome};

use crate::check::{self, Expected, Violation};
use crate::error::HarnessError;
use crate::ledger::Ledger;
use crate::parse::{Corrupt, Observed, Parser};

/// Attempts at reading a segment when the node fails a call (it was just
/// restarted and may still be settling).
const READ_ATTEMPTS: u32 = 5;

/// What a pass found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Events the logs say were acknowledged (before the pass).
    pub acked: usize,
    /// Of those, not found.
    pub lost: usize,
    /// Events in the segments.
    pub events: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Everything wrong, as lines to print.
    pub violations: Vec<String>,
    /// False when the pass did not finish (the counts are then not known).
    pub complete: bool,
}

impl Verdict {
    /// Nothing wrong.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

/// A segment as read now.
struct Image {
    observed: Vec<Observed>,
    end: u64,
    corrupt: Option<Corrupt>,
    /// A read answer that should not happen (missing segment, ...).
    unreadable: Option<String>,
}

/// Runs a pass, but gives up (as a violation: the node stopped answering)
/// if it takes longer than `patience`: a read that never returns must not
/// hang the loop.
pub fn verify(
    dir: &Path,
    client: &Client,
    segments: &[String],
    patience: Duration,
) -> Result<Verdict, HarnessError> {
    let (done, result) = mpsc::channel();
    let (dir, client, segments) = (dir.to_owned(), client.clone(), segments.to_vec());
    // Left running if it hangs; the loop then reports and exits.
    std::thread::spawn(move || {
        let _ = done.send(pass(&dir, &client, &segments));
    });
    match result.recv_timeout(patience) {
        Ok(verdict) => verdict,
        Err(_) => Ok(Verdict {
            violations: vec![format!(
                "STALLED: a verification pass did not finish in {patience:?}: a read got no \
                 answer (or the epoch holds more than a pass can read in that time)"
            )],
            ..Verdict::default()
        }),
    }
}

fn pass(dir: &Path, client: &Client, segments: &[String]) -> Result<Verdict, HarnessError> {
    let before = Ledger::read_dir(dir)?;
    let mut images = Vec::with_capacity(segments.len());
    for segment in segments {
        images.push(read_with_retries(client, segment)?);
    }
    let after = Ledger::read_dir(dir)?;
    let mut verdict = Verdict {
        violations: after.violations.clone(),
        complete: true,
        ..Verdict::default()
    };
    let none = HashMap::new();
    for (segment, image) in segments.iter().zip(&images) {
        if let Some(reason) = &image.unreadable {
            verdict
                .violations
                .push(format!("UNREADABLE {segment}: {reason}"));
        }
        let expected = Expected {
            acked: before.writers.get(segment).unwrap_or(&none),
            sent: after.writers.get(segment).unwrap_or(&none),
        };
        let report = check::check_segment(
            segment,
            &image.observed,
            image.end,
            image.corrupt.as_ref(),
            expected,
        );
        verdict.acked += report.acked;
        verdict.lost += report.lost;
        verdict.events += report.events;
        verdict.bytes += image.end;
        let boundaries: HashMap<u64, u32> = image
            .observed
            .iter()
            .map(|event| (event.end, event.digest))
            .collect();
        let seen: Vec<(u64, u32)> = before
            .seen
            .iter()
            .filter(|(s, _, _)| s == segment)
            .map(|&(_, offset, digest)| (offset, digest))
            .collect();
        let views = check::check_reader_views(segment, &seen, &boundaries, image.end);
        let all = report.violations.iter().chain(&views);
        verdict.violations.extend(all.map(Violation::to_string));
    }
    Ok(verdict)
}

fn read_with_retries(client: &Client, segment: &str) -> Result<Image, HarnessError> {
    let mut attempt = 1;
    loop {
        match read(client, segment) {
            Ok(image) => return Ok(image),
            Err(error) if error.is_retryable() && attempt < READ_ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => {
                let context = format!("reading {segment} for verification");
                return Err(HarnessError::client(context)(error));
            }
        }
    }
}

/// Reads `segment` from 0 to the length the node reports now.
fn read(client: &Client, segment: &str) -> Result<Image, ClientError> {
    let mut image = Image {
        observed: Vec::new(),
        end: 0,
        corrupt: None,
        unreadable: None,
    };
    let length = match client.info(segment).wait()? {
        InfoOutcome::Found(info) => info.length,
        InfoOutcome::NoSuchSegment => {
            image.unreadable = Some("the node says no such segment".into());
            return Ok(image);
        }
    };
    let mut parser = Parser::new(segment);
    let mut reader = client.segment_reader(segment, 0)?;
    while parser.next_offset() < length {
        let chunk = match reader.read().wait()? {
            ReadOutcome::Data(chunk) => chunk,
            other => {
                let at = parser.next_offset();
                image.unreadable = Some(format!("reading at {at} of {length}: {other:?}"));
                break;
            }
        };
        if chunk.offset != parser.next_offset() {
            let at = parser.next_offset();
            image.unreadable = Some(format!("asked for {at}, got data at {}", chunk.offset));
            break;
        }
        if let Err(corrupt) = parser.feed(&chunk.data, &mut image.observed) {
            image.corrupt = Some(corrupt);
            break;
        }
    }
    image.end = parser.boundary();
    // The length is always an event boundary: appends are atomic.
    let clean = image.corrupt.is_none() && image.unreadable.is_none();
    if clean && parser.boundary() < length {
        image.corrupt = Some(Corrupt {
            offset: parser.boundary(),
            reason: format!("the segment's length {length} falls inside this event"),
        });
    }
    Ok(image)
}
