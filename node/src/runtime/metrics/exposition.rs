//! The Prometheus text exposition format (version 0.0.4) of a scrape.
//!
//! Every metric name, type and label is listed in `docs/metrics.md`; the
//! tables here and that page change together.

use std::fmt::Write;

use super::counters::Refusal;
use super::histogram::{BOUNDS_NS, HistogramSnapshot};
use super::machine::Machine;
use super::snapshot::CoreSnapshot;

/// The `Content-Type` of the page.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Node-wide facts that are not any core's.
pub struct NodeFacts {
    pub version: &'static str,
    pub uptime_s: f64,
    pub cores: usize,
    pub machine: Machine,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// A per-core metric with one value per core.
struct Family {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    value: fn(&CoreSnapshot) -> u64,
}

const fn family(
    name: &'static str,
    kind: Kind,
    help: &'static str,
    value: fn(&CoreSnapshot) -> u64,
) -> Family {
    Family {
        name,
        kind,
        help,
        value,
    }
}

use Kind::{Counter, Gauge};

const FAMILIES: &[Family] = &[
    family(
        "spate_append_requests_total",
        Counter,
        "Append requests (single, conditional, batch) answered by connections of this core.",
        |s| s.append_requests,
    ),
    family(
        "spate_appended_events_total",
        Counter,
        "Events of append requests acknowledged as appended.",
        |s| s.appended_events,
    ),
    family(
        "spate_appended_bytes_total",
        Counter,
        "Payload bytes of append requests acknowledged as appended.",
        |s| s.appended_bytes,
    ),
    family(
        "spate_read_requests_total",
        Counter,
        "Read requests answered by connections of this core.",
        |s| s.read_requests,
    ),
    family(
        "spate_read_bytes_total",
        Counter,
        "Segment bytes returned by reads.",
        |s| s.read_bytes,
    ),
    family(
        "spate_journal_writes_total",
        Counter,
        "Journal writes (group commits) completed.",
        |s| s.journal_writes,
    ),
    family(
        "spate_journal_written_bytes_total",
        Counter,
        "Bytes written to the journal by group commits.",
        |s| s.journal_bytes_written,
    ),
    family(
        "spate_journal_files_in_use",
        Gauge,
        "Journal files holding records not yet released.",
        |s| s.journal_files_in_use,
    ),
    family(
        "spate_journal_files_max",
        Gauge,
        "Journal files this core may use (--journal-files).",
        |s| s.journal_files_max,
    ),
    family(
        "spate_journal_durable_lsn",
        Gauge,
        "Records below this LSN are durable.",
        |s| s.journal_durable_lsn,
    ),
    family(
        "spate_cache_bytes",
        Gauge,
        "Segment data held in memory (the read cache and appends not yet durable).",
        |s| s.cache_bytes,
    ),
    family(
        "spate_cache_budget_bytes",
        Gauge,
        "Memory budget for segment data (--cache-mib shared among containers).",
        |s| s.cache_budget_bytes,
    ),
    family(
        "spate_cache_evicted_bytes_total",
        Counter,
        "Bytes of durable segment data evicted from memory (readable from the journal).",
        |s| s.cache_evicted_bytes,
    ),
    family(
        "spate_readbacks_total",
        Counter,
        "Reads completed by reading evicted data back from the journal.",
        |s| s.readbacks,
    ),
    family(
        "spate_readback_bytes_total",
        Counter,
        "Bytes read from journal and hot chunk files for read-backs.",
        |s| s.readback_bytes,
    ),
    family(
        "spate_flushed_bytes_total",
        Counter,
        "Segment bytes moved out of the journal into hot chunk files.",
        |s| s.flushed_bytes,
    ),
    family(
        "spate_hot_files",
        Gauge,
        "Hot chunk files this core keeps on the data disk.",
        |s| s.hot_files,
    ),
    family(
        "spate_hot_bytes",
        Gauge,
        "Bytes of the hot chunk files this core keeps on the data disk.",
        |s| s.hot_bytes,
    ),
    family(
        "spate_tier_bytes",
        Gauge,
        "Bytes of this core's hot chunk files the erasure-coded tier holds.",
        |s| s.tier_bytes,
    ),
    family(
        "spate_tier_backlog_bytes",
        Gauge,
        "Bytes of local hot chunk files not stored in the tier yet (0 without a tier).",
        |s| s.tier_backlog_bytes,
    ),
    family(
        "spate_connections_open",
        Gauge,
        "Client connections this core holds.",
        |s| s.connections_open,
    ),
    family(
        "spate_connections_accepted_total",
        Counter,
        "Client connections this core accepted.",
        |s| s.connections_accepted,
    ),
    family(
        "spate_containers",
        Gauge,
        "Containers this core owns.",
        |s| s.containers,
    ),
    family(
        "spate_segments",
        Gauge,
        "Segments in the containers this core owns.",
        |s| s.segments,
    ),
];

/// The whole page for the cores that answered (in core order).
pub fn render(node: &NodeFacts, cores: &[CoreSnapshot]) -> String {
    let mut out = String::with_capacity(16 << 10);
    // Writing to a String cannot fail.
    let _ = write_page(&mut out, node, cores);
    out
}

fn write_page(out: &mut String, node: &NodeFacts, cores: &[CoreSnapshot]) -> std::fmt::Result {
    header(
        out,
        "spate_build_info",
        Gauge,
        "Always 1; the node's version.",
    )?;
    writeln!(out, "spate_build_info{{version=\"{}\"}} 1", node.version)?;
    header(
        out,
        "spate_uptime_seconds",
        Gauge,
        "Seconds since the node started.",
    )?;
    writeln!(out, "spate_uptime_seconds {:.3}", node.uptime_s)?;
    header(out, "spate_cores", Gauge, "Cores the node runs.")?;
    writeln!(out, "spate_cores {}", node.cores)?;
    header(
        out,
        "spate_cores_answered",
        Gauge,
        "Cores that answered this scrape in time (the rest are missing below).",
    )?;
    writeln!(out, "spate_cores_answered {}", cores.len())?;
    write_machine(out, &node.machine)?;
    for f in FAMILIES {
        header(out, f.name, f.kind, f.help)?;
        for s in cores {
            writeln!(out, "{}{{core=\"{}\"}} {}", f.name, s.core, (f.value)(s))?;
        }
    }
    header(
        out,
        "spate_refusals_total",
        Counter,
        "Requests refused because the node is at a limit, by reason.",
    )?;
    for s in cores {
        for (refusal, count) in Refusal::ALL.iter().zip(s.refusals) {
            writeln!(
                out,
                "spate_refusals_total{{core=\"{}\",reason=\"{}\"}} {count}",
                s.core,
                refusal.label()
            )?;
        }
    }
    histogram(
        out,
        "spate_append_ack_seconds",
        "From a connection reading an append to its acknowledgement being ready.",
        cores,
        |s| &s.append_ack,
    )?;
    histogram(
        out,
        "spate_journal_write_seconds",
        "One journal group-commit write (O_DSYNC), submission to completion.",
        cores,
        |s| &s.journal_write,
    )
}

fn write_machine(out: &mut String, m: &Machine) -> std::fmt::Result {
    header(
        out,
        "spate_machine_cpus",
        Gauge,
        "CPUs of the node's machine.",
    )?;
    writeln!(out, "spate_machine_cpus {}", m.cpus)?;
    header(
        out,
        "spate_machine_memory_bytes",
        Gauge,
        "Memory of the node's machine.",
    )?;
    writeln!(out, "spate_machine_memory_bytes {}", m.memory_bytes)?;
    header(
        out,
        "spate_machine_memory_available_bytes",
        Gauge,
        "Memory available for new allocations on the node's machine.",
    )?;
    writeln!(
        out,
        "spate_machine_memory_available_bytes {}",
        m.memory_available_bytes
    )?;
    header(
        out,
        "spate_disk_bytes",
        Gauge,
        "Size of the file system holding a node directory (dir: data, journal).",
    )?;
    for (dir, space) in &m.disks {
        if let Some(space) = space {
            writeln!(out, "spate_disk_bytes{{dir=\"{dir}\"}} {}", space.total)?;
        }
    }
    header(
        out,
        "spate_disk_available_bytes",
        Gauge,
        "Space available to the node on the file system holding a node directory.",
    )?;
    for (dir, space) in &m.disks {
        if let Some(space) = space {
            writeln!(
                out,
                "spate_disk_available_bytes{{dir=\"{dir}\"}} {}",
                space.available
            )?;
        }
    }
    Ok(())
}

fn header(out: &mut String, name: &str, kind: Kind, help: &str) -> std::fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {}", kind.name())
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    cores: &[CoreSnapshot],
    of: fn(&CoreSnapshot) -> &HistogramSnapshot,
) -> std::fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} histogram")?;
    for s in cores {
        let h = of(s);
        let core = s.core;
        let mut cumulative = 0u64;
        for (i, bound) in BOUNDS_NS.iter().enumerate() {
            cumulative += h.buckets.get(i).copied().unwrap_or(0);
            let le = seconds(*bound);
            writeln!(
                out,
                "{name}_bucket{{core=\"{core}\",le=\"{le}\"}} {cumulative}"
            )?;
        }
        let count = h.count();
        writeln!(out, "{name}_bucket{{core=\"{core}\",le=\"+Inf\"}} {count}")?;
        writeln!(out, "{name}_sum{{core=\"{core}\"}} {}", seconds(h.sum_ns))?;
        writeln!(out, "{name}_count{{core=\"{core}\"}} {count}")?;
    }
    Ok(())
}

/// Nanoseconds as seconds in plain decimal (Prometheus parses it; no
/// exponent, so a grep for `le="0.0001"` works).
fn seconds(ns: u64) -> String {
    let whole = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_print_without_exponent_or_trailing_zeros() {
        assert_eq!(seconds(10_000), "0.00001");
        assert_eq!(seconds(2_500_000_000), "2.5");
        assert_eq!(seconds(1_000_000_000), "1");
        assert_eq!(seconds(0), "0");
    }

    #[test]
    fn every_sample_line_is_a_name_labels_and_a_number() {
        let mut core = CoreSnapshot {
            core: 3,
            appended_events: 7,
            ..CoreSnapshot::default()
        };
        core.append_ack.buckets = vec![1; BOUNDS_NS.len() + 1];
        let node = NodeFacts {
            version: "0.1.0",
            uptime_s: 1.5,
            cores: 4,
            machine: Machine {
                cpus: 2,
                memory_bytes: 1 << 30,
                memory_available_bytes: 1 << 29,
                disks: vec![("data", None)],
            },
        };
        let page = render(&node, &[core]);
        assert!(page.contains("spate_appended_events_total{core=\"3\"} 7\n"));
        assert!(page.contains("spate_append_ack_seconds_bucket{core=\"3\",le=\"+Inf\"} 19\n"));
        assert!(page.contains("spate_append_ack_seconds_bucket{core=\"3\",le=\"0.00001\"} 1\n"));
        for line in page.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').expect("a value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
