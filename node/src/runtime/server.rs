//! Accepting connections and serving their frames.
//!
//! A connection is two tasks on its core: the reader decodes frames and
//! starts a task per request; the writer sends encoded replies in the order
//! they finish. A request counts against its connection's in-flight limits
//! from when it is read until its reply has been written to the socket (or
//! dropped with the connection), and a read's data takes reply room first
//! (`room`). The reader stops reading (backpressure) while the connection
//! has its maximum of unanswered requests, or while the core's journal is
//! behind; nothing on this path grows without bound, however slowly a
//! client reads.

mod admission;
mod in_flight;
mod reads;
mod room;

use std::cell::Cell;
use std::os::fd::{AsRawFd, FromRawFd};
use std::rc::Rc;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalSender};
use glommio::net::{TcpListener, TcpStream};
use spate_wire::{
    DecodeError, Decoded, FrameDecoder, FrameEncoder, HelloReply, Limits, Reply, Request,
    RequestRef, StatusCode, Step,
};

use super::dispatch::{CoreContext, error};
use super::metrics::{AppendSize, CoreMetrics};
use super::notify::Notify;
use admission::Admitted;
use in_flight::{InFlight, Outgoing, Ticket};
use reads::{Hangup, read_within_room};
use room::{CoreRoom, Floor};

/// Replies queued for the writer of one connection.
const REPLY_QUEUE: usize = 256;
const READ_BUFFER: usize = 64 * 1024;

/// What a connection needs to know of the node.
pub struct NodeFacts {
    pub node_id: u128,
    pub core_ports: Vec<u16>,
    pub limits: Limits,
}

pub async fn accept_loop(
    listener: TcpListener,
    ctx: Rc<CoreContext>,
    facts: Rc<NodeFacts>,
    stop: Notify,
) {
    let room = CoreRoom::new();
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            stop.wait().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { return };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(core = ctx.index, error = %e, "accept failed");
                continue;
            }
        };
        // Counted as it is accepted, before its task runs, so that a burst
        // of connections cannot all slip under the limit.
        let admitted = Admitted::count(facts.limits.max_connections);
        let (ctx, facts, room) = (ctx.clone(), facts.clone(), room.clone());
        let metrics = ctx.state.borrow().metrics().clone();
        metrics.connection_opened();
        glommio::spawn_local(async move {
            if let Err(e) = serve_connection(stream, &ctx, &facts, &room, &admitted).await {
                tracing::debug!(core = ctx.index, error = %e, "connection closed");
            }
            drop(admitted);
            metrics.connection_closed();
        })
        .detach();
    }
}

/// A second handle on the socket, so reading and writing proceed independently.
fn write_half(stream: &TcpStream) -> std::io::Result<TcpStream> {
    // SAFETY: dup returns a new descriptor for the same socket, owned from here
    // on by the returned stream alone.
    let fd = unsafe { libc::dup(stream.as_raw_fd()) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, valid socket descriptor nobody else owns.
    Ok(unsafe { TcpStream::from_raw_fd(fd) })
}

struct Connection<'a> {
    ctx: &'a Rc<CoreContext>,
    facts: &'a NodeFacts,
    replies: Rc<LocalSender<Outgoing>>,
    encoder: Rc<Cell<Option<FrameEncoder>>>,
    in_flight: Rc<InFlight>,
    room: CoreRoom,
    floor: Floor,
    hangup: Hangup,
    metrics: Rc<CoreMetrics>,
}

async fn serve_connection(
    mut stream: TcpStream,
    ctx: &Rc<CoreContext>,
    facts: &NodeFacts,
    room: &CoreRoom,
    admitted: &Admitted,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = write_half(&stream)?;
    let (replies, queued) = local_channel::new_bounded::<Outgoing>(REPLY_QUEUE);
    let writer_task = glommio::spawn_local(async move {
        let mut broken = false;
        while let Some(Outgoing { frame, ticket }) = queued.recv().await {
            // Once the socket is broken, replies are dropped unwritten so
            // that the connection can finish.
            if !broken && writer.write_all(&frame).await.is_err() {
                broken = true;
            }
            // Written or dropped: the request is answered, its room free.
            drop(ticket);
        }
    });
    let conn = Connection {
        ctx,
        facts,
        replies: Rc::new(replies),
        encoder: Rc::new(Cell::new(None)),
        in_flight: Rc::new(InFlight::default()),
        room: room.clone(),
        floor: Floor::new(),
        hangup: Hangup::new(),
        metrics: ctx.state.borrow().metrics().clone(),
    };
    if admitted.over_limit {
        let refusal = error(
            StatusCode::TooManyConnections,
            "this core has its maximum of connections; retry later",
        );
        conn.metrics.refused(&refusal);
        conn.send(&refusal, 0).await;
    } else {
        read_frames(&mut stream, &conn).await;
    }
    conn.hangup.raise();
    while conn.in_flight.requests() > 0 {
        conn.in_flight.done.wait().await;
    }
    drop(conn);
    writer_task.await;
    Ok(())
}

async fn read_frames(stream: &mut TcpStream, conn: &Connection<'_>) {
    let mut decoder = FrameDecoder::new(conn.facts.limits.max_frame_bytes);
    let mut input = vec![0u8; READ_BUFFER];
    loop {
        while conn.saturated() {
            conn.in_flight.done.wait().await;
        }
        let n = match stream.read(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut pos = 0;
        while pos < n {
            match decoder.decode(&input[pos..n]) {
                Ok(Step { consumed, decoded }) => {
                    pos += consumed;
                    if let Decoded::Frame(frame) = decoded
                        && !conn.on_frame(frame).await
                    {
                        return;
                    }
                    if consumed == 0 {
                        break;
                    }
                }
                Err(e) => {
                    conn.refuse(&e, 0).await;
                    return;
                }
            }
        }
    }
}

impl Connection<'_> {
    /// Whether to stop reading: this connection has its maximum of unanswered
    /// requests or bytes, or the core's journal is behind.
    fn saturated(&self) -> bool {
        let limits = &self.facts.limits;
        self.in_flight.requests() >= limits.max_in_flight_requests
            || self.in_flight.bytes() >= limits.max_in_flight_bytes
            || !self.ctx.state.borrow().accepting()
    }

    /// Handles one frame; false closes the connection.
    async fn on_frame(&self, frame: spate_wire::Frame<'_>) -> bool {
        let id = frame.header.request_id;
        let request = match frame.request() {
            Ok(request) => request,
            Err(e) => {
                self.refuse(&e, id).await;
                return !e.is_framing();
            }
        };
        if let RequestRef::Hello(hello) = request {
            return self
                .handshake(
                    hello.min_version.to_native(),
                    hello.max_version.to_native(),
                    id,
                )
                .await;
        }
        if self.encoder.get().is_none() {
            self.send(
                &error(StatusCode::HandshakeRequired, "send Hello first"),
                id,
            )
            .await;
            return false;
        }
        if let RequestRef::Ping(ping) = request {
            self.send(
                &Reply::Pong(spate_wire::Pong {
                    nonce: ping.nonce.to_native(),
                }),
                id,
            )
            .await;
            return true;
        }
        match request.to_request() {
            Ok(owned) => self.start(owned, id, frame.header.frame_len() as u64),
            Err(e) => self.refuse(&e, id).await,
        }
        true
    }

    async fn handshake(&self, min: u16, max: u16, id: u64) -> bool {
        let ours = (spate_wire::MIN_VERSION, spate_wire::MAX_VERSION);
        let Some(version) = spate_wire::negotiate((min, max), ours) else {
            self.send(
                &error(
                    StatusCode::UnsupportedVersion,
                    "no protocol version in common",
                ),
                id,
            )
            .await;
            return false;
        };
        let reply = Reply::HelloReply(HelloReply {
            version,
            min_version: ours.0,
            max_version: ours.1,
            node_id: self.facts.node_id,
            core_count: self.facts.core_ports.len() as u16,
            core: self.ctx.index as u16,
            container_cores: self.ctx.container_cores.to_vec(),
            core_ports: self.facts.core_ports.clone(),
            limits: self.facts.limits,
        });
        self.send(&reply, id).await;
        let encoder = FrameEncoder::new(self.facts.limits.max_frame_bytes).with_version(version);
        self.encoder.set(encoder.ok());
        true
    }

    /// Serves a request in a task of its own, so a slow one (a read waiting
    /// at the tail) does not hold up the others.
    fn start(&self, request: Request, id: u64, frame_bytes: u64) {
        let mut ticket = Ticket::take(&self.in_flight, frame_bytes);
        let (ctx, replies, encoder) =
            (self.ctx.clone(), self.replies.clone(), self.encoder.clone());
        let (room, floor, hangup) = (self.room.clone(), self.floor.clone(), self.hangup.clone());
        let max_frame = self.facts.limits.max_frame_bytes;
        let metrics = self.metrics.clone();
        // Read now: the ack latency counts from here, the request's arrival.
        let started = std::time::Instant::now();
        glommio::spawn_local(async move {
            let reply = match request {
                Request::Read(read) => {
                    let (reply, grant) =
                        read_within_room(&ctx, read, (&room, &floor), &hangup, max_frame).await;
                    ticket.hold(grant);
                    metrics.read_done(&reply);
                    reply
                }
                request => {
                    let append = AppendSize::of(&request);
                    let reply = ctx.serve(request).await;
                    match append {
                        Some(size) => metrics.append_done(size, &reply, started.elapsed()),
                        None => metrics.refused(&reply),
                    }
                    reply
                }
            };
            let mut frame = Vec::new();
            let encoder = take_encoder(&encoder, max_frame);
            if encoder.encode(&reply, id, &mut frame).is_ok() {
                // The reply's data now lives in `frame`; free it early.
                drop(reply);
                let outgoing = Outgoing {
                    frame,
                    ticket: Some(ticket),
                };
                let _ = replies.send(outgoing).await;
            }
        })
        .detach();
    }

    async fn refuse(&self, e: &DecodeError, id: u64) {
        self.send(&error(e.status(), &e.to_string()), id).await;
    }

    async fn send(&self, reply: &Reply, id: u64) {
        let encoder = take_encoder(&self.encoder, self.facts.limits.max_frame_bytes);
        let mut frame = Vec::new();
        if encoder.encode(reply, id, &mut frame).is_ok() {
            let outgoing = Outgoing {
                frame,
                ticket: None,
            };
            let _ = self.replies.send(outgoing).await;
        }
    }
}

/// The connection's negotiated encoder, or the handshake one before that.
fn take_encoder(cell: &Cell<Option<FrameEncoder>>, max_frame: u32) -> FrameEncoder {
    cell.get().unwrap_or_else(|| FrameEncoder::new(max_frame))
}
