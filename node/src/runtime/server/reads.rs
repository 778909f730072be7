//! Serving a read within reply room (see `room`), and without holding
//! anything for a client that has gone.

use std::rc::Rc;

use glommio::sync::Semaphore;
use spate_wire::{READ_DATA_OVERHEAD, Read, Reply, Request};

use super::room::{self, CoreRoom, Floor, Grant};
use crate::runtime::dispatch::CoreContext;

/// Raised once a connection has stopped reading requests (its client
/// closed it, or it broke): a read waiting at a tail for it stops waiting,
/// so the connection ends instead of lingering for the rest of the wait.
#[derive(Clone)]
pub struct Hangup(Rc<Semaphore>);

impl Hangup {
    pub fn new() -> Self {
        Self(Rc::new(Semaphore::new(0)))
    }

    /// Wakes every current and later `wait`.
    pub fn raise(&self) {
        // A closed semaphore fails every acquire, now and later.
        self.0.close();
    }

    async fn wait(&self) {
        // No unit is ever given: this returns only once closed.
        let _ = self.0.acquire(1).await;
    }
}

/// Serves `read`, trimmed to the room granted (a read may return fewer
/// bytes than asked), and returns the room with the reply. A read that would
/// wait at the tail holds no room while it waits: it first looks without
/// waiting; at the tail, it waits for data with a one-byte read, then takes
/// room and reads.
pub async fn read_within_room(
    ctx: &CoreContext,
    read: Read,
    (room, floor): (&CoreRoom, &Floor),
    hangup: &Hangup,
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
    let woken = futures_lite::future::or(
        async { Some(ctx.serve(Request::Read(wait)).await) },
        async {
            hangup.wait().await;
            None
        },
    )
    .await;
    let Some(woken) = woken else {
        // Nobody will read the answer: the empty read at hand will do.
        return (first, None);
    };
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
