//! The one HTTP request the metrics server understands, parsed from a
//! bounded buffer: `GET /metrics` (or `HEAD`). Anything else gets a status
//! that says what was wrong. No keep-alive: one request per connection.

use std::io::{Read, Write};

/// A request larger than this (request line and headers) is refused:
/// scrapers send a few hundred bytes.
pub const MAX_REQUEST_BYTES: usize = 8 << 10;

/// Why a request cannot be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("request headers over {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    #[error("malformed request line")]
    Malformed,
    #[error("method {0} not allowed (GET or HEAD)")]
    Method(String),
    #[error("no such page {0} (the metrics are at /metrics)")]
    NotFound(String),
    #[error("connection closed before the request ended")]
    Truncated,
}

impl RequestError {
    fn status(&self) -> &'static str {
        match self {
            RequestError::TooLarge => "431 Request Header Fields Too Large",
            RequestError::Malformed | RequestError::Truncated => "400 Bad Request",
            RequestError::Method(_) => "405 Method Not Allowed",
            RequestError::NotFound(_) => "404 Not Found",
        }
    }
}

/// What a valid request asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct MetricsRequest {
    /// HEAD: headers only.
    pub head_only: bool,
}

/// Reads one request's head (up to the blank line) from `input`, bounded.
pub fn read_request(input: &mut impl Read) -> Result<MetricsRequest, RequestError> {
    let mut buf = vec![0u8; MAX_REQUEST_BYTES];
    let mut len = 0;
    loop {
        if let Some(end) = find_end(&buf[..len]) {
            return parse(&buf[..end]);
        }
        if len == buf.len() {
            return Err(RequestError::TooLarge);
        }
        match input.read(&mut buf[len..]) {
            Ok(0) | Err(_) => return Err(RequestError::Truncated),
            Ok(n) => len += n,
        }
    }
}

fn find_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Parses the request line of `head` (headers are not needed).
pub fn parse(head: &[u8]) -> Result<MetricsRequest, RequestError> {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).map_err(|_| RequestError::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed);
    };
    if !version.starts_with("HTTP/1.") {
        return Err(RequestError::Malformed);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        other => return Err(RequestError::Method(truncated(other))),
    };
    // A query string (`?name[]=…`, which some scrapers add) is ignored.
    let path = target.split('?').next().unwrap_or(target);
    if path != "/metrics" {
        return Err(RequestError::NotFound(truncated(path)));
    }
    Ok(MetricsRequest { head_only })
}

/// At most 64 characters of a client's string, for messages.
fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Writes a `200 OK` with `body` (just the headers for HEAD).
pub fn respond_ok(
    out: &mut impl Write,
    content_type: &str,
    body: &str,
    head_only: bool,
) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )?;
    if !head_only {
        out.write_all(body.as_bytes())?;
    }
    out.flush()
}

/// Writes the error's status with its message as a plain-text body.
pub fn respond_error(out: &mut impl Write, error: &RequestError) -> std::io::Result<()> {
    let body = format!("{error}\n");
    write!(
        out,
        "HTTP/1.1 {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        error.status(),
        body.len()
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Result<MetricsRequest, RequestError> {
        read_request(&mut text.as_bytes())
    }

    #[test]
    fn get_and_head_of_metrics_are_served() {
        let get = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
        assert_eq!(request(get), Ok(MetricsRequest { head_only: false }));
        let head = "HEAD /metrics?x=1 HTTP/1.0\r\n\r\n";
        assert_eq!(request(head), Ok(MetricsRequest { head_only: true }));
    }

    #[test]
    fn other_paths_methods_and_garbage_are_refused() {
        assert_eq!(
            request("GET / HTTP/1.1\r\n\r\n"),
            Err(RequestError::NotFound("/".into()))
        );
        assert_eq!(
            request("POST /metrics HTTP/1.1\r\n\r\n"),
            Err(RequestError::Method("POST".into()))
        );
        assert_eq!(
            request("GET /metrics\r\n\r\n"),
            Err(RequestError::Malformed)
        );
        assert_eq!(request("\u{0}\u{1}\r\n\r\n"), Err(RequestError::Malformed));
        assert_eq!(
            request("GET /metrics HTTP/1.1\r\n"),
            Err(RequestError::Truncated)
        );
    }

    #[test]
    fn a_request_without_end_is_cut_at_the_bound() {
        let endless =
            "GET /metrics HTTP/1.1\r\nX: ".to_string() + &"a".repeat(2 * MAX_REQUEST_BYTES);
        assert_eq!(request(&endless), Err(RequestError::TooLarge));
    }
}
