//! A client that pipelines requests and never reads a reply: largest reads
//! of the big segment, with an append now and then. Its replies pile up
//! until the node stops reading its socket; then the harness can send no
//! more (the kernel's buffers fill). The node must keep serving the probe
//! and hold no more than its limits allow for this client.

use std::io::{ErrorKind, Write};
use std::time::Duration;

use spate_wire::{Append, Read, Request};

use super::{CaseResult, Target, create, hold, small_receive_buffer};
use crate::overload::budget;
use crate::overload::error::OverloadError;
use crate::overload::names;
use crate::overload::probe::Probe;
use crate::overload::raw::{RawConn, RawError};

/// Consecutive refused writes, a few milliseconds apart, after which the
/// node counts as no longer reading: the kernel's buffers are full and
/// stay full.
const STALLED_WRITES: u32 = 400;
/// Requests after which a node that still reads counts as buffering
/// without bound (far beyond its in-flight limit plus what the kernel's
/// socket buffers can hold).
const MAX_REQUESTS: u64 = 1_000_000;
/// One request in this many is an append.
const APPEND_EVERY: u64 = 8;

/// Runs the case.
pub fn run(target: &Target, probe: &Probe) -> Result<CaseResult, OverloadError> {
    let mut result = CaseResult::default();
    let segment = names::unread();
    let mut admin = RawConn::open(target.core_of(&segment)).map_err(OverloadError::setup(
        "connecting to create the unread segment",
    ))?;
    create(&mut admin, &segment)?;
    let (big, _) = &target.big;
    let mut conn = RawConn::open(target.core_of(big))
        .map_err(OverloadError::setup("connecting the non-reading client"))?;
    small_receive_buffer(&conn, 4096).map_err(OverloadError::setup("shrinking its buffer"))?;
    conn.stream()
        .set_nonblocking(true)
        .map_err(|source| OverloadError::Os {
            context: "making the non-reading client's socket non-blocking".into(),
            source,
        })?;
    let sent = send_until_refused(target, &mut conn, &segment)
        .map_err(OverloadError::setup("pipelining requests"))?;
    result.did.push(format!(
        "sent {} requests ({} appends, {} largest reads; {} KiB) without reading a reply",
        sent.requests,
        sent.appends,
        sent.requests - sent.appends,
        sent.bytes >> 10
    ));
    if sent.stopped {
        result
            .answers
            .add("stopped reading the socket (backpressure)");
    } else {
        result.failures.push(format!(
            "the node took {} requests from a client that reads no reply, and still reads",
            sent.requests
        ));
    }
    if let Some(failure) = hold(target, probe, || {}) {
        result.failures.push(failure);
    }
    drop(conn);
    result.bound =
        budget::connections(1).plus_all(budget::requests_in_flight(sent.bytes, &target.limits()));
    Ok(result)
}

/// What the client got into the socket.
struct Sent {
    requests: u64,
    appends: u64,
    bytes: u64,
    /// Whether writing stopped because the node stopped reading.
    stopped: bool,
}

fn send_until_refused(
    target: &Target,
    conn: &mut RawConn,
    segment: &str,
) -> Result<Sent, RawError> {
    let (big, big_len) = &target.big;
    let mut sent = Sent {
        requests: 0,
        appends: 0,
        bytes: 0,
        stopped: false,
    };
    let mut frame: Vec<u8> = Vec::new();
    let mut written = 0;
    let mut refused = 0;
    while sent.requests < MAX_REQUESTS {
        if written == frame.len() {
            let i = sent.requests;
            let request = if i.is_multiple_of(APPEND_EVERY) {
                sent.appends += 1;
                Request::Append(Append {
                    segment: segment.into(),
                    writer_id: 3,
                    event_number: sent.appends as i64,
                    payload: vec![0xa5; 4096],
                })
            } else {
                Request::Read(Read {
                    segment: big.clone(),
                    offset: (i * 3_000_017) % big_len,
                    max_bytes: target.max_read(),
                    wait_ms: 0,
                })
            };
            frame = conn.frame(&request)?.1;
            written = 0;
        }
        match conn.stream().write(&frame[written..]) {
            Ok(n) => {
                written += n;
                sent.bytes += n as u64;
                refused = 0;
                if written == frame.len() {
                    sent.requests += 1;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                refused += 1;
                if refused >= STALLED_WRITES {
                    sent.stopped = true;
                    return Ok(sent);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(RawError::Io(e)),
        }
    }
    Ok(sent)
}
