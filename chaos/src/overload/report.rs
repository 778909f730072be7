//! A case's report: what it did, what the node answered, how the
//! well-behaved client fared, and the node's memory against the bound.

use std::time::Duration;

use super::cases::CaseResult;
use super::cli::Case;
use super::memory::{self, Bound, mib};
use super::probe::ProbeReport;

/// A case's memory figures, for its report.
pub struct Memory<'a> {
    /// RSS when it started.
    pub before: u64,
    /// RSS and peak when it ended.
    pub after: memory::Rss,
    /// The base bound and the case's own terms, and their sum.
    pub base: u64,
    pub case: &'a Bound,
    pub total: u64,
}

pub fn print_case(
    case: Case,
    result: &CaseResult,
    probe: &ProbeReport,
    memory: &Memory<'_>,
    took: Duration,
    passed: bool,
) {
    println!("case {}:", case.name());
    for line in &result.did {
        println!("  did: {line}");
    }
    println!("  node answered: {}", result.answers);
    let probe_state = if probe.failures.is_empty() {
        "ok"
    } else {
        "FAILED"
    };
    println!(
        "  well-behaved client: {} rounds bit-exact, {} retryable refusals, {probe_state}",
        probe.rounds, probe.retried
    );
    for failure in &probe.failures {
        println!("    client failure: {failure}");
    }
    for failure in &result.failures {
        println!("  FAILURE: {failure}");
    }
    let shown = |bytes: u64| {
        if bytes == u64::MAX {
            "unknown (node gone)".to_string()
        } else {
            mib(bytes)
        }
    };
    let over = if memory.after.peak > memory.total {
        "  OVER THE BOUND"
    } else {
        ""
    };
    println!(
        "  peak RSS {} (before {}, after {}) vs bound {} = base {} + {}{over}",
        shown(memory.after.peak),
        mib(memory.before),
        shown(memory.after.now),
        mib(memory.total),
        mib(memory.base),
        memory.case.terms()
    );
    println!(
        "  {} in {:.1} s",
        if passed { "PASS" } else { "FAIL" },
        took.as_secs_f64()
    );
}
