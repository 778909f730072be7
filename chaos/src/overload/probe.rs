//! The well-behaved client: while a case abuses the node, it appends events
//! to a segment of its own and reads each one back, checking every byte. It
//! reads its replies at once, sends one request at a time, and retries a
//! refusal the node marks retryable (after a backoff, a bounded number of
//! times), as a real client would.
//!
//! It runs on a thread of its own and stops when told; what it saw is
//! counted, and any failure is kept as a line of text for the report.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use spate_wire::{Append, CreateSegment, Read, Reply, Request, RetryAdvice};

use super::raw::{RawConn, RawError, reply_name};
use crate::event::{self, EventId};

/// Retries of one request refused with a retryable status before the probe
/// calls it a failure.
const MAX_RETRIES: u32 = 200;
/// The probe's writer index (for `event::encode`); its id is fixed.
const PROBE_WRITER: u32 = 7_000;

/// What the probe did, shared with the harness while it runs.
#[derive(Debug, Default)]
pub struct ProbeStats {
    /// Rounds completed: one append acknowledged and read back bit-exact,
    /// and one earlier event read back again.
    pub rounds: AtomicU64,
    /// Requests the node refused with a retryable status (and that the
    /// probe then retried).
    pub retried: AtomicU64,
    /// Failures, in words; the probe stops at the first.
    pub failures: Mutex<Vec<String>>,
}

/// A running probe.
pub struct Probe {
    stats: Arc<ProbeStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What a stopped probe reports.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// Rounds completed.
    pub rounds: u64,
    /// Retryable refusals it met.
    pub retried: u64,
    /// Its failures.
    pub failures: Vec<String>,
}

impl Probe {
    /// Starts a probe on a fresh segment `segment` through core `addr`.
    pub fn start(addr: SocketAddr, segment: String) -> Probe {
        let stats = Arc::new(ProbeStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_stats, thread_stop) = (stats.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            if let Err(failure) = run(addr, &segment, &thread_stats, &thread_stop)
                && let Ok(mut failures) = thread_stats.failures.lock()
            {
                failures.push(failure);
            }
        });
        Probe {
            stats,
            stop,
            thread: Some(thread),
        }
    }

    /// Rounds completed so far.
    pub fn rounds(&self) -> u64 {
        self.stats.rounds.load(Ordering::Relaxed)
    }

    /// Whether it failed (it stops at the first failure).
    pub fn failed(&self) -> bool {
        self.stats.failures.lock().map_or(true, |f| !f.is_empty())
    }

    /// Waits until the probe has completed `more` rounds beyond now, or has
    /// failed, or `patience` ran out (a liveness guard: the node stopped
    /// serving it). Returns whether it got them.
    pub fn wait_rounds(&self, more: u64, patience: Duration) -> bool {
        let target = self.rounds() + more;
        let deadline = std::time::Instant::now() + patience;
        while self.rounds() < target {
            if self.failed() || std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Stops it and reports. A probe stuck in a call to an unresponsive
    /// node is left behind (its socket times out on its own).
    pub fn stop(mut self, patience: Duration) -> ProbeReport {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = std::time::Instant::now() + patience;
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else if let Ok(mut failures) = self.stats.failures.lock() {
                failures.push(format!("its last call did not return within {patience:?}"));
            }
        }
        ProbeReport {
            rounds: self.rounds(),
            retried: self.stats.retried.load(Ordering::Relaxed),
            failures: self
                .stats
                .failures
                .lock()
                .map(|f| f.clone())
                .unwrap_or_default(),
        }
    }
}

/// The probe's loop: returns its first failure.
fn run(
    addr: SocketAddr,
    segment: &str,
    stats: &ProbeStats,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut conn = RawConn::open(addr).map_err(|e| format!("connecting: {e}"))?;
    let create = Request::CreateSegment(CreateSegment {
        segment: segment.into(),
    });
    match call(&mut conn, &create, stats)? {
        Reply::SegmentCreated(_) => {}
        other => return Err(format!("creating {segment}: {}", reply_name(&other))),
    }
    // Where each event starts: the probe re-reads old events too, which
    // may have been evicted from the node's cache by then.
    let mut offsets: Vec<u64> = Vec::new();
    let mut length = 0u64;
    let mut number = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let id = EventId {
            writer: PROBE_WRITER,
            number,
        };
        let payload = event::encode(segment, id);
        let append = Request::Append(Append {
            segment: segment.into(),
            writer_id: event::writer_id(PROBE_WRITER),
            event_number: number as i64,
            payload: payload.clone(),
        });
        match call(&mut conn, &append, stats)? {
            Reply::Appended(a) if a.length == length + payload.len() as u64 => {}
            Reply::Appended(a) => {
                return Err(format!(
                    "event {number} acknowledged with length {}, expected {}",
                    a.length,
                    length + payload.len() as u64
                ));
            }
            other => return Err(format!("appending event {number}: {}", reply_name(&other))),
        }
        offsets.push(length);
        length += payload.len() as u64;
        check_event(&mut conn, segment, offsets[number as usize], number, stats)?;
        let old = number / 2;
        check_event(&mut conn, segment, offsets[old as usize], old, stats)?;
        number += 1;
        stats.rounds.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Reads event `number` back from `offset` and compares every byte.
fn check_event(
    conn: &mut RawConn,
    segment: &str,
    offset: u64,
    number: u64,
    stats: &ProbeStats,
) -> Result<(), String> {
    let expected = event::encode(
        segment,
        EventId {
            writer: PROBE_WRITER,
            number,
        },
    );
    let mut got = Vec::with_capacity(expected.len());
    while got.len() < expected.len() {
        let read = Request::Read(Read {
            segment: segment.into(),
            offset: offset + got.len() as u64,
            max_bytes: (expected.len() - got.len()) as u32,
            wait_ms: 0,
        });
        match call(conn, &read, stats)? {
            Reply::ReadData(data) if !data.data.is_empty() => {
                let room = expected.len() - got.len();
                got.extend_from_slice(&data.data[..data.data.len().min(room)]);
            }
            Reply::ReadData(_) => {
                return Err(format!(
                    "event {number} at {offset}: an empty read inside the segment"
                ));
            }
            other => {
                return Err(format!(
                    "reading event {number} at {offset}: {}",
                    reply_name(&other)
                ));
            }
        }
    }
    if got != expected {
        let at = got
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!(
            "event {number} at {offset} differs at byte {at} of {}",
            expected.len()
        ));
    }
    Ok(())
}

/// One request, retried while the node refuses it with retry advice.
fn call(conn: &mut RawConn, request: &Request, stats: &ProbeStats) -> Result<Reply, String> {
    for attempt in 0..=MAX_RETRIES {
        let reply = conn.call(request).map_err(|e: RawError| e.to_string())?;
        match &reply {
            Reply::Error(e) if e.retry == RetryAdvice::Retry && attempt < MAX_RETRIES => {
                stats.retried.fetch_add(1, Ordering::Relaxed);
                // Backoff: 1 ms, growing to 50 ms.
                std::thread::sleep(Duration::from_millis(u64::from(attempt.min(50)) + 1));
            }
            _ => return Ok(reply),
        }
    }
    Err("retries exhausted".into())
}
