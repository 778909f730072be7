//! The overload cases. Each sets up its abuse, holds it while the
//! well-behaved probe completes some rounds, counts what the node answered
//! the abusers, and ends the abuse. The runner measures the peak RSS around
//! it and checks it against the base bound plus the terms the case adds.

pub mod connection_limit;
pub mod huge_frame;
pub mod idle;
pub mod segments;
pub mod slow_readers;
pub mod unread;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use spate_wire::{Append, CreateSegment, HelloReply, Limits, Reply, Request, RetryAdvice};

use super::error::OverloadError;
use super::memory::Bound;
use super::probe::Probe;
use super::raw::{RawConn, RawError, reply_name};
use super::tally::Tally;

/// What every case knows of the node under test.
pub struct Target {
    /// Each core's address.
    pub cores: Vec<SocketAddr>,
    /// The handshake: topology and limits.
    pub hello: HelloReply,
    /// The big segment the readers read (see `pattern`), and its length.
    pub big: (String, u64),
    /// How many rounds the probe must complete while a case's abuse holds.
    pub rounds: u64,
    /// How long the probe may go without finishing its rounds before the
    /// node counts as no longer serving it (a liveness guard).
    pub patience: Duration,
}

impl Target {
    /// The limits the node advertised.
    pub fn limits(&self) -> Limits {
        self.hello.limits
    }

    /// The address of the core that owns `segment`.
    pub fn core_of(&self, segment: &str) -> SocketAddr {
        let count =
            NonZeroU32::new(self.hello.container_cores.len() as u32).unwrap_or(NonZeroU32::MIN);
        let container = spate_wire::container_for(segment, count) as usize;
        let core = self
            .hello
            .container_cores
            .get(container)
            .copied()
            .unwrap_or(0);
        self.cores
            .get(usize::from(core))
            .or(self.cores.first())
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The largest data a read may return under the node's limits.
    pub fn max_read(&self) -> u32 {
        self.limits().max_frame_bytes - spate_wire::READ_DATA_OVERHEAD
    }
}

/// What a case found.
#[derive(Debug, Default)]
pub struct CaseResult {
    /// What it did, in counts.
    pub did: Vec<String>,
    /// What the node answered the abusive clients, and how connections ended.
    pub answers: Tally,
    /// Expectations the node broke (besides the probe's and the memory bound).
    pub failures: Vec<String>,
    /// Bound terms the case's clients add to the base bound.
    pub bound: Bound,
}

/// Opens `n` connections round-robin over the cores and handshakes each.
/// Returns the ones that completed it; the others' outcomes are counted.
pub fn open_many(cores: &[SocketAddr], n: usize, answers: &mut Tally) -> Vec<RawConn> {
    let mut open = Vec::with_capacity(n);
    for i in 0..n {
        let addr = cores[i % cores.len()];
        match RawConn::open(addr) {
            Ok(conn) => {
                answers.add("HelloReply");
                open.push(conn);
            }
            Err(RawError::Handshake(answer)) => answers.add(answer),
            Err(e) => answers.add(e.outcome()),
        }
    }
    open
}

/// Calls `tick` every few milliseconds until the probe has completed the
/// target's rounds beyond now. Returns a failure line if it did not within
/// the target's patience, or failed.
pub fn hold(target: &Target, probe: &Probe, mut tick: impl FnMut()) -> Option<String> {
    let goal = probe.rounds() + target.rounds;
    let deadline = Instant::now() + target.patience;
    while probe.rounds() < goal {
        if probe.failed() {
            return Some("the well-behaved client failed (see its report)".into());
        }
        if Instant::now() >= deadline {
            return Some(format!(
                "the well-behaved client completed {} of {} rounds in {:?}",
                target.rounds + probe.rounds() - goal,
                target.rounds,
                target.patience
            ));
        }
        tick();
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Shrinks the kernel's receive buffer of a socket, so that a client that
/// reads slowly holds back the node after a few KiB rather than megabytes.
pub fn small_receive_buffer(conn: &RawConn, bytes: i32) -> Result<(), RawError> {
    let fd = conn.stream().as_raw_fd();
    // SAFETY: a valid socket descriptor and an int option of the right size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const bytes).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(RawError::Io(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Sends `requests` over `conn` with up to `window` unanswered at once and
/// hands each reply to `on_reply` with the index of its request.
pub fn pipeline(
    conn: &mut RawConn,
    requests: Vec<Request>,
    window: usize,
    mut on_reply: impl FnMut(usize, Reply),
) -> Result<(), RawError> {
    let mut waiting: HashMap<u64, usize> = HashMap::new();
    let mut next = 0;
    while next < requests.len() || !waiting.is_empty() {
        while next < requests.len() && waiting.len() < window {
            let id = conn.send(&requests[next])?;
            waiting.insert(id, next);
            next += 1;
        }
        let (id, reply) = conn.receive()?;
        if let Some(index) = waiting.remove(&id) {
            on_reply(index, reply);
        }
    }
    Ok(())
}

/// Creates `segment` (it must not exist).
pub fn create(conn: &mut RawConn, segment: &str) -> Result<(), OverloadError> {
    let request = Request::CreateSegment(CreateSegment {
        segment: segment.into(),
    });
    let context = format!("creating {segment}");
    match conn
        .call(&request)
        .map_err(OverloadError::setup(&context))?
    {
        Reply::SegmentCreated(_) => Ok(()),
        other => Err(OverloadError::Refused {
            context,
            answer: reply_name(&other),
        }),
    }
}

/// Appends one event, retrying while the node answers with retry advice;
/// returns the segment's length after it.
pub fn append(
    conn: &mut RawConn,
    segment: &str,
    writer_id: u128,
    event_number: i64,
    payload: Vec<u8>,
) -> Result<u64, OverloadError> {
    let request = Request::Append(Append {
        segment: segment.into(),
        writer_id,
        event_number,
        payload,
    });
    let context = format!("appending event {event_number} to {segment}");
    for attempt in 0..200u64 {
        match conn
            .call(&request)
            .map_err(OverloadError::setup(&context))?
        {
            Reply::Appended(a) => return Ok(a.length),
            Reply::Error(e) if e.retry == RetryAdvice::Retry => {
                std::thread::sleep(Duration::from_millis(attempt.min(50) + 1));
            }
            other => {
                return Err(OverloadError::Refused {
                    context,
                    answer: reply_name(&other),
                });
            }
        }
    }
    Err(OverloadError::Refused {
        context,
        answer: "retryable refusals 200 times over".into(),
    })
}
