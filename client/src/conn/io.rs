//! The two I/O threads of a connection.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use spate_wire::{Decoded, Frame, FrameDecoder, Reply};

use super::spin::SpinningReader;
use super::{Connection, Outgoing};
use crate::error::ClientError;

/// Bytes asked of the socket per read; frames larger than this are
/// assembled by the decoder across reads.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// The writer's gather buffer is freed back to this size after a burst.
const RETAINED_WRITE_BYTES: usize = 1024 * 1024;

/// Starts the reader and writer threads of `conn`.
pub(super) fn spawn(
    conn: &Arc<Connection>,
    reader: TcpStream,
    writer: TcpStream,
    leftover: Vec<u8>,
    reply_spin: Duration,
) -> Result<(), ClientError> {
    let name = format!("spate-conn-{}", conn.addr());
    let for_reader = Arc::clone(conn);
    thread::Builder::new()
        .name(format!("{name}-rx"))
        .spawn(move || read_replies(&for_reader, reader, &leftover, reply_spin))
        .map_err(|e| ClientError::io("starting the reader thread", &e))?;
    let for_writer = Arc::clone(conn);
    let started = thread::Builder::new()
        .name(format!("{name}-tx"))
        .spawn(move || write_requests(&for_writer, writer));
    if let Err(e) = started {
        // The reader runs already; failing the connection stops it.
        let error = ClientError::io("starting the writer thread", &e);
        conn.fail(error.clone());
        return Err(error);
    }
    Ok(())
}

/// Reader thread: socket → frames → waiters, until the connection breaks.
fn read_replies(conn: &Arc<Connection>, stream: TcpStream, leftover: &[u8], reply_spin: Duration) {
    let mut decoder = FrameDecoder::new(conn.limits().max_frame_bytes);
    let error = match feed(conn, &mut decoder, leftover) {
        Err(error) => error,
        Ok(()) => read_loop(conn, SpinningReader::new(stream, reply_spin), &mut decoder),
    };
    conn.fail(error);
}

fn read_loop(
    conn: &Arc<Connection>,
    mut stream: SpinningReader,
    decoder: &mut FrameDecoder,
) -> ClientError {
    let mut buf = vec![0; READ_CHUNK_BYTES];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return ClientError::retryable("closed by the node"),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return ClientError::io("reading", &e),
        };
        if let Err(error) = feed(conn, decoder, &buf[..n]) {
            return error;
        }
    }
}

/// Decodes every complete frame in `input` and dispatches it.
fn feed(
    conn: &Arc<Connection>,
    decoder: &mut FrameDecoder,
    mut input: &[u8],
) -> Result<(), ClientError> {
    while !input.is_empty() {
        // A framing error loses the frame boundary: the connection is done.
        let step = decoder.decode(input).map_err(ClientError::protocol)?;
        let consumed = step.consumed;
        if let Decoded::Frame(frame) = step.decoded {
            dispatch(conn, frame);
        }
        input = &input[consumed..];
    }
    Ok(())
}

/// Hands one reply to the waiter of its request id.
fn dispatch(conn: &Arc<Connection>, frame: Frame<'_>) {
    // A body that fails validation concerns this one request only.
    let reply = frame
        .reply()
        .and_then(|reply| reply.to_reply())
        .map_err(ClientError::protocol);
    match conn.finish(frame.header.request_id) {
        Some(waiter) => waiter.on_reply(reply, conn),
        // Not ours: an error about the connection itself (the node sends
        // it with id 0 before closing), or a reply we no longer wait for.
        None => {
            if let Ok(Reply::Error(error)) = reply {
                conn.last_words(ClientError::from_reply(&error));
            }
        }
    }
}

/// Writer thread: outbox → socket, gathering everything queued into one
/// write, until the connection breaks. It holds the writer role from taking
/// the items to asking for more, so no inline writer writes meanwhile, and
/// it is the only one that blocks on the socket.
fn write_requests(conn: &Arc<Connection>, mut stream: TcpStream) {
    let mut out = Vec::new();
    let mut held = false;
    while let Some(items) = conn.take_outgoing(held) {
        held = true;
        for item in items {
            match item {
                Outgoing::Frame(frame) => out.extend_from_slice(&frame),
                Outgoing::Source(source) => source.write_frames(conn, &mut out),
            }
        }
        if let Err(e) = stream.write_all(&out) {
            conn.fail(ClientError::io("writing", &e));
            return;
        }
        out.clear();
        if out.capacity() > RETAINED_WRITE_BYTES {
            out = Vec::new();
        }
    }
}
