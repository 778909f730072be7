//! A connection that speaks the protocol frame by frame over a plain socket:
//! what an abusive client needs (send any bytes, read replies slowly or not
//! at all) and what the client library rightly does not offer.
//!
//! Everything the node sends is decoded with the protocol crate's checks; a
//! bad frame is a typed error, never a panic.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use spate_wire::{
    ABSOLUTE_MAX_FRAME_BYTES, DecodeError, Decoded, Encode, EncodeError, FrameDecoder,
    FrameEncoder, Hello, HelloReply, Reply, Request,
};

/// Why a raw connection could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    /// Connecting failed.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The node closed the connection (end of stream).
    #[error("the node closed the connection")]
    Closed,
    /// The node reset the connection.
    #[error("the node reset the connection")]
    Reset,
    /// No reply within the socket's read timeout.
    #[error("no reply within {0:?}")]
    TimedOut(Duration),
    /// Another socket error.
    #[error("socket: {0}")]
    Io(std::io::Error),
    /// The node sent bytes that are not a valid reply frame.
    #[error("the node sent an invalid frame: {0}")]
    Decode(#[from] DecodeError),
    /// A request could not be encoded (a harness bug).
    #[error("encoding a request: {0}")]
    Encode(#[from] EncodeError),
    /// The handshake was answered with something else.
    #[error("the handshake was answered with {0}")]
    Handshake(String),
}

impl RawError {
    /// The error of a failed read or write on the socket.
    fn from_io(error: std::io::Error, timeout: Duration) -> RawError {
        match error.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => {
                RawError::Reset
            }
            ErrorKind::WouldBlock | ErrorKind::TimedOut => RawError::TimedOut(timeout),
            _ => RawError::Io(error),
        }
    }

    /// A short name for the tallies: how the node ended the exchange.
    pub fn outcome(&self) -> String {
        match self {
            RawError::Closed => "connection closed".into(),
            RawError::Reset => "connection reset".into(),
            RawError::TimedOut(_) => "no reply (timed out)".into(),
            RawError::Connect { source, .. } => format!("connect failed ({})", source.kind()),
            other => format!("error: {other}"),
        }
    }
}

/// How patiently a blocking call waits for the node. A liveness guard far
/// above any normal reply time, not a performance expectation.
pub const REPLY_PATIENCE: Duration = Duration::from_secs(30);

/// One socket to a node core, with a frame encoder and decoder.
pub struct RawConn {
    stream: TcpStream,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    next_id: u64,
    /// Replies decoded but not yet taken.
    ready: VecDeque<(u64, Reply)>,
    timeout: Duration,
}

impl RawConn {
    /// Connects without a handshake.
    pub fn connect(addr: SocketAddr) -> Result<RawConn, RawError> {
        let stream =
            TcpStream::connect(addr).map_err(|source| RawError::Connect { addr, source })?;
        stream.set_nodelay(true).map_err(RawError::Io)?;
        stream
            .set_read_timeout(Some(REPLY_PATIENCE))
            .map_err(RawError::Io)?;
        Ok(RawConn {
            stream,
            encoder: FrameEncoder::new(spate_wire::DEFAULT_MAX_FRAME_BYTES),
            // The largest frame any node may send: the harness checks the
            // node's replies, it does not limit them.
            decoder: FrameDecoder::new(ABSOLUTE_MAX_FRAME_BYTES),
            next_id: 1,
            ready: VecDeque::new(),
            timeout: REPLY_PATIENCE,
        })
    }

    /// Connects and completes the handshake.
    pub fn open(addr: SocketAddr) -> Result<RawConn, RawError> {
        let mut conn = RawConn::connect(addr)?;
        conn.handshake()?;
        Ok(conn)
    }

    /// Sends `Hello` and waits for `HelloReply`; switches to its version.
    pub fn handshake(&mut self) -> Result<HelloReply, RawError> {
        let hello = Request::Hello(Hello {
            min_version: spate_wire::MIN_VERSION,
            max_version: spate_wire::MAX_VERSION,
        });
        match self.call(&hello)? {
            Reply::HelloReply(reply) => {
                self.encoder = self.encoder.with_version(reply.version)?;
                Ok(reply)
            }
            other => Err(RawError::Handshake(reply_name(&other))),
        }
    }

    /// The socket, for options (buffer sizes, non-blocking mode).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Encodes `request` with a fresh id into a frame, without sending it.
    pub fn frame(&mut self, request: &Request) -> Result<(u64, Vec<u8>), RawError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut frame = Vec::new();
        self.encoder.encode(request, id, &mut frame)?;
        Ok((id, frame))
    }

    /// Sends `request`; returns its id.
    pub fn send(&mut self, request: &Request) -> Result<u64, RawError> {
        let (id, frame) = self.frame(request)?;
        self.send_bytes(&frame)?;
        Ok(id)
    }

    /// Sends raw bytes (a hostile header, say).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), RawError> {
        let timeout = self.timeout;
        self.stream
            .write_all(bytes)
            .map_err(|e| RawError::from_io(e, timeout))
    }

    /// Sends `request` and waits for the reply to it (replies to earlier
    /// requests that arrive first are kept for `receive`). An error with
    /// request id 0 answers the connection, not a request (the node refuses
    /// a connection over its limit before it reads anything): it is the
    /// reply too.
    pub fn call(&mut self, request: &Request) -> Result<Reply, RawError> {
        let id = self.send(request)?;
        loop {
            let answers = |rid: u64, reply: &Reply| {
                rid == id || (rid == 0 && matches!(reply, Reply::Error(_)))
            };
            let at = self
                .ready
                .iter()
                .position(|(rid, reply)| answers(*rid, reply));
            if let Some((_, reply)) = at.and_then(|at| self.ready.remove(at)) {
                return Ok(reply);
            }
            self.fill(usize::MAX)?;
        }
    }

    /// The next reply, waiting for it.
    pub fn receive(&mut self) -> Result<(u64, Reply), RawError> {
        loop {
            if let Some(reply) = self.ready.pop_front() {
                return Ok(reply);
            }
            self.fill(usize::MAX)?;
        }
    }

    /// Reads at most `max` bytes that are there already (the socket must be
    /// non-blocking), and returns the replies completed so far. A slow
    /// reader drains its socket with this, a little at a time.
    pub fn drain_some(&mut self, max: usize) -> Result<Vec<(u64, Reply)>, RawError> {
        match self.fill(max) {
            Ok(()) | Err(RawError::TimedOut(_)) => Ok(self.ready.drain(..).collect()),
            Err(e) => Err(e),
        }
    }

    /// One read of at most `max` bytes, decoded into `ready`.
    fn fill(&mut self, max: usize) -> Result<(), RawError> {
        // Sized to what may be read: a slow reader takes a few hundred
        // bytes per call from many sockets.
        let mut buf = vec![0u8; max.min(64 << 10)];
        let n = match self.stream.read(&mut buf) {
            Ok(0) => return Err(RawError::Closed),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(RawError::from_io(e, self.timeout)),
        };
        let mut pos = 0;
        while pos < n {
            let step = self.decoder.decode(&buf[pos..n])?;
            pos += step.consumed;
            if let Decoded::Frame(frame) = step.decoded {
                let reply = frame.reply()?.to_reply()?;
                self.ready.push_back((frame.header.request_id, reply));
            }
            if step.consumed == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// A reply's message name, or for an error its status: the key of a tally.
pub fn reply_name(reply: &Reply) -> String {
    match reply {
        Reply::Error(e) => match spate_wire::StatusCode::from_u16(e.status) {
            Some(status) => format!("{status:?} ({})", e.status),
            None => format!("status {}", e.status),
        },
        other => format!("{:?}", other.message_type()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;

    use spate_wire::{ErrorReply, FrameEncoder, RetryAdvice, StatusCode};

    use super::*;

    /// A node refusing a connection over its limit answers before it reads
    /// the `Hello`, with request id 0; the handshake must see that answer,
    /// not wait for one with its own id (and then report a reset).
    #[test]
    fn an_error_for_the_connection_answers_the_handshake() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listens");
        let addr = listener.local_addr().expect("an address");
        let node = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accepts");
            let refusal = Reply::Error(ErrorReply {
                status: StatusCode::TooManyConnections.code(),
                retry: RetryAdvice::Retry,
                message: "full".into(),
            });
            let mut frame = Vec::new();
            FrameEncoder::new(1 << 20)
                .encode(&refusal, 0, &mut frame)
                .expect("encodes");
            socket.write_all(&frame).expect("sends");
            // Reads the Hello, then closes, as the node does.
            let _ = socket.read(&mut [0u8; 64]);
        });
        match RawConn::open(addr) {
            Err(RawError::Handshake(answer)) => assert_eq!(answer, "TooManyConnections (301)"),
            Err(other) => panic!("the handshake failed otherwise: {other}"),
            Ok(_) => panic!("the handshake succeeded"),
        }
        node.join().expect("the fake node ran");
    }
}
