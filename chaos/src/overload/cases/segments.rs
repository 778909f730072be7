//! Many segments: each created, appended to once and read back bit-exact,
//! pipelined over one connection per core, while the probe works.

use std::net::SocketAddr;

use spate_wire::{Append, CreateSegment, Read, Reply, Request};

use super::{CaseResult, Target, hold, pipeline};
use crate::event::{self, EventId};
use crate::overload::budget;
use crate::overload::error::OverloadError;
use crate::overload::names;
use crate::overload::probe::Probe;
use crate::overload::raw::{RawConn, reply_name};

/// Requests each connection keeps unanswered.
const WINDOW: usize = 128;
/// The writer index of the segments' single event.
const WRITER: u32 = 9_000;

/// Runs the case with `n` segments.
pub fn run(target: &Target, probe: &Probe, n: usize) -> Result<CaseResult, OverloadError> {
    let mut result = CaseResult::default();
    // Each segment goes to the core that owns it: no forwarding.
    let mut by_core: Vec<(SocketAddr, Vec<String>)> = target
        .cores
        .iter()
        .map(|addr| (*addr, Vec::new()))
        .collect();
    for i in 0..n {
        let name = names::many(i);
        let owner = target.core_of(&name);
        if let Some((_, names)) = by_core.iter_mut().find(|(addr, _)| *addr == owner) {
            names.push(name);
        }
    }
    let mut counts = [0usize; 3];
    for (addr, segments) in &by_core {
        let mut conn =
            RawConn::open(*addr).map_err(OverloadError::setup("connecting for the segments"))?;
        let step = |what: &str| OverloadError::setup(format!("{what} {} segments", segments.len()));
        let creates = segments
            .iter()
            .map(|s| Request::CreateSegment(CreateSegment { segment: s.clone() }))
            .collect();
        pipeline(&mut conn, creates, WINDOW, |_, reply| match reply {
            Reply::SegmentCreated(_) => counts[0] += 1,
            other => result
                .answers
                .add(format!("create: {}", reply_name(&other))),
        })
        .map_err(step("creating"))?;
        let appends = segments
            .iter()
            .map(|s| {
                Request::Append(Append {
                    segment: s.clone(),
                    writer_id: event::writer_id(WRITER),
                    event_number: 0,
                    payload: event::encode(s, first_event()),
                })
            })
            .collect();
        pipeline(&mut conn, appends, WINDOW, |_, reply| match reply {
            Reply::Appended(_) => counts[1] += 1,
            other => result
                .answers
                .add(format!("append: {}", reply_name(&other))),
        })
        .map_err(step("appending to"))?;
        let reads = segments
            .iter()
            .map(|s| {
                Request::Read(Read {
                    segment: s.clone(),
                    offset: 0,
                    max_bytes: event::encode(s, first_event()).len().max(1) as u32,
                    wait_ms: 0,
                })
            })
            .collect();
        pipeline(&mut conn, reads, WINDOW, |i, reply| match reply {
            Reply::ReadData(data) if data.data == event::encode(&segments[i], first_event()) => {
                counts[2] += 1;
            }
            Reply::ReadData(_) => result.answers.add("read: WRONG bytes"),
            other => result.answers.add(format!("read: {}", reply_name(&other))),
        })
        .map_err(step("reading"))?;
    }
    let [created, appended, verified] = counts;
    result.did.push(format!(
        "{n} segments: {created} created, {appended} appended to, {verified} read back bit-exact"
    ));
    if verified < n {
        result
            .failures
            .push(format!("{} of {n} segments did not complete", n - verified));
    }
    if let Some(failure) = hold(target, probe, || {}) {
        result.failures.push(failure);
    }
    result.bound = budget::connections(target.cores.len()).plus_all(budget::segments(n));
    Ok(result)
}

fn first_event() -> EventId {
    EventId {
        writer: WRITER,
        number: 0,
    }
}
