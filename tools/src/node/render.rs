//! `spate node status` as a table, or as one JSON object.

use std::io::Write;

use super::status::{CoreStatus, NodeStatus};
use crate::units::{bytes, duration, rate, table};

pub fn json(out: &mut impl Write, status: &NodeStatus) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, status)?;
    writeln!(out)?;
    Ok(())
}

pub fn text(out: &mut impl Write, s: &NodeStatus) -> std::io::Result<()> {
    writeln!(
        out,
        "node {}: spate-node {}, up {}, {} cores ({} answered)",
        s.metrics,
        s.version.as_deref().unwrap_or("?"),
        duration(s.uptime_s),
        s.cores,
        s.cores_answered
    )?;
    let m = &s.machine;
    let mut machine = format!(
        "machine: {} CPUs, memory {} ({} available)",
        m.cpus.map_or("?".into(), |c| c.to_string()),
        m.memory_bytes.map_or("?".into(), |b| bytes(b as f64)),
        m.memory_available_bytes
            .map_or("?".into(), |b| bytes(b as f64)),
    );
    for d in &m.disks {
        machine += &format!(
            "; {} disk {} ({} free)",
            d.dir,
            bytes(d.bytes as f64),
            bytes(d.available_bytes as f64)
        );
    }
    writeln!(out, "{machine}")?;
    writeln!(out, "rates over the last {:.1} s", s.interval_s)?;
    writeln!(out)?;
    let mut rows = vec![
        [
            "core",
            "containers",
            "segments",
            "appends/s",
            "append B/s",
            "reads/s",
            "read B/s",
            "journal written",
            "journal files",
            "cache used/budget",
            "conns",
            "refusals",
            "ack p99",
            "write p99",
        ]
        .map(String::from)
        .to_vec(),
    ];
    rows.extend(s.per_core.iter().map(row));
    rows.push(row(&s.total));
    table(out, &rows)
}

fn row(c: &CoreStatus) -> Vec<String> {
    vec![
        c.core.map_or("total".into(), |c| c.to_string()),
        c.containers.to_string(),
        c.segments.to_string(),
        rate(c.append_events_per_s),
        bytes(c.append_bytes_per_s),
        rate(c.read_requests_per_s),
        bytes(c.read_bytes_per_s),
        bytes(c.journal_written_bytes as f64),
        format!("{}/{}", c.journal_files_in_use, c.journal_files_max),
        format!(
            "{} / {}",
            bytes(c.cache_bytes as f64),
            bytes(c.cache_budget_bytes as f64)
        ),
        c.connections_open.to_string(),
        c.refusals.to_string(),
        within(c.append_ack_p99_le.as_deref()),
        within(c.journal_write_p99_le.as_deref()),
    ]
}

/// `≤ 500 µs` from a bucket bound in seconds; `-` with nothing observed.
fn within(le: Option<&str>) -> String {
    match le {
        None => "-".into(),
        // Past the node's largest bound (docs/metrics.md).
        Some("+Inf") => "> 10 s".into(),
        Some(le) => match le.parse::<f64>() {
            Ok(s) if s < 1e-3 => format!("≤ {:.0} µs", s * 1e6),
            Ok(s) if s < 1.0 => format!("≤ {} ms", (s * 1e4).round() / 10.0),
            Ok(s) => format!("≤ {s} s"),
            Err(_) => le.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn bounds_read_in_the_unit_that_fits() {
        assert_eq!(within(Some("0.00025")), "≤ 250 µs");
        assert_eq!(within(Some("0.0025")), "≤ 2.5 ms");
        assert_eq!(within(Some("2.5")), "≤ 2.5 s");
        assert_eq!(within(Some("+Inf")), "> 10 s");
        assert_eq!(within(None), "-");
    }
}
