//! The reader process: follows every segment from offset 0 (one thread
//! each), checks each event as it arrives (bit-exact, per-writer order, no
//! duplicates) and logs how far it has read with a digest of those bytes,
//! so the verifier can later prove that nothing a reader saw went away.
//!
//! Reads come from the node's durable view only, so a byte a reader saw
//! must survive every later kill. After a failed read it reconnects and
//! resumes at the last whole event.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spate_client::ReadOutcome;

use crate::check::OrderCheck;
use crate::cli::WorkerArgs;
use crate::connect;
use crate::ledger::{Entry, LogWriter};
use crate::parse::Parser;
use crate::worker::{self, Stop};

/// Runs until killed; returns only when it must stop.
pub fn run(args: &WorkerArgs) -> Stop {
    let path = args.dir.join(format!("reader-{}.log", args.index));
    let log = match LogWriter::open(&path) {
        Ok(log) => Arc::new(Mutex::new(log)),
        Err(error) => return Stop::Harness(error.to_string()),
    };
    let (stopped, first_stop) = mpsc::channel();
    for segment in &args.segments {
        let follower = Follower {
            segment: segment.clone(),
            node: args.node,
            log: Arc::clone(&log),
            parser: Parser::new(segment),
            order: OrderCheck::default(),
        };
        let stopped = stopped.clone();
        std::thread::spawn(move || {
            let _ = stopped.send(follower.run());
        });
    }
    let stop = first_stop
        .recv()
        .unwrap_or_else(|_| Stop::Harness("every reader thread vanished".into()));
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    worker::report(&mut log, stop)
}

/// One segment's reader thread.
struct Follower {
    segment: String,
    node: std::net::SocketAddr,
    log: Arc<Mutex<LogWriter>>,
    parser: Parser,
    order: OrderCheck,
}

impl Follower {
    fn run(mut self) -> Stop {
        loop {
            if let Some(stop) = self.session() {
                return stop;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads until a call fails; `None` if a new session should follow.
    fn session(&mut self) -> Option<Stop> {
        let client = match connect::connect(self.node, None) {
            Ok(client) => client,
            Err(error) => return worker::classify(error, "connecting"),
        };
        // A partial event is read again whole from its start.
        self.parser.drop_partial();
        let start = self.parser.boundary();
        let mut reader = match client.segment_reader(&self.segment, start) {
            Ok(reader) => reader,
            Err(error) => return worker::classify(error, &self.segment),
        };
        loop {
            let chunk = match reader.read().wait() {
                Ok(ReadOutcome::Data(chunk)) => chunk,
                Ok(other) => {
                    return Some(Stop::Violation(format!(
                        "UNEXPECTED {}: reading at {}: {other:?} (the loop never seals, \
                         truncates or deletes)",
                        self.segment,
                        self.parser.next_offset()
                    )));
                }
                Err(error) => {
                    let context = format!("reading {} at {}", self.segment, reader.offset());
                    return worker::classify(error, &context);
                }
            };
            if let Err(stop) = self.take(chunk.offset, &chunk.data) {
                return Some(stop);
            }
        }
    }

    /// Checks a chunk's events and logs the new checkpoint.
    fn take(&mut self, offset: u64, data: &[u8]) -> Result<(), Stop> {
        let segment = &self.segment;
        let expected = self.parser.next_offset();
        if offset != expected {
            return Err(Stop::Violation(format!(
                "OFFSET {segment}: a read returned data at {offset}; the reader was at {expected}"
            )));
        }
        let before = self.parser.boundary();
        let mut events = Vec::new();
        let parsed = self.parser.feed(data, &mut events);
        for event in &events {
            if let Some(violation) = self.order.observe(segment, event) {
                return Err(Stop::Violation(violation.to_string()));
            }
        }
        if let Err(corrupt) = parsed {
            return Err(Stop::Violation(format!("CORRUPT {segment}: {corrupt}")));
        }
        if self.parser.boundary() > before {
            let seen = Entry::Seen {
                segment: segment.clone(),
                offset: self.parser.boundary(),
                digest: self.parser.digest(),
            };
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            log.write(&[seen])
                .map_err(|error| Stop::Harness(error.to_string()))?;
        }
        Ok(())
    }
}
