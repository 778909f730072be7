//! The two socket calls that must not block whatever the socket's mode:
//! an inline writer's `send` and a spinning reader's `recv`. Both need
//! per-call flags (`MSG_DONTWAIT`, and `MSG_NOSIGNAL` for sends), so both
//! fast paths are off where those are missing and everything goes through
//! the connection's blocking I/O threads as before.

use std::io::{self, ErrorKind};
use std::net::TcpStream;

/// Whether this system has the per-call non-blocking socket calls.
pub(super) const NONBLOCKING_CALLS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// One `send` of `bytes` that never blocks and never raises `SIGPIPE`.
/// Returns how many bytes the socket took; `WouldBlock` if none fit.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn send_nonblocking(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    retry_interrupted(|| {
        // SAFETY: the pointer and length describe `bytes`, a live slice
        // that `send` only reads; the descriptor is the socket `stream`
        // keeps open for the length of the call.
        unsafe {
            libc::send(
                stream.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        }
    })
}

/// One `recv` into `buf` that never blocks: `WouldBlock` if nothing came.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn recv_nonblocking(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    retry_interrupted(|| {
        // SAFETY: the pointer and length describe `buf`, a live, writable
        // slice; the descriptor is the socket `stream` keeps open for the
        // length of the call.
        unsafe {
            libc::recv(
                stream.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        }
    })
}

/// Runs `call` (a system call returning a count, or -1 with `errno`) again
/// while a signal interrupts it.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn retry_interrupted(mut call: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        match usize::try_from(call()) {
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

/// Never called: [`NONBLOCKING_CALLS`] is off here, so nobody writes inline.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn send_nonblocking(_stream: &TcpStream, _bytes: &[u8]) -> io::Result<usize> {
    Err(ErrorKind::WouldBlock.into())
}

/// Never called: [`NONBLOCKING_CALLS`] is off here, so no reader spins.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn recv_nonblocking(_stream: &TcpStream, _buf: &mut [u8]) -> io::Result<usize> {
    Err(ErrorKind::WouldBlock.into())
}
