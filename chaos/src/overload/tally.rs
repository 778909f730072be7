//! Counting what the node answered: replies by name (errors by status code),
//! and how connections ended.

use std::collections::BTreeMap;
use std::fmt;

/// Counts by outcome, printed in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    counts: BTreeMap<String, u64>,
}

impl Tally {
    /// Counts one `outcome`.
    pub fn add(&mut self, outcome: impl Into<String>) {
        self.add_n(outcome, 1);
    }

    /// Counts `n` of `outcome`.
    pub fn add_n(&mut self, outcome: impl Into<String>, n: u64) {
        *self.counts.entry(outcome.into()).or_default() += n;
    }

    /// How many of `outcome`.
    pub fn get(&self, outcome: &str) -> u64 {
        self.counts.get(outcome).copied().unwrap_or(0)
    }

    /// How many outcomes whose name starts with `prefix` (a status name,
    /// without its code).
    pub fn starting_with(&self, prefix: &str) -> u64 {
        self.counts
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Tally) {
        for (name, n) in &other.counts {
            self.add_n(name.clone(), *n);
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.counts.is_empty() {
            return write!(f, "nothing");
        }
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(name, n)| format!("{name}: {n}"))
            .collect();
        write!(f, "{}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_prints_in_name_order() {
        let mut tally = Tally::default();
        tally.add("Busy (300)");
        tally.add_n("ReadData", 3);
        tally.add("Busy (300)");
        assert_eq!(tally.get("Busy (300)"), 2);
        assert_eq!(tally.starting_with("Busy"), 2);
        assert_eq!(tally.to_string(), "Busy (300): 2, ReadData: 3");
        let mut total = Tally::default();
        total.merge(&tally);
        total.merge(&tally);
        assert_eq!(total.get("ReadData"), 6);
    }
}
