//! The metrics server: one std thread, one connection at a time.
//!
//! Scrapes come every few seconds from one or two scrapers; a thread of its
//! own keeps HTTP off the cores entirely (they only answer a snapshot
//! request). Each connection gets short timeouts, so a client that connects
//! and says nothing holds the server for at most `IO_TIMEOUT`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::exposition::{self, CONTENT_TYPE, NodeFacts};
use super::gather::Scrapers;
use super::http::{read_request, respond_error, respond_ok};
use super::machine::{Machine, Watched};

/// How long one connection may take to send its request or take its reply.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a scrape waits for the cores' snapshots. A core answers between
/// requests, in microseconds; one that takes longer is busy or stuck and is
/// left out of this scrape (`spate_cores_answered` says so).
const CORE_PATIENCE: Duration = Duration::from_millis(500);

/// Why the metrics server could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot serve metrics on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("starting the metrics thread: {0}")]
    Thread(std::io::Error),
}

/// Binds the metrics address (before the cores start, so a bad one stops
/// the node at once).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(addr).map_err(|source| MetricsError::Bind { addr, source })
}

/// Serves `/metrics` on `listener` from a thread of its own, for the rest
/// of the process's life (it holds nothing the node must release).
pub fn spawn(
    listener: TcpListener,
    scrapers: Scrapers,
    watched: Watched,
    started: Instant,
) -> Result<(), MetricsError> {
    let node = Node {
        scrapers,
        watched,
        started,
    };
    std::thread::Builder::new()
        .name("spate-metrics".into())
        .spawn(move || serve(&listener, &node))
        .map(drop)
        .map_err(MetricsError::Thread)
}

/// What the page is made from.
struct Node {
    scrapers: Scrapers,
    watched: Watched,
    started: Instant,
}

fn serve(listener: &TcpListener, node: &Node) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(e) = answer(stream, node) {
                    tracing::debug!(error = %e, "metrics connection");
                }
            }
            // Out of descriptors, say: the next accept may succeed.
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn answer(mut stream: TcpStream, node: &Node) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let request = match read_request(&mut stream) {
        Ok(request) => request,
        Err(error) => return respond_error(&mut stream, &error),
    };
    let cores = node.scrapers.gather(CORE_PATIENCE);
    let facts = NodeFacts {
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: node.started.elapsed().as_secs_f64(),
        cores: node.scrapers.cores(),
        machine: Machine::read(&node.watched),
    };
    let page = exposition::render(&facts, &cores);
    respond_ok(&mut stream, CONTENT_TYPE, &page, request.head_only)
}
