//! Fetching a node's metrics page: one HTTP/1.1 GET over a std socket,
//! with timeouts and a bound on the page's size.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long connecting, sending and receiving may each take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// A page larger than this is refused (a node with 256 cores writes about
/// 2 MiB).
const MAX_PAGE_BYTES: u64 = 16 << 20;

/// Why a page could not be fetched. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error(
        "no address to read metrics from: pass --metrics HOST:PORT or set SPATE_METRICS (the address given to spate-node --metrics)"
    )]
    NoAddress,
    // `cause`, not `source`: the message already says it, and a source
    // would be printed twice by `{:#}`.
    #[error("{addr} is not a HOST:PORT address ({cause})")]
    BadAddress { addr: String, cause: std::io::Error },
    #[error(
        "no metrics at {addr}: {cause}; start spate-node with --metrics {addr}, or point \
         --metrics at the address the node printed"
    )]
    Unreachable { addr: String, cause: std::io::Error },
    #[error("reading the metrics page from {addr}: {cause}")]
    Io { addr: String, cause: std::io::Error },
    #[error("{addr} answered {status}; is it a spate-node metrics address?")]
    Status { addr: String, status: String },
    #[error("{addr} sent a page over {MAX_PAGE_BYTES} bytes; is it a spate-node metrics address?")]
    TooLarge { addr: String },
    #[error("{addr} did not answer HTTP; is it a spate-node metrics address (not a core's port)?")]
    NotHttp { addr: String },
}

/// `HOST:PORT` from what a user may type: `HOST:PORT`, `http://HOST:PORT`
/// or `http://HOST:PORT/metrics`.
pub fn normalize(addr: &str) -> String {
    let addr = addr.trim();
    let addr = addr.strip_prefix("http://").unwrap_or(addr);
    let addr = addr.split('/').next().unwrap_or(addr);
    addr.to_string()
}

/// The body of `GET /metrics` at `addr`.
pub fn fetch(addr: &str) -> Result<String, ScrapeError> {
    let unreachable = |cause| ScrapeError::Unreachable {
        addr: addr.to_string(),
        cause,
    };
    let io = |cause| ScrapeError::Io {
        addr: addr.to_string(),
        cause,
    };
    let target = addr
        .to_socket_addrs()
        .map_err(|cause| ScrapeError::BadAddress {
            addr: addr.to_string(),
            cause,
        })?
        .next()
        .ok_or_else(|| ScrapeError::BadAddress {
            addr: addr.to_string(),
            cause: std::io::Error::other("it resolves to nothing"),
        })?;
    let mut stream = TcpStream::connect_timeout(&target, TIMEOUT).map_err(unreachable)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut response = Vec::new();
    stream
        .take(MAX_PAGE_BYTES + 1)
        .read_to_end(&mut response)
        .map_err(io)?;
    if response.len() as u64 > MAX_PAGE_BYTES {
        return Err(ScrapeError::TooLarge {
            addr: addr.to_string(),
        });
    }
    split_response(addr, &response)
}

/// The body of a `200 OK` response.
fn split_response(addr: &str, response: &[u8]) -> Result<String, ScrapeError> {
    let not_http = || ScrapeError::NotHttp {
        addr: addr.to_string(),
    };
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(not_http)?;
    let head = std::str::from_utf8(&response[..end]).map_err(|_| not_http())?;
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(not_http());
    };
    if !version.starts_with("HTTP/1.") {
        return Err(not_http());
    }
    if code != "200" {
        return Err(ScrapeError::Status {
            addr: addr.to_string(),
            status: status_line.trim_start_matches(version).trim().to_string(),
        });
    }
    // The node sends `Content-Length` and closes: the rest is the body.
    String::from_utf8(response[end + 4..].to_vec()).map_err(|_| not_http())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_may_be_urls() {
        assert_eq!(normalize("http://10.0.0.1:9100/metrics"), "10.0.0.1:9100");
        assert_eq!(normalize(" node:9100 "), "node:9100");
    }

    #[test]
    fn only_a_200_gives_a_body() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nx 1";
        assert_eq!(split_response("a", ok).expect("ok"), "x 1");
        let missing = b"HTTP/1.1 404 Not Found\r\n\r\nno";
        assert!(matches!(
            split_response("a", missing),
            Err(ScrapeError::Status { status, .. }) if status == "404 Not Found"
        ));
        assert!(matches!(
            split_response("a", b"\x00\x01garbage"),
            Err(ScrapeError::NotHttp { .. })
        ));
    }
}
