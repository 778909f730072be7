//! Opening a connection: TCP connect, then `Hello` / `HelloReply`, done
//! synchronously on the caller's thread before any I/O thread starts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use spate_wire::{
    ABSOLUTE_MAX_FRAME_BYTES, Decoded, FrameDecoder, FrameEncoder, Hello, MAX_VERSION,
    MIN_MAX_FRAME_BYTES, MIN_VERSION, Reply,
};

use crate::error::ClientError;
use crate::topology::Topology;

/// A connected, greeted socket and what the node said.
pub(crate) struct Greeted {
    pub stream: TcpStream,
    pub topology: Topology,
    /// The core that accepted the connection.
    pub core: u16,
    /// Encoder at the negotiated version.
    pub encoder: FrameEncoder,
    /// Bytes read past the `HelloReply` (none from a well-behaved node).
    pub leftover: Vec<u8>,
}

/// Connects to `addr` and completes the handshake.
pub(crate) fn open(
    addr: SocketAddr,
    connect_timeout: Duration,
    handshake_timeout: Duration,
) -> Result<Greeted, ClientError> {
    let mut stream = TcpStream::connect_timeout(&addr, connect_timeout)
        .map_err(|e| ClientError::io(&format!("connecting to {addr}"), &e))?;
    // Latency first: an append is one small frame that must leave now.
    stream
        .set_nodelay(true)
        .map_err(|e| ClientError::io("setting TCP_NODELAY", &e))?;
    let greeted = greet(&mut stream, handshake_timeout)
        .map_err(|e| e.context(format_args!("handshake with {addr}")))?;
    stream
        .set_read_timeout(None)
        .map_err(|e| ClientError::io("clearing the read timeout", &e))?;
    let (reply, leftover) = greeted;
    let topology = Topology::from_hello(&reply)?;
    // The reply may name any version; speak it only if this build can.
    let encoder = FrameEncoder::new(topology.limits.max_frame_bytes)
        .with_version(reply.version)
        .map_err(|e| ClientError::fatal(format!("node chose a version we lack: {e}")))?;
    Ok(Greeted {
        stream,
        topology,
        core: reply.core,
        encoder,
        leftover,
    })
}

/// Sends `Hello` and reads frames until the node's answer is complete.
fn greet(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<(spate_wire::HelloReply, Vec<u8>), ClientError> {
    let mut frame = Vec::new();
    let hello = Hello {
        min_version: MIN_VERSION,
        max_version: MAX_VERSION,
    };
    FrameEncoder::new(MIN_MAX_FRAME_BYTES)
        .encode(&hello, 0, &mut frame)
        .map_err(|e| ClientError::fatal(format!("encoding Hello: {e}")))?;
    stream
        .write_all(&frame)
        .map_err(|e| ClientError::io("sending Hello", &e))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| ClientError::io("setting the read timeout", &e))?;

    // The node's frame limit is not known yet; the protocol's ceiling bounds
    // what a hostile peer can make us buffer.
    let mut decoder = FrameDecoder::new(ABSOLUTE_MAX_FRAME_BYTES);
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = read_some(stream, &mut buf)
            .map_err(|e| ClientError::io("waiting for HelloReply", &e))?;
        if n == 0 {
            return Err(ClientError::retryable("node closed the connection"));
        }
        let mut input = &buf[..n];
        while !input.is_empty() {
            let step = decoder.decode(input).map_err(ClientError::protocol)?;
            let consumed = step.consumed;
            if let Decoded::Frame(frame) = step.decoded {
                let reply = frame
                    .reply()
                    .and_then(|r| r.to_reply())
                    .map_err(ClientError::protocol)?;
                let leftover = input[consumed..].to_vec();
                return answer(reply).map(|hello| (hello, leftover));
            }
            input = &input[consumed..];
        }
    }
}

/// One read, repeated if a signal interrupted it (as the connection's
/// reader thread does): a signal meant for something else on this thread
/// must not fail the handshake.
fn read_some(stream: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn answer(reply: Reply) -> Result<spate_wire::HelloReply, ClientError> {
    match reply {
        Reply::HelloReply(hello) => Ok(hello),
        Reply::Error(error) => Err(ClientError::from_reply(&error)),
        other => Err(ClientError::protocol(format_args!(
            "answered Hello with {:?}",
            spate_wire::Encode::message_type(&other)
        ))),
    }
}
