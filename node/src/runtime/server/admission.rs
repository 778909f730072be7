//! The node-wide count of client connections, against `max_connections`.
//!
//! The limit is per node (docs/wire.md §7), but each core accepts its own
//! connections; counting per core let a node of N cores take N times its
//! limit. The count is a process-wide atomic: one node runs per process.

use std::sync::atomic::{AtomicU32, Ordering};

static OPEN: AtomicU32 = AtomicU32::new(0);

/// One accepted connection's place in the count, given back on drop.
pub struct Admitted {
    /// The node was already at its limit: the connection gets
    /// `TooManyConnections` and is closed.
    pub over_limit: bool,
}

impl Admitted {
    /// Counts a connection just accepted.
    pub fn count(limit: u32) -> Self {
        let before = OPEN.fetch_add(1, Ordering::Relaxed);
        Self {
            over_limit: before >= limit,
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_past_the_limit_are_over_it_until_others_close() {
        // The only test touching the count, so no other test races it.
        let first = Admitted::count(2);
        let second = Admitted::count(2);
        let third = Admitted::count(2);
        assert!(!first.over_limit && !second.over_limit && third.over_limit);
        drop((second, third));
        assert!(!Admitted::count(2).over_limit);
    }
}
