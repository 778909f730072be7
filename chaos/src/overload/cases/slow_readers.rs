//! Slow readers. Long-poll readers wait at the tails of a few segments
//! (woken once, by one append to each, then waiting again); range readers
//! ask for the largest reads of the big segment, several at once, and drain
//! their small socket buffers a few hundred bytes at a time. The node must
//! keep serving the probe, wake every waiting reader, and hold no more reply
//! bytes than its outbound budget allows however slowly they drain.

use std::io::Read as _;

use spate_wire::{MAX_READ_WAIT_MS, Read, Reply, Request};

use super::{CaseResult, Target, append, create, hold, small_receive_buffer};
use crate::overload::budget;
use crate::overload::error::OverloadError;
use crate::overload::probe::Probe;
use crate::overload::raw::{RawConn, RawError, reply_name};
use crate::overload::tally::Tally;
use crate::overload::{names, pattern};

/// Segments the long-poll readers wait on.
const TAILS: usize = 8;
/// Bytes a range reader takes from its socket per tick: slow enough that a
/// largest read takes minutes to drain.
const DRAIN_BYTES: usize = 256;
/// Its kernel receive buffer (the kernel doubles it).
const RECEIVE_BUFFER: i32 = 4096;
/// Bytes appended to each tail segment to wake its readers.
const WAKE_BYTES: usize = 1000;

/// How many of each reader.
#[derive(Debug, Clone, Copy)]
pub struct Readers {
    /// Long-poll readers at segment tails.
    pub pollers: usize,
    /// Readers of big ranges that drain slowly.
    pub ranges: usize,
    /// Largest reads each range reader has outstanding.
    pub reads_each: usize,
}

struct Poller {
    conn: RawConn,
    segment: String,
    offset: u64,
    woken: bool,
}

/// Runs the case.
pub fn run(target: &Target, probe: &Probe, readers: Readers) -> Result<CaseResult, OverloadError> {
    let mut result = CaseResult::default();
    let tails: Vec<String> = (0..TAILS).map(names::tail).collect();
    let mut admin = Vec::new();
    for tail in &tails {
        let mut conn = RawConn::open(target.core_of(tail))
            .map_err(OverloadError::setup("connecting to create a tail segment"))?;
        create(&mut conn, tail)?;
        admin.push(conn);
    }
    let mut pollers = open_pollers(target, &tails, readers.pollers, &mut result);
    let mut ranges = open_ranges(target, readers, &mut result);
    result.did.push(format!(
        "{} long-poll readers waiting at the tails of {TAILS} segments; {} range readers with \
         {} reads of {} KiB each outstanding, draining {DRAIN_BYTES} B per tick",
        pollers.len(),
        ranges.len(),
        readers.reads_each,
        target.max_read() >> 10
    ));
    let mut drained = 0u64;
    let mut tick = |pollers: &mut Vec<Poller>, answers: &mut Tally| {
        drained += drain_ranges(&mut ranges, answers);
        serve_pollers(pollers, answers);
    };
    // First the probe works while every reader waits; then each tail gets
    // one append, which must wake all its readers while the probe goes on.
    if let Some(failure) = hold(target, probe, || tick(&mut pollers, &mut result.answers)) {
        result.failures.push(failure);
    }
    for (conn, tail) in admin.iter_mut().zip(&tails) {
        let mut wake = vec![0u8; WAKE_BYTES];
        pattern::fill(0, &mut wake);
        append(conn, tail, 1, 0, wake)?;
    }
    if let Some(failure) = hold(target, probe, || tick(&mut pollers, &mut result.answers)) {
        result.failures.push(failure);
    }
    // Wake-ups travel through the node's tail waiters and the sockets: poll
    // a bounded number of times for the last ones.
    let mut attempts = 0;
    while pollers.iter().any(|p| !p.woken) && attempts < 2_000 {
        tick(&mut pollers, &mut result.answers);
        std::thread::sleep(std::time::Duration::from_millis(5));
        attempts += 1;
    }
    let woken = pollers.iter().filter(|p| p.woken).count();
    result.did.push(format!(
        "{woken} long-poll readers woken by the appends; range readers drained {} KiB in all",
        drained >> 10
    ));
    if woken < pollers.len() {
        result.failures.push(format!(
            "{} long-poll readers were not woken by an append to their segment",
            pollers.len() - woken
        ));
    }
    let connections = pollers.len() + ranges.len();
    // Their replies are within the per-core share and each connection's
    // floor, both in the base bound and in `connections`.
    result.bound = budget::connections(connections);
    Ok(result)
}

fn open_pollers(
    target: &Target,
    tails: &[String],
    n: usize,
    result: &mut CaseResult,
) -> Vec<Poller> {
    let mut pollers = Vec::with_capacity(n);
    for i in 0..n {
        let segment = tails[i % tails.len()].clone();
        let opened = RawConn::open(target.cores[i % target.cores.len()]).and_then(|conn| {
            let mut poller = Poller {
                conn,
                segment,
                offset: 0,
                woken: false,
            };
            poll_tail(&mut poller)?;
            poller
                .conn
                .stream()
                .set_nonblocking(true)
                .map_err(RawError::Io)?;
            Ok(poller)
        });
        match opened {
            Ok(poller) => pollers.push(poller),
            Err(e) => result.answers.add(format!("tail reader: {}", e.outcome())),
        }
    }
    pollers
}

/// Sends the next long-poll read at the poller's offset.
fn poll_tail(poller: &mut Poller) -> Result<(), RawError> {
    let read = Request::Read(Read {
        segment: poller.segment.clone(),
        offset: poller.offset,
        max_bytes: 64 << 10,
        wait_ms: MAX_READ_WAIT_MS,
    });
    poller.conn.send(&read).map(|_| ())
}

/// Takes the long-poll readers' answers; one with data is woken, checks
/// its bytes and waits again at the new tail.
fn serve_pollers(pollers: &mut [Poller], answers: &mut Tally) {
    for poller in pollers.iter_mut() {
        let replies = match poller.conn.drain_some(4096) {
            Ok(replies) => replies,
            Err(e) => {
                answers.add(format!("tail reader: {}", e.outcome()));
                poller.woken = true; // counted above; not waited for again
                continue;
            }
        };
        for (_, reply) in replies {
            match reply {
                Reply::ReadData(data) if !data.data.is_empty() => {
                    let good = pattern::first_mismatch(data.offset, &data.data).is_none();
                    answers.add(if good {
                        "tail reader: ReadData with the appended bytes"
                    } else {
                        "tail reader: ReadData with WRONG bytes"
                    });
                    poller.woken = true;
                    poller.offset = data.offset + data.data.len() as u64;
                    if let Err(e) = poll_tail(poller) {
                        answers.add(format!("tail reader: {}", e.outcome()));
                    }
                }
                other => answers.add(format!("tail reader: {}", reply_name(&other))),
            }
        }
    }
}

/// A range reader, until the node closes its connection.
struct RangeReader {
    conn: RawConn,
    closed: bool,
}

fn open_ranges(target: &Target, readers: Readers, result: &mut CaseResult) -> Vec<RangeReader> {
    let (big, big_len) = &target.big;
    let mut opened = Vec::with_capacity(readers.ranges);
    for _ in 0..readers.ranges {
        let conn = RawConn::open(target.core_of(big)).and_then(|conn| {
            small_receive_buffer(&conn, RECEIVE_BUFFER)?;
            Ok(conn)
        });
        match conn {
            Ok(conn) => opened.push(RangeReader {
                conn,
                closed: false,
            }),
            Err(e) => result.answers.add(format!("range reader: {}", e.outcome())),
        }
    }
    // Every reader asks at once, once all are connected: the node gets the
    // whole burst of reads together, as from readers that reconnect at once.
    let mut asking = Vec::with_capacity(opened.len());
    for (i, mut reader) in opened.into_iter().enumerate() {
        let asked = (0..readers.reads_each).try_for_each(|k| {
            // Spread over the segment: some in the cache, some evicted.
            let offset = ((i * readers.reads_each + k) as u64 * 7_919_993) % big_len;
            let read = Request::Read(Read {
                segment: big.clone(),
                offset,
                max_bytes: target.max_read(),
                wait_ms: 0,
            });
            reader.conn.send(&read).map(|_| ())
        });
        let asked = asked.and_then(|()| {
            reader
                .conn
                .stream()
                .set_nonblocking(true)
                .map_err(RawError::Io)
        });
        match asked {
            Ok(()) => asking.push(reader),
            Err(e) => result.answers.add(format!("range reader: {}", e.outcome())),
        }
    }
    asking
}

/// Reads a few bytes from each range reader's socket; returns how many.
fn drain_ranges(readers: &mut [RangeReader], answers: &mut Tally) -> u64 {
    let mut buf = [0u8; DRAIN_BYTES];
    let mut total = 0;
    for reader in readers.iter_mut().filter(|r| !r.closed) {
        match reader.conn.stream().read(&mut buf) {
            Ok(n) if n > 0 => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok(_) => {
                answers.add("range reader: connection closed");
                reader.closed = true;
            }
            Err(e) => {
                answers.add(format!("range reader: {}", e.kind()));
                reader.closed = true;
            }
        }
    }
    total
}
