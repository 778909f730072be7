//! Serving a read within reply room (see `room`).

use spate_wire::{READ_DATA_OVERHEAD, Read, Reply, Request};

use super::room::{self, CoreRoom, Floor, Grant};
use crate::runtime::dispatch::CoreContext;

/// Serves `read`, trimmed to the room granted (a read may return fewer
/// bytes than asked), and returns the room with the reply. A read that would
/// wait at the tail holds no room while it waits: it first looks without
/// waiting; at the tail, it waits for data with a one-byte read, then takes
/// room and reads.
pub async fn read_within_room(
    ctx: &CoreContext,
    read: Read,
    (room, floor): (&CoreRoom, &Floor),
    max_frame: u32,
) -> (Reply, Option<Grant>) {
    let want = read
        .max_bytes
        .min(max_frame.saturating_sub(READ_DATA_OVERHEAD));
    let grant = room::grant(room, floor, want).await;
    let now = Read {
        max_bytes: grant.bytes,
        wait_ms: 0,
        ..read.clone()
    };
    let first = ctx.serve(Request::Read(now)).await;
    if read.wait_ms == 0 || !at_tail(&first) {
        return (first, Some(grant));
    }
    drop(grant);
    let wait = Read {
        max_bytes: 1,
        ..read.clone()
    };
    let woken = ctx.serve(Request::Read(wait)).await;
    if !matches!(&woken, Reply::ReadData(data) if !data.data.is_empty()) {
        // The wait ran out (an empty read), or the segment went away.
        return (woken, None);
    }
    let grant = room::grant(room, floor, want).await;
    let now = Read {
        max_bytes: grant.bytes,
        wait_ms: 0,
        ..read
    };
    (ctx.serve(Request::Read(now)).await, Some(grant))
}

/// A read that found no data at the tail of an open segment.
fn at_tail(reply: &Reply) -> bool {
    matches!(reply, Reply::ReadData(data) if data.data.is_empty() && !data.end_of_segment)
}
