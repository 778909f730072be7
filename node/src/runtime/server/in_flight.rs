//! A connection's unanswered requests, counted against its in-flight limits
//! from when a request is read until its reply has been written to the
//! socket (or dropped with the connection). Counting only until the reply
//! was queued would let a client that never reads keep the node reading:
//! its replies would pile up while its count went back down.

use std::cell::Cell;
use std::rc::Rc;

use super::room::Grant;
use crate::runtime::notify::Notify;

/// A reply on its way to the socket, with the ticket of the request it
/// answers (none for handshake, ping and framing replies).
pub struct Outgoing {
    pub frame: Vec<u8>,
    pub ticket: Option<Ticket>,
}

/// The requests of one connection that are not answered yet: read, being
/// served, or replied to but not yet written.
#[derive(Default)]
pub struct InFlight {
    requests: Cell<u32>,
    /// Bytes of their request frames.
    bytes: Cell<u64>,
    /// Signalled whenever one is done.
    pub done: Notify,
}

impl InFlight {
    pub fn requests(&self) -> u32 {
        self.requests.get()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.get()
    }
}

/// One request's place in its connection's `InFlight`, and its reply room:
/// both given back when the ticket is dropped.
pub struct Ticket {
    in_flight: Rc<InFlight>,
    frame_bytes: u64,
    room: Option<Grant>,
}

impl Ticket {
    pub fn take(in_flight: &Rc<InFlight>, frame_bytes: u64) -> Self {
        in_flight.requests.set(in_flight.requests.get() + 1);
        in_flight.bytes.set(in_flight.bytes.get() + frame_bytes);
        Self {
            in_flight: in_flight.clone(),
            frame_bytes,
            room: None,
        }
    }

    /// Keeps the reply room of the request's read until the ticket goes.
    pub fn hold(&mut self, room: Option<Grant>) {
        self.room = room;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Given back first, so that a read woken by `done` finds the room.
        self.room.take();
        let in_flight = &self.in_flight;
        in_flight.requests.set(in_flight.requests.get() - 1);
        in_flight
            .bytes
            .set(in_flight.bytes.get() - self.frame_bytes);
        in_flight.done.signal();
    }
}
