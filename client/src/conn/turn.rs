//! Writing inline: the writer role taken by the thread that queued the
//! work, while the writer thread is idle (see the module docs of `conn`).
//!
//! The holder sends with one non-blocking `send`, so an application thread
//! never blocks on the socket: whatever the socket does not take at once
//! goes to the writer thread, ahead of everything queued meanwhile.

use std::io::{self, ErrorKind};
use std::net::TcpStream;

use super::{Connection, Outgoing};
use crate::error::ClientError;

/// Whether threads other than the writer thread may take the writer role.
/// Needs a per-call non-blocking send that never raises `SIGPIPE`
/// (`MSG_DONTWAIT | MSG_NOSIGNAL`); elsewhere every write goes through the
/// writer thread as before.
pub(super) const INLINE_WRITES: bool = cfg!(any(target_os = "linux", target_os = "android"));

impl Connection {
    /// Sends `bytes` as the holder of the writer role, without blocking,
    /// and gives the role back. What the socket did not take goes to the
    /// writer thread, first in line.
    pub(super) fn write_inline(&self, mut bytes: Vec<u8>) {
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
                return self.release_role(None);
            }
        };
        if written == bytes.len() {
            return self.release_role(None);
        }
        // The socket is full: the writer thread blocks for the rest.
        bytes.drain(..written);
        self.release_role(Some(Outgoing::Frame(bytes)));
    }
}

/// One `send` of `bytes` that never blocks and never raises `SIGPIPE`,
/// retried if a signal interrupts it. Returns how many bytes the socket
/// took; `WouldBlock` if none fit.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_nonblocking(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    loop {
        // SAFETY: the pointer and length describe `bytes`, a live slice
        // that `send` only reads; the descriptor is the socket `stream`
        // keeps open for the length of the call.
        let sent = unsafe {
            libc::send(
                stream.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                flags,
            )
        };
        match usize::try_from(sent) {
            Ok(n) => return Ok(n),
            Err(_) => {
                let error = io::Error::last_os_error();
                if error.kind() != ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}

/// Never called: [`INLINE_WRITES`] is off here, so nobody takes the role
/// inline; should it happen, everything goes to the writer thread.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_nonblocking(_stream: &TcpStream, _bytes: &[u8]) -> io::Result<usize> {
    Err(ErrorKind::WouldBlock.into())
}
