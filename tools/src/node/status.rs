//! What `spate node status` shows, computed from two scrapes of a node's
//! metrics page: gauges from the second, rates from the difference.

use serde::Serialize;

use super::prom::Page;
use super::quantile::upper_bound;

/// The node as a whole.
#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub metrics: String,
    pub version: Option<String>,
    pub uptime_s: f64,
    pub cores: u64,
    /// Cores that answered the second scrape (a busy or stuck core is
    /// missing from `per_core`).
    pub cores_answered: u64,
    /// Seconds between the two scrapes, by the node's clock.
    pub interval_s: f64,
    pub machine: Machine,
    pub per_core: Vec<CoreStatus>,
    pub total: CoreStatus,
}

/// The node's machine, as the node reports it.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpus: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub memory_available_bytes: Option<u64>,
    pub disks: Vec<Disk>,
}

/// The file system holding one of the node's directories.
#[derive(Debug, Serialize)]
pub struct Disk {
    /// `data` or `journal`.
    pub dir: String,
    pub bytes: u64,
    pub available_bytes: u64,
}

/// One core's figures (or, in `total`, the sum with `core` absent).
#[derive(Debug, Default, Serialize)]
pub struct CoreStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<usize>,
    pub containers: u64,
    pub segments: u64,
    pub appended_events: u64,
    pub appended_bytes: u64,
    pub append_events_per_s: f64,
    pub append_bytes_per_s: f64,
    pub read_requests_per_s: f64,
    pub read_bytes_per_s: f64,
    pub journal_written_bytes: u64,
    pub journal_files_in_use: u64,
    pub journal_files_max: u64,
    pub cache_bytes: u64,
    pub cache_budget_bytes: u64,
    pub connections_open: u64,
    pub refusals: u64,
    /// Over the interval: the histogram bucket (its `le` bound in seconds,
    /// as the page writes it, `+Inf` past the last) that 99 % of append
    /// acknowledgements fell within; absent without appends, and in `total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub append_ack_p99_le: Option<String>,
    /// The same for journal writes (group commits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_write_p99_le: Option<String>,
}

/// Why a page cannot be a spate-node's.
#[derive(Debug, thiserror::Error)]
#[error("the page at {0} has no spate_cores: is it a spate-node metrics address?")]
pub struct NotSpate(pub String);

impl NodeStatus {
    /// The status from scrapes `before` and `after`, `elapsed_s` apart by
    /// this machine's clock (used if the node's uptime does not tell).
    pub fn from_scrapes(
        addr: &str,
        before: &Page,
        after: &Page,
        elapsed_s: f64,
    ) -> Result<NodeStatus, NotSpate> {
        let cores = after
            .value("spate_cores")
            .ok_or_else(|| NotSpate(addr.to_string()))?;
        let uptime = after.value("spate_uptime_seconds").unwrap_or(0.0);
        let node_interval = uptime - before.value("spate_uptime_seconds").unwrap_or(uptime);
        let interval_s = if node_interval > 0.0 {
            node_interval
        } else {
            elapsed_s.max(1e-3)
        };
        let per_core: Vec<CoreStatus> = after
            .per_core("spate_containers")
            .keys()
            .map(|&core| core_status(core, before, after, interval_s))
            .collect();
        let total = sum(&per_core);
        Ok(NodeStatus {
            metrics: addr.to_string(),
            version: after.label_of("spate_build_info", "version"),
            uptime_s: uptime,
            cores: cores as u64,
            cores_answered: after.value("spate_cores_answered").unwrap_or(0.0) as u64,
            // Milliseconds are all a 1 s interval can honestly claim.
            interval_s: (interval_s * 1000.0).round() / 1000.0,
            machine: machine(after),
            per_core,
            total,
        })
    }
}

fn core_status(core: usize, before: &Page, after: &Page, interval_s: f64) -> CoreStatus {
    let label = core.to_string();
    let now = |name: &str| after.labelled(name, "core", &label).unwrap_or(0.0);
    // A counter that went down (the node restarted between scrapes) gives
    // no rate rather than a negative one.
    let rate = |name: &str| {
        let then = before.labelled(name, "core", &label).unwrap_or(0.0);
        (now(name) - then).max(0.0) / interval_s
    };
    let refusals: f64 = after
        .all("spate_refusals_total")
        .filter(|s| s.labels.iter().any(|(k, v)| k == "core" && *v == label))
        .map(|s| s.value)
        .sum();
    CoreStatus {
        core: Some(core),
        containers: now("spate_containers") as u64,
        segments: now("spate_segments") as u64,
        appended_events: now("spate_appended_events_total") as u64,
        appended_bytes: now("spate_appended_bytes_total") as u64,
        append_events_per_s: rate("spate_appended_events_total"),
        append_bytes_per_s: rate("spate_appended_bytes_total"),
        read_requests_per_s: rate("spate_read_requests_total"),
        read_bytes_per_s: rate("spate_read_bytes_total"),
        journal_written_bytes: now("spate_journal_written_bytes_total") as u64,
        journal_files_in_use: now("spate_journal_files_in_use") as u64,
        journal_files_max: now("spate_journal_files_max") as u64,
        cache_bytes: now("spate_cache_bytes") as u64,
        cache_budget_bytes: now("spate_cache_budget_bytes") as u64,
        connections_open: now("spate_connections_open") as u64,
        refusals: refusals as u64,
        append_ack_p99_le: p99(before, after, "spate_append_ack_seconds", &label),
        journal_write_p99_le: p99(before, after, "spate_journal_write_seconds", &label),
    }
}

/// The p99's bucket bound as its `le` label reads (JSON has no infinity).
fn p99(before: &Page, after: &Page, name: &str, core: &str) -> Option<String> {
    upper_bound(before, after, name, core, 0.99).map(|le| {
        if le.is_finite() {
            le.to_string()
        } else {
            "+Inf".to_string()
        }
    })
}

fn sum(cores: &[CoreStatus]) -> CoreStatus {
    let mut t = CoreStatus::default();
    for c in cores {
        t.containers += c.containers;
        t.segments += c.segments;
        t.appended_events += c.appended_events;
        t.appended_bytes += c.appended_bytes;
        t.append_events_per_s += c.append_events_per_s;
        t.append_bytes_per_s += c.append_bytes_per_s;
        t.read_requests_per_s += c.read_requests_per_s;
        t.read_bytes_per_s += c.read_bytes_per_s;
        t.journal_written_bytes += c.journal_written_bytes;
        t.journal_files_in_use += c.journal_files_in_use;
        t.journal_files_max += c.journal_files_max;
        t.cache_bytes += c.cache_bytes;
        t.cache_budget_bytes += c.cache_budget_bytes;
        t.connections_open += c.connections_open;
        t.refusals += c.refusals;
    }
    t
}

fn machine(page: &Page) -> Machine {
    let whole = |name| page.value(name).map(|v| v as u64);
    let disks = page
        .all("spate_disk_bytes")
        .filter_map(|s| {
            let dir = s.labels.iter().find(|(k, _)| k == "dir")?.1.clone();
            let available = page.labelled("spate_disk_available_bytes", "dir", &dir)?;
            Some(Disk {
                dir,
                bytes: s.value as u64,
                available_bytes: available as u64,
            })
        })
        .collect();
    Machine {
        cpus: whole("spate_machine_cpus"),
        memory_bytes: whole("spate_machine_memory_bytes"),
        memory_available_bytes: whole("spate_machine_memory_available_bytes"),
        disks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_the_difference_over_the_nodes_interval() {
        let before = Page::parse(
            "spate_cores 1\nspate_uptime_seconds 10\nspate_containers{core=\"0\"} 4\n\
             spate_appended_events_total{core=\"0\"} 100\n",
        )
        .expect("page");
        let after = Page::parse(
            "spate_cores 1\nspate_uptime_seconds 12\nspate_containers{core=\"0\"} 4\n\
             spate_appended_events_total{core=\"0\"} 300\n\
             spate_refusals_total{core=\"0\",reason=\"busy\"} 2\n",
        )
        .expect("page");
        let status = NodeStatus::from_scrapes("a", &before, &after, 5.0).expect("spate");
        assert_eq!(status.interval_s, 2.0);
        assert_eq!(status.per_core[0].append_events_per_s, 100.0);
        assert_eq!(status.total.refusals, 2);
        assert!(NodeStatus::from_scrapes("a", &Page::default(), &Page::default(), 1.0).is_err());
    }
}
