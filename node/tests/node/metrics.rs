//! The metrics page of a real node: it parses as Prometheus text, and the
//! counters move with the traffic sent. No timings are asserted.

use std::collections::HashMap;
use std::io::{Read as _, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use spate_wire::*;

use crate::support::{Conn, Node};

/// One HTTP GET; returns the status code and the body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects to the metrics port");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let (head, body) = response.split_once("\r\n\r\n").expect("headers end");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, body.to_string())
}

/// Samples by `name{labels}`, checking every line's shape on the way.
fn parse(page: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut typed = std::collections::HashSet::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample: series value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let name = series.split('{').next().expect("a name");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "no # TYPE before {line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        samples.insert(series.to_string(), value);
    }
    samples
}

/// The sum of `name` over every core.
fn total(samples: &HashMap<String, f64>, name: &str) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| series.split('{').next() == Some(name))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn the_metrics_page_parses_and_counts_appends_and_reads() {
    let node = Node::start_with_metrics("metrics", 2);
    let metrics = node.metrics.expect("the node printed its metrics address");
    let (status, before) = get(metrics, "/metrics");
    assert_eq!(status, 200);
    let before = parse(&before);
    assert_eq!(before["spate_cores"], 2.0);
    assert_eq!(total(&before, "spate_appended_events_total"), 0.0);
    assert_eq!(total(&before, "spate_containers"), 8.0, "4 per core");
    assert!(before["spate_machine_cpus"] >= 1.0);
    assert!(before[r#"spate_disk_bytes{dir="data"}"#] > 0.0);
    assert!(before[r#"spate_disk_available_bytes{dir="journal"}"#] > 0.0);

    let mut conn = Conn::open(node.cores[0]);
    let created = conn.call(Request::CreateSegment(CreateSegment {
        segment: "m/s/0".into(),
    }));
    assert!(matches!(&created, Reply::SegmentCreated(_)), "{created:?}");
    for event in 1..=10 {
        let reply = conn.call(Request::Append(Append {
            segment: "m/s/0".into(),
            writer_id: 1,
            event_number: event,
            payload: vec![7; 100],
        }));
        assert!(matches!(&reply, Reply::Appended(_)), "{reply:?}");
    }
    let read = conn.call(Request::Read(Read {
        segment: "m/s/0".into(),
        offset: 0,
        max_bytes: 1 << 20,
        wait_ms: 0,
    }));
    assert!(matches!(&read, Reply::ReadData(d) if d.data.len() == 1000));

    let (_, after) = get(metrics, "/metrics");
    let after = parse(&after);
    assert_eq!(total(&after, "spate_append_requests_total"), 10.0);
    assert_eq!(total(&after, "spate_appended_events_total"), 10.0);
    assert_eq!(total(&after, "spate_appended_bytes_total"), 1000.0);
    assert_eq!(total(&after, "spate_read_requests_total"), 1.0);
    assert_eq!(total(&after, "spate_read_bytes_total"), 1000.0);
    assert_eq!(total(&after, "spate_segments"), 1.0);
    assert_eq!(total(&after, "spate_append_ack_seconds_count"), 10.0);
    assert!(total(&after, "spate_journal_writes_total") >= 1.0);
    assert!(total(&after, "spate_journal_written_bytes_total") >= 1000.0);
    assert!(total(&after, "spate_journal_write_seconds_count") >= 1.0);
    assert_eq!(after[r#"spate_connections_open{core="0"}"#], 1.0);
    assert!(total(&after, "spate_cache_bytes") >= 1000.0);
    let inf = after[r#"spate_append_ack_seconds_bucket{core="0",le="+Inf"}"#];
    assert_eq!(inf, after[r#"spate_append_ack_seconds_count{core="0"}"#]);

    let (status, _) = get(metrics, "/other");
    assert_eq!(status, 404);
}
