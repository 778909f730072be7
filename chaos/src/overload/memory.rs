//! The node's memory as the kernel counts it, and the bound it must stay in.
//!
//! Peak RSS is `VmHWM` in `/proc/PID/status`. Writing `5` to
//! `/proc/PID/clear_refs` resets that peak to the current RSS, so each case
//! measures its own peak rather than the highest since start-up.

use std::fmt;
use std::path::PathBuf;

/// Bytes in a mebibyte, for printing.
pub const MIB: u64 = 1 << 20;

/// Why the node's memory could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct MemoryError {
    path: PathBuf,
    reason: String,
}

/// Resident set size now and its peak, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rss {
    /// `VmRSS`.
    pub now: u64,
    /// `VmHWM`: the peak since start or since the last `reset_peak`.
    pub peak: u64,
}

/// Reads the RSS of process `pid`.
pub fn rss(pid: u32) -> Result<Rss, MemoryError> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let text = std::fs::read_to_string(&path).map_err(|e| MemoryError {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let field = |name: &str| {
        status_kib(&text, name)
            .map(|kib| kib * 1024)
            .ok_or_else(|| MemoryError {
                path: path.clone(),
                reason: format!("no {name} line"),
            })
    };
    Ok(Rss {
        now: field("VmRSS")?,
        peak: field("VmHWM")?,
    })
}

/// Resets process `pid`'s peak RSS to its current RSS.
pub fn reset_peak(pid: u32) -> Result<(), MemoryError> {
    let path = PathBuf::from(format!("/proc/{pid}/clear_refs"));
    std::fs::write(&path, "5").map_err(|e| MemoryError {
        path,
        reason: e.to_string(),
    })
}

/// The value of a `Name:   123 kB` line.
fn status_kib(text: &str, name: &str) -> Option<u64> {
    let rest = text
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?;
    rest.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// A memory bound as a sum of named terms, each from a setting or a named
/// limit of the node, so a reader can check the arithmetic.
#[derive(Debug, Clone, Default)]
pub struct Bound {
    terms: Vec<(String, u64)>,
}

impl Bound {
    /// Adds a term.
    pub fn plus(mut self, name: impl Into<String>, bytes: u64) -> Bound {
        self.terms.push((name.into(), bytes));
        self
    }

    /// Adds every term of `other`.
    pub fn plus_all(mut self, other: Bound) -> Bound {
        self.terms.extend(other.terms);
        self
    }

    /// The sum.
    pub fn total(&self) -> u64 {
        self.terms.iter().map(|(_, b)| b).sum()
    }
}

impl Bound {
    /// The terms, named, as a sum.
    pub fn terms(&self) -> String {
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|(name, bytes)| format!("{name} {}", mib(*bytes)))
            .collect();
        terms.join(" + ")
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", mib(self.total()), self.terms())
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines() {
        let text = "Name:\tspate-node\nVmHWM:\t   85264 kB\nVmRSS:\t   32116 kB\n";
        assert_eq!(status_kib(text, "VmHWM"), Some(85_264));
        assert_eq!(status_kib(text, "VmRSS"), Some(32_116));
        assert_eq!(status_kib(text, "VmSwap"), None);
    }

    #[test]
    fn a_bound_prints_its_terms() {
        let bound = Bound::default()
            .plus("cache", 64 * MIB)
            .plus("base", MIB / 2);
        assert_eq!(bound.total(), 64 * MIB + MIB / 2);
        assert_eq!(
            bound.to_string(),
            "64.5 MiB = cache 64.0 MiB + base 0.5 MiB"
        );
    }

    #[test]
    fn reads_its_own_memory() {
        let own = rss(std::process::id()).expect("own /proc status");
        assert!(own.now > 0 && own.peak >= own.now);
    }
}
