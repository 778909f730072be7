//! Connecting to a node that may be down for a while (it is being killed
//! and restarted on purpose).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use spate_client::{Client, ClientError, ClientOptions, ReaderOptions, RetryPolicy};

/// Client options for the crash loop: short timeouts and short backoffs,
/// so that work resumes soon after a restart, and enough attempts to ride
/// out a restart without failing calls (a failed call is handled too: the
/// workers start a new session).
pub fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        handshake_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 40,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(200),
        },
        reader: ReaderOptions {
            // A tail reader re-asks at this pace; it is how soon a reader
            // notices a dead connection while nothing is being written.
            wait: Duration::from_millis(500),
            ..ReaderOptions::default()
        },
        ..ClientOptions::default()
    }
}

/// Connects, retrying every few milliseconds until `patience` runs out
/// (`None`: forever; the worker is killed with its parent anyway).
pub fn connect(node: SocketAddr, patience: Option<Duration>) -> Result<Client, ClientError> {
    let deadline = patience.map(|p| Instant::now() + p);
    loop {
        match Client::connect(node, options()) {
            Ok(client) => return Ok(client),
            Err(error) if error.is_retryable() => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(error);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => return Err(error),
        }
    }
}
