//! The reader thread's reads: polling the socket for a while after each
//! reply before sleeping in a blocking read ([`ClientOptions::reply_spin`]).
//!
//! A blocked thread that the kernel wakes when bytes arrive may wait long to
//! run again on a busy or virtualized machine, and that wait is in every
//! ack's latency. While replies keep coming closer together than the spin,
//! the thread never sleeps; once they stop for that long, it blocks again
//! and costs nothing.
//!
//! [`ClientOptions::reply_spin`]: crate::ClientOptions::reply_spin

use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::sys::{NONBLOCKING_CALLS, recv_nonblocking};

/// A connection's socket as its reader thread reads it.
pub(super) struct SpinningReader {
    stream: TcpStream,
    spin: Duration,
    /// When the last bytes came; spinning lasts `spin` from there.
    last_bytes: Option<Instant>,
}

impl SpinningReader {
    pub(super) fn new(stream: TcpStream, spin: Duration) -> Self {
        let spin = if NONBLOCKING_CALLS {
            spin
        } else {
            Duration::ZERO
        };
        Self {
            stream,
            spin,
            last_bytes: None,
        }
    }

    /// Reads what the socket has, as `Read::read` does (0 at its end);
    /// within the spin of the last bytes, by polling rather than sleeping.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.spinning_since() {
            Some(since) => self.poll_until(since + self.spin, buf)?,
            None => None,
        };
        let n = match n {
            Some(n) => n,
            None => self.stream.read(buf)?,
        };
        if n > 0 && !self.spin.is_zero() {
            self.last_bytes = Some(Instant::now());
        }
        Ok(n)
    }

    fn spinning_since(&self) -> Option<Instant> {
        self.last_bytes.filter(|_| !self.spin.is_zero())
    }

    /// Polls until `deadline`: `Some(n)` once the socket answered, `None`
    /// if it stayed quiet (the caller then blocks).
    fn poll_until(&mut self, deadline: Instant, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            match recv_nonblocking(&self.stream, buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;

    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let client =
            TcpStream::connect(listener.local_addr().expect("an address")).expect("connects");
        let (server, _) = listener.accept().expect("accepts");
        (client, server)
    }

    #[test]
    fn bytes_come_through_with_and_without_a_spin() {
        for spin in [Duration::ZERO, Duration::from_millis(2)] {
            let (client, mut server) = pair();
            let mut reader = SpinningReader::new(client, spin);
            let mut buf = [0u8; 16];
            for round in 0..3u8 {
                server.write_all(&[round; 5]).expect("writes");
                let mut got = 0;
                while got < 5 {
                    got += reader.read(&mut buf[got..]).expect("reads");
                }
                assert_eq!(&buf[..5], &[round; 5]);
            }
            drop(server);
            assert_eq!(reader.read(&mut buf).expect("reads the end"), 0);
        }
    }

    #[test]
    fn a_quiet_socket_after_the_spin_blocks_until_bytes_come() {
        let (client, mut server) = pair();
        let mut reader = SpinningReader::new(client, Duration::from_millis(1));
        let mut buf = [0u8; 4];
        server.write_all(b"a").expect("writes");
        assert_eq!(reader.read(&mut buf).expect("reads"), 1);
        let writer = std::thread::spawn(move || {
            // Well past the spin: the reader is blocked by then.
            std::thread::sleep(Duration::from_millis(50));
            server.write_all(b"b").expect("writes");
            server
        });
        assert_eq!(reader.read(&mut buf).expect("reads"), 1);
        assert_eq!(buf[0], b'b');
        drop(writer.join());
    }
}
