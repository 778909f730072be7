//! Room for replies that wait for their sockets.
//!
//! A request is small, its reply need not be: a read of 60 bytes asks for up
//! to a frame (16 MiB) of data. Counting requests alone, one client that
//! never reads its replies could make a core hold a thousand such frames,
//! and a thousand slow readers a thousand each. So a read's data is granted
//! room before it is served, and the room is given back only when its reply
//! has been written to the socket (or dropped with the connection):
//!
//! - each core has `OUTBOUND_BYTES_PER_CORE` of room, shared by its
//!   connections; a read takes what it asks for, or what is left;
//! - when a core has less than `REPLY_FLOOR_BYTES` left, a read gets its
//!   connection's own floor instead: `REPLY_FLOOR_BYTES`, one reply at a time
//!   per connection, which no other connection can take.
//!
//! A read may return fewer bytes than asked (the protocol allows it), so the
//! grant just trims the read. Nothing ever waits for another connection's
//! room: a connection whose client drains slowly holds its share and its
//! floor, and every other connection still gets at least its floor. A
//! core's replies therefore hold at most `OUTBOUND_BYTES_PER_CORE` plus
//! `REPLY_FLOOR_BYTES` per connection.

use std::rc::Rc;

use glommio::sync::{Semaphore, StaticPermit};

/// Reply bytes one core may hold for sockets that have not taken them.
pub const OUTBOUND_BYTES_PER_CORE: u64 = 64 << 20;
/// Reply bytes each connection may always hold, whatever others hold.
pub const REPLY_FLOOR_BYTES: u64 = 64 << 10;

/// Room granted to one read's data, held until its reply is written.
pub struct Grant {
    pub bytes: u32,
    _permit: Option<StaticPermit>,
}

/// A core's room for replies, shared by its connections.
#[derive(Clone)]
pub struct CoreRoom(Rc<Semaphore>);

impl CoreRoom {
    pub fn new() -> Self {
        Self(Rc::new(Semaphore::new(OUTBOUND_BYTES_PER_CORE)))
    }
}

/// A connection's floor: room no other connection can take.
#[derive(Clone)]
pub struct Floor(Rc<Semaphore>);

impl Floor {
    pub fn new() -> Self {
        Self(Rc::new(Semaphore::new(REPLY_FLOOR_BYTES)))
    }
}

/// Room for a read of `want` bytes (at least 1): all of it or what the
/// core has left, or else the connection's floor, once its previous
/// floor-sized reply has been written.
pub async fn grant(core: &CoreRoom, floor: &Floor, want: u32) -> Grant {
    let want = want.max(1);
    if let Ok(permit) = core.0.try_acquire_static_permit(u64::from(want)) {
        return Grant {
            bytes: want,
            _permit: Some(permit),
        };
    }
    let left = core.0.available();
    if left >= REPLY_FLOOR_BYTES
        && let Ok(permit) = core.0.try_acquire_static_permit(left)
    {
        return Grant {
            // Below `want`, a u32.
            bytes: left as u32,
            _permit: Some(permit),
        };
    }
    let bytes = u64::from(want).min(REPLY_FLOOR_BYTES);
    // Only a closed semaphore fails, and nothing closes these; should one
    // be, the read goes on with a floor-sized reply and no permit.
    let permit = floor.0.acquire_static_permit(bytes).await.ok();
    Grant {
        bytes: bytes as u32,
        _permit: permit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        glommio::LocalExecutor::default().run(future)
    }

    #[test]
    fn a_read_takes_what_it_asks_while_the_core_has_room() {
        run(async {
            let (core, floor) = (CoreRoom::new(), Floor::new());
            let grant = grant(&core, &floor, 16 << 20).await;
            assert_eq!(grant.bytes, 16 << 20);
            assert_eq!(core.0.available(), OUTBOUND_BYTES_PER_CORE - (16 << 20));
            drop(grant);
            assert_eq!(core.0.available(), OUTBOUND_BYTES_PER_CORE);
        });
    }

    #[test]
    fn a_read_is_trimmed_to_what_the_core_has_left() {
        run(async {
            let (core, floor) = (CoreRoom::new(), Floor::new());
            let first = grant(&core, &floor, (OUTBOUND_BYTES_PER_CORE - (1 << 20)) as u32).await;
            let second = grant(&core, &floor, 16 << 20).await;
            assert_eq!(second.bytes, 1 << 20);
            assert_eq!(core.0.available(), 0);
            drop((first, second));
        });
    }

    #[test]
    fn with_the_core_full_each_connection_still_gets_its_floor() {
        run(async {
            let core = CoreRoom::new();
            let hog = grant(&core, &Floor::new(), OUTBOUND_BYTES_PER_CORE as u32).await;
            let (a, b) = (Floor::new(), Floor::new());
            let from_a = grant(&core, &a, 16 << 20).await;
            let from_b = grant(&core, &b, 16 << 20).await;
            assert_eq!((from_a.bytes, from_b.bytes), (64 << 10, 64 << 10));
            // A second floor read of `a` waits for its first reply.
            let waiting = glommio::spawn_local({
                let (core, a) = (core.clone(), a.clone());
                async move { grant(&core, &a, 100).await.bytes }
            });
            glommio::yield_if_needed().await;
            assert_eq!(a.0.available(), 0);
            drop(from_a);
            assert_eq!(waiting.await, 100);
            drop((hog, from_b));
        });
    }
}
