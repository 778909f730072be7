//! Accepting connections and serving their frames.
//!
//! A connection is two tasks on its core: the reader decodes frames and
//! starts a task per request; the writer sends encoded replies in the order
//! they finish. The reader stops reading (backpressure) while the connection
//! has its maximum of unanswered requests, or while the core's journal is
//! behind; nothing on this path grows without bound.

use std::cell::Cell;
use std::os::fd::{AsRawFd, FromRawFd};
use std::rc::Rc;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalSender};
use glommio::net::{TcpListener, TcpStream};
use spate_wire::{
    DecodeError, Decoded, FrameDecoder, FrameEncoder, HelloReply, Limits, Reply, RequestRef,
    StatusCode, Step,
};

use super::dispatch::{CoreContext, error};
use super::notify::Notify;

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
    let connections = Rc::new(Cell::new(0u32));
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
        let (ctx, facts, connections) = (ctx.clone(), facts.clone(), connections.clone());
        glommio::spawn_local(async move {
            connections.set(connections.get() + 1);
            let over = connections.get() > facts.limits.max_connections;
            if let Err(e) = serve_connection(stream, &ctx, &facts, over).await {
                tracing::debug!(core = ctx.index, error = %e, "connection closed");
            }
            connections.set(connections.get() - 1);
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
    replies: Rc<LocalSender<Vec<u8>>>,
    encoder: Rc<Cell<Option<FrameEncoder>>>,
    in_flight: Rc<Cell<u32>>,
    /// Bytes of the request frames in `in_flight`.
    in_flight_bytes: Rc<Cell<u64>>,
    finished: Notify,
}

async fn serve_connection(
    mut stream: TcpStream,
    ctx: &Rc<CoreContext>,
    facts: &NodeFacts,
    over_limit: bool,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = write_half(&stream)?;
    let (replies, queued) = local_channel::new_bounded::<Vec<u8>>(REPLY_QUEUE);
    let writer_task = glommio::spawn_local(async move {
        while let Some(frame) = queued.recv().await {
            if writer.write_all(&frame).await.is_err() {
                return;
            }
        }
    });
    let conn = Connection {
        ctx,
        facts,
        replies: Rc::new(replies),
        encoder: Rc::new(Cell::new(None)),
        in_flight: Rc::new(Cell::new(0)),
        in_flight_bytes: Rc::new(Cell::new(0)),
        finished: Notify::default(),
    };
    if over_limit {
        conn.send(
            &error(
                StatusCode::TooManyConnections,
                "this core has its maximum of connections; retry later",
            ),
            0,
        )
        .await;
    } else {
        read_frames(&mut stream, &conn).await;
    }
    while conn.in_flight.get() > 0 {
        conn.finished.wait().await;
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
            conn.finished.wait().await;
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
        self.in_flight.get() >= limits.max_in_flight_requests
            || self.in_flight_bytes.get() >= limits.max_in_flight_bytes
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
    fn start(&self, request: spate_wire::Request, id: u64, frame_bytes: u64) {
        self.in_flight.set(self.in_flight.get() + 1);
        self.in_flight_bytes
            .set(self.in_flight_bytes.get() + frame_bytes);
        let in_flight_bytes = self.in_flight_bytes.clone();
        let (ctx, replies, encoder, in_flight, finished) = (
            self.ctx.clone(),
            self.replies.clone(),
            self.encoder.clone(),
            self.in_flight.clone(),
            self.finished.clone(),
        );
        let max_frame = self.facts.limits.max_frame_bytes;
        glommio::spawn_local(async move {
            let reply = ctx.serve(request).await;
            let mut frame = Vec::new();
            let encoder = take_encoder(&encoder, max_frame);
            if encoder.encode(&reply, id, &mut frame).is_ok() {
                let _ = replies.send(frame).await;
            }
            in_flight.set(in_flight.get() - 1);
            in_flight_bytes.set(in_flight_bytes.get() - frame_bytes);
            finished.signal();
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
            let _ = self.replies.send(frame).await;
        }
    }
}

/// The connection's negotiated encoder, or the handshake one before that.
fn take_encoder(cell: &Cell<Option<FrameEncoder>>, max_frame: u32) -> FrameEncoder {
    cell.get().unwrap_or_else(|| FrameEncoder::new(max_frame))
}
