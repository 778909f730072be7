//! Writing inline: the writer role taken by the thread that queued the
//! work, while the writer thread is idle (see the module docs of `conn`).
//!
//! The holder sends with one non-blocking `send`, so an application thread
//! never blocks on the socket: whatever the socket does not take at once
//! goes to the writer thread, ahead of everything queued meanwhile.

use std::io::ErrorKind;
use std::sync::Arc;

use super::sys::{NONBLOCKING_CALLS, send_nonblocking};
use super::{Connection, FrameSource, Outgoing};
use crate::error::ClientError;

/// Whether threads other than the writer thread may take the writer role:
/// only with a send that never blocks (see [`super::sys`]).
pub(super) const INLINE_WRITES: bool = NONBLOCKING_CALLS;

/// The inline writers' gather buffer is dropped rather than kept past this
/// size (a burst of large batches should not pin its memory).
pub(super) const RETAINED_SPARE_BYTES: usize = 1024 * 1024;

/// The writer role, handed to the thread that scheduled a frame source
/// while the connection's writer was idle. [`WriteTurn::run`] it once no
/// lock is held: the source builds its frames and they go out right away.
///
/// Until it runs, nobody writes to the connection (the writer thread
/// waits), so run it promptly. A turn dropped without running gives its
/// source to the writer thread.
#[must_use = "the connection's writer waits until the turn runs"]
pub(crate) struct WriteTurn {
    conn: Arc<Connection>,
    source: Option<Arc<dyn FrameSource>>,
    /// The connection's spare gather buffer, taken with the role.
    out: Vec<u8>,
}

impl WriteTurn {
    pub(super) fn new(conn: Arc<Connection>, source: Arc<dyn FrameSource>, out: Vec<u8>) -> Self {
        WriteTurn {
            conn,
            source: Some(source),
            out,
        }
    }

    /// Builds the source's frames and sends them without blocking, then
    /// gives the role back. Call with no lock held.
    pub(crate) fn run(mut self) {
        let Some(source) = self.source.take() else {
            return;
        };
        let conn = Arc::clone(&self.conn);
        let mut out = std::mem::take(&mut self.out);
        // Broken since the turn was granted: the source learns of it as if
        // it had been queued (the writer thread would not build it either).
        if let Some(error) = conn.broken() {
            conn.release_role(None, Some(out));
            source.on_connection_failed(&conn, error);
            return;
        }
        source.write_frames(&conn, &mut out);
        conn.write_inline(out, true);
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        // Only if never run (a panic unwound past it): the writer thread
        // builds the source's frames instead. The source is the first thing
        // to go out, as it would have been.
        if let Some(source) = self.source.take() {
            let out = std::mem::take(&mut self.out);
            self.conn
                .release_role(Some(Outgoing::Source(source)), Some(out));
        }
    }
}

impl Connection {
    /// Sends `bytes` as the holder of the writer role, without blocking,
    /// and gives the role back. What the socket did not take goes to the
    /// writer thread, first in line. `spare`: `bytes` is the connection's
    /// gather buffer, to keep for the next turn.
    pub(super) fn write_inline(&self, mut bytes: Vec<u8>, spare: bool) {
        let sent = if bytes.is_empty() {
            Ok(0)
        } else {
            send_nonblocking(&self.stream, &bytes)
        };
        let written = match sent {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(e) => {
                // Exactly as the writer thread fails on a write error; the
                // role is given back after, to a broken connection.
                self.fail(ClientError::io("writing", &e));
                return self.release_role(None, spare.then_some(bytes));
            }
        };
        #[cfg(test)]
        {
            let counts = &mut crate::sync::lock(&self.state).inline_sends;
            if written == bytes.len() {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
        if written == bytes.len() {
            return self.release_role(None, spare.then_some(bytes));
        }
        // The socket is full: the writer thread blocks for the rest, which
        // leaves the buffer with it (it is not kept as the spare).
        bytes.drain(..written);
        self.release_role(Some(Outgoing::Frame(bytes)), None);
    }
}
