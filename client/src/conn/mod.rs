//! One TCP connection to one core of a node.
//!
//! Two threads per connection, plain blocking sockets:
//!
//! - the **reader** decodes reply frames and hands each to the [`Waiter`]
//!   registered under its request id. It never blocks on anything but the
//!   socket, so replies keep flowing whatever the application does;
//! - the **writer** drains the outbox: frames that callers encoded and
//!   admitted, and [`FrameSource`]s (segment writers) that build their
//!   frames right there, so that batching decisions see the latest acks.
//!
//! **Who writes to the socket.** Whoever holds the *writer role*, a flag in
//! the connection's state, and only they: bytes of two writers never
//! interleave. The writer thread takes the role while it drains the outbox.
//! A thread that queues work ([`Connection::send`], [`Connection::try_send`],
//! [`Connection::schedule`]) while the writer is idle (outbox empty, role
//! free) takes the role itself instead, builds the bytes exactly as the
//! writer thread would, and sends them with one non-blocking `send`: at low
//! rates a request leaves without waking the writer thread. What the socket
//! does not take at once (it would block, or took only part) goes to the
//! front of the outbox as the role is released, and the writer thread, woken
//! then, writes it before anything queued meanwhile. So the order of the
//! bytes is the order in which the role was held, and only the writer thread
//! ever blocks on the socket. While the role is held, queuing threads just
//! queue, and the holder wakes the writer thread when it releases the role
//! with work queued. The holder never keeps the state's lock while it builds
//! or sends (sources lock their own state and call back in). A frame
//! source's turn is handed back to the caller of `schedule` as a
//! [`WriteTurn`], to run once it has released its own lock.
//!
//! Admission keeps the connection inside the node's `Limits`: a request is
//! registered (counted against `max_in_flight_requests` and
//! `max_in_flight_bytes`) before it is queued, and released when its reply
//! comes. Application threads wait for room ([`Connection::send`]); the I/O
//! threads never wait: they use [`Connection::try_send`] or park a frame
//! source until a reply frees room.
//!
//! Lock order: a session's lock (writer, reader) may be held while taking
//! the connection's, never the reverse: waiters are called with no
//! connection lock held.

pub(crate) mod handshake;
mod io;
mod spin;
mod sys;
mod turn;

pub(crate) use turn::WriteTurn;

use std::collections::{HashMap, VecDeque};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use spate_wire::{Encode, EncodeError, FrameEncoder, Limits, Reply};

use crate::error::ClientError;
use crate::options::ClientOptions;
use crate::sync::{lock, wait};
use crate::topology::Topology;

/// Whoever waits for the reply to one request.
pub(crate) trait Waiter: Send {
    /// The node answered (`Err` if the reply frame was unreadable). `conn`
    /// is the connection it came on, for follow-up requests.
    fn on_reply(self: Box<Self>, reply: Result<Reply, ClientError>, conn: &Arc<Connection>);
    /// The connection broke first: the request may or may not have been
    /// applied.
    fn on_lost(self: Box<Self>, error: ClientError);
    /// The request was refused before it was sent (so resending it is safe
    /// whatever it is).
    fn on_unsent(self: Box<Self>, error: ClientError) {
        self.on_lost(error);
    }
}

/// A session that builds its own frames when its turn to write comes (on
/// the writer thread, or inline on the thread that scheduled it).
pub(crate) trait FrameSource: Send + Sync {
    /// Encodes what should go out now into `out`, registering each request
    /// with [`Connection::try_register`]; parks itself when there is no room.
    /// Called by the holder of the writer role, with no connection lock
    /// held.
    fn write_frames(self: Arc<Self>, conn: &Arc<Connection>, out: &mut Vec<u8>);
    /// The connection failed while the source was queued or parked on it.
    fn on_connection_failed(self: Arc<Self>, conn: &Connection, error: ClientError);
}

/// Why a request was not admitted; the waiter comes back with it.
pub(crate) enum Refusal {
    /// No room now (only from the `try_` functions).
    Full,
    /// The connection is broken, or the request cannot be encoded.
    Failed(ClientError),
}

/// A refused request's waiter and the reason.
pub(crate) struct Refused {
    pub reason: Refusal,
    pub waiter: Box<dyn Waiter>,
}

/// A connection to one core, shared by every session routed to that core.
pub(crate) struct Connection {
    addr: SocketAddr,
    core: u16,
    topology: Topology,
    encoder: FrameEncoder,
    stream: TcpStream,
    next_id: AtomicU64,
    state: Mutex<State>,
    /// Signalled when the outbox gains work or the connection breaks.
    work: Condvar,
    /// Signalled when a reply frees room or the connection breaks.
    room: Condvar,
}

struct Pending {
    waiter: Box<dyn Waiter>,
    bytes: u64,
}

enum Outgoing {
    Frame(Vec<u8>),
    Source(Arc<dyn FrameSource>),
}

struct State {
    pending: HashMap<u64, Pending>,
    in_flight_bytes: u64,
    outbox: VecDeque<Outgoing>,
    /// Frame sources waiting for room; one entry per source at most (each
    /// source keeps a "scheduled" flag), so bounded by the sessions.
    parked: Vec<Arc<dyn FrameSource>>,
    /// Application threads blocked on `room`.
    room_waiters: usize,
    broken: Option<ClientError>,
    /// Someone holds the writer role: the writer thread, or a thread writing
    /// inline. Nobody else writes to the socket meanwhile.
    writing: bool,
    /// The inline writers' gather buffer, kept between turns (taken by the
    /// role holder, given back with the role).
    spare: Vec<u8>,
    /// Inline sends: all sent, and some left to the writer thread.
    #[cfg(test)]
    inline_sends: (usize, usize),
    /// An error the node sent about the connection itself (request id 0 or
    /// unknown) before closing it: the best explanation of the close.
    last_words: Option<ClientError>,
}

impl Connection {
    /// Connects, greets the node and starts the I/O threads.
    pub(crate) fn open(
        addr: SocketAddr,
        options: &ClientOptions,
    ) -> Result<Arc<Connection>, ClientError> {
        let greeted = handshake::open(addr, options.connect_timeout, options.handshake_timeout)?;
        let reader_stream = clone_stream(&greeted.stream)?;
        let writer_stream = clone_stream(&greeted.stream)?;
        let conn = Arc::new(Connection {
            addr,
            core: greeted.core,
            topology: greeted.topology,
            encoder: greeted.encoder,
            stream: greeted.stream,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State {
                pending: HashMap::new(),
                in_flight_bytes: 0,
                outbox: VecDeque::new(),
                parked: Vec::new(),
                room_waiters: 0,
                broken: None,
                writing: false,
                spare: Vec::new(),
                #[cfg(test)]
                inline_sends: (0, 0),
                last_words: None,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
        });
        io::spawn(
            &conn,
            reader_stream,
            writer_stream,
            greeted.leftover,
            options.reply_spin,
        )?;
        Ok(conn)
    }

    /// The address this connection goes to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The core that accepted the connection.
    pub(crate) fn core(&self) -> u16 {
        self.core
    }

    /// What the node said in this connection's handshake.
    pub(crate) fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The node's bounds for this connection.
    pub(crate) fn limits(&self) -> &Limits {
        &self.topology.limits
    }

    /// True once the connection can carry nothing more.
    pub(crate) fn is_broken(&self) -> bool {
        lock(&self.state).broken.is_some()
    }

    /// A request id unique on this connection.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Appends one frame for `msg` to `out`; returns its length.
    pub(crate) fn encode<M: Encode + ?Sized>(
        &self,
        msg: &M,
        id: u64,
        out: &mut Vec<u8>,
    ) -> Result<usize, ClientError> {
        self.encoder.encode(msg, id, out).map_err(|e| match e {
            EncodeError::FrameTooLarge { .. } => ClientError::invalid(e.to_string()),
            EncodeError::Serialize(_) => ClientError::fatal(e.to_string()),
        })
    }

    /// Admits and queues `msg`, waiting while the connection is at the
    /// node's in-flight bounds. For application threads and the retrier.
    pub(crate) fn send<M: Encode + ?Sized>(
        &self,
        msg: &M,
        waiter: Box<dyn Waiter>,
    ) -> Result<(), Refused> {
        self.admit(msg, waiter, true)
    }

    /// As [`Self::send`], but refuses with [`Refusal::Full`] instead of
    /// waiting. For the I/O threads, which must never wait.
    pub(crate) fn try_send<M: Encode + ?Sized>(
        &self,
        msg: &M,
        waiter: Box<dyn Waiter>,
    ) -> Result<(), Refused> {
        self.admit(msg, waiter, false)
    }

    fn admit<M: Encode + ?Sized>(
        &self,
        msg: &M,
        waiter: Box<dyn Waiter>,
        block: bool,
    ) -> Result<(), Refused> {
        let id = self.next_id();
        let mut frame = Vec::new();
        if let Err(error) = self.encode(msg, id, &mut frame) {
            return Err(refused(Refusal::Failed(error), waiter));
        }
        let bytes = frame.len() as u64;
        let mut state = lock(&self.state);
        loop {
            if let Some(error) = &state.broken {
                return Err(refused(Refusal::Failed(error.clone()), waiter));
            }
            if self.has_room(&state, bytes) {
                break;
            }
            if !block {
                return Err(refused(Refusal::Full, waiter));
            }
            state.room_waiters += 1;
            state = wait(&self.room, state);
            state.room_waiters -= 1;
        }
        state.pending.insert(id, Pending { waiter, bytes });
        state.in_flight_bytes += bytes;
        if !self.take_role(&mut state) {
            self.queue(&mut state, Outgoing::Frame(frame));
            return Ok(());
        }
        drop(state);
        self.write_inline(frame, false);
        Ok(())
    }

    /// Registers request `id` (a frame of `bytes` that the caller, the
    /// holder of the writer role, writes itself) if there is room now.
    pub(crate) fn try_register(
        &self,
        id: u64,
        bytes: usize,
        waiter: Box<dyn Waiter>,
    ) -> Result<(), Refused> {
        let bytes = bytes as u64;
        let mut state = lock(&self.state);
        if let Some(error) = &state.broken {
            return Err(refused(Refusal::Failed(error.clone()), waiter));
        }
        if !self.has_room(&state, bytes) {
            return Err(refused(Refusal::Full, waiter));
        }
        state.pending.insert(id, Pending { waiter, bytes });
        state.in_flight_bytes += bytes;
        Ok(())
    }

    /// One maximal frame always fits an idle connection (the node
    /// guarantees `max_in_flight_bytes >= max_frame_bytes`), so progress is
    /// certain whatever the sizes.
    fn has_room(&self, state: &State, bytes: u64) -> bool {
        let limits = self.limits();
        state.pending.len() < limits.max_in_flight_requests as usize
            && (state.pending.is_empty()
                || state.in_flight_bytes + bytes <= limits.max_in_flight_bytes)
    }

    /// Queues `source` to build its frames on the writer thread, or, if the
    /// writer is idle, hands the caller the writer role: `source` builds and
    /// sends its frames when the caller runs the [`WriteTurn`], which it
    /// must do once it holds no lock (the source takes its own).
    pub(crate) fn schedule(
        self: &Arc<Self>,
        source: Arc<dyn FrameSource>,
    ) -> Result<Option<WriteTurn>, ClientError> {
        let mut state = lock(&self.state);
        if let Some(error) = &state.broken {
            return Err(error.clone());
        }
        if !self.take_role(&mut state) {
            self.queue(&mut state, Outgoing::Source(source));
            return Ok(None);
        }
        let out = std::mem::take(&mut state.spare);
        drop(state);
        Ok(Some(WriteTurn::new(Arc::clone(self), source, out)))
    }

    /// Keeps `source` until a reply frees room, then queues it again. Fails
    /// if the connection broke (the caller holds its own lock, so it handles
    /// that itself rather than being called back).
    ///
    /// Only a source's `write_frames` parks it, so the caller holds the
    /// writer role and the source's lock: an immediate re-queue always goes
    /// through the outbox, never inline.
    pub(crate) fn park(&self, source: Arc<dyn FrameSource>) -> Result<(), ClientError> {
        let mut state = lock(&self.state);
        if let Some(error) = &state.broken {
            return Err(error.clone());
        }
        // A reply may have freed room since the caller looked. With none
        // pending no reply will come to unpark it, but then there is room.
        if state.pending.is_empty() {
            self.queue(&mut state, Outgoing::Source(source));
        } else {
            state.parked.push(source);
        }
        Ok(())
    }

    /// Takes the waiter of request `id` and frees its room.
    fn finish(&self, id: u64) -> Option<Box<dyn Waiter>> {
        let mut state = lock(&self.state);
        let pending = state.pending.remove(&id)?;
        state.in_flight_bytes -= pending.bytes;
        if !state.parked.is_empty() {
            let parked = std::mem::take(&mut state.parked);
            state
                .outbox
                .extend(parked.into_iter().map(Outgoing::Source));
            self.wake_writer(&state);
        }
        // A notification is a system call, once per reply otherwise.
        if state.room_waiters > 0 {
            self.room.notify_all();
        }
        Some(pending.waiter)
    }

    /// Remembers an error reply the node sent about the connection itself.
    fn last_words(&self, error: ClientError) {
        lock(&self.state).last_words = Some(error);
    }

    /// Writer thread: gives the writer role back if it `held` it, waits
    /// until there is something to write and the role is free, and takes
    /// both; `None` once the connection is broken.
    fn take_outgoing(&self, held: bool) -> Option<Vec<Outgoing>> {
        let mut state = lock(&self.state);
        if held {
            state.writing = false;
        }
        loop {
            if state.broken.is_some() {
                return None;
            }
            if !state.writing && !state.outbox.is_empty() {
                state.writing = true;
                return Some(state.outbox.drain(..).collect());
            }
            state = wait(&self.work, state);
        }
    }

    /// Takes the writer role if the writer is idle: nothing queued (which
    /// would have to go first), nobody writing.
    fn take_role(&self, state: &mut State) -> bool {
        let idle = !state.writing && state.outbox.is_empty();
        if idle && turn::INLINE_WRITES {
            state.writing = true;
            return true;
        }
        false
    }

    /// Queues `item` for the writer thread.
    fn queue(&self, state: &mut State, item: Outgoing) {
        state.outbox.push_back(item);
        self.wake_writer(state);
    }

    /// Wakes the writer thread for queued work, unless someone holds the
    /// writer role: the holder looks at the outbox when it lets go.
    fn wake_writer(&self, state: &State) {
        if !state.writing {
            self.work.notify_one();
        }
    }

    /// Gives the writer role back. `rest`, bytes the holder could not send,
    /// goes out first, before anything queued meanwhile; `spare` is the
    /// holder's gather buffer, kept for the next turn. Wakes the writer
    /// thread if anything is queued.
    fn release_role(&self, rest: Option<Outgoing>, spare: Option<Vec<u8>>) {
        let mut state = lock(&self.state);
        state.writing = false;
        if let Some(rest) = rest
            && state.broken.is_none()
        {
            state.outbox.push_front(rest);
        }
        if let Some(mut spare) = spare {
            spare.clear();
            if spare.capacity() <= turn::RETAINED_SPARE_BYTES {
                state.spare = spare;
            }
        }
        if !state.outbox.is_empty() {
            self.work.notify_one();
        }
    }

    /// The error the connection broke with, if it did.
    fn broken(&self) -> Option<ClientError> {
        lock(&self.state).broken.clone()
    }

    /// Breaks the connection: every waiter and queued source learns of it,
    /// once. The node's last words, if any, explain the failure best.
    pub(crate) fn fail(&self, error: ClientError) {
        let (pending, sources, error) = {
            let mut state = lock(&self.state);
            if state.broken.is_some() {
                return;
            }
            let error = state.last_words.take().unwrap_or(error);
            let error = error.context(format_args!("connection to {}", self.addr));
            state.broken = Some(error.clone());
            state.in_flight_bytes = 0;
            let pending: Vec<Pending> = state.pending.drain().map(|(_, p)| p).collect();
            let mut sources = std::mem::take(&mut state.parked);
            sources.extend(state.outbox.drain(..).filter_map(|item| match item {
                Outgoing::Source(source) => Some(source),
                Outgoing::Frame(_) => None,
            }));
            (pending, sources, error)
        };
        self.work.notify_all();
        self.room.notify_all();
        // Wakes both I/O threads out of their blocking calls.
        let _ = self.stream.shutdown(Shutdown::Both);
        for pending in pending {
            pending.waiter.on_lost(error.clone());
        }
        for source in sources {
            source.on_connection_failed(self, error.clone());
        }
    }

    /// Closes the connection for good (the client is going away).
    pub(crate) fn close(&self) {
        self.fail(ClientError::closed());
    }
}

fn refused(reason: Refusal, waiter: Box<dyn Waiter>) -> Refused {
    Refused { reason, waiter }
}

fn clone_stream(stream: &TcpStream) -> Result<TcpStream, ClientError> {
    stream
        .try_clone()
        .map_err(|e| ClientError::io("cloning the socket", &e))
}

#[cfg(test)]
mod tests;
