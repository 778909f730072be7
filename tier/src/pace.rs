//! A rate limit for background work (scrub, repair), so it leaves the disks
//! to foreground reads.

use std::time::{Duration, Instant};

/// Paces a stream of work to a number of bytes per second.
pub struct Pacer {
    bytes_per_s: Option<u64>,
    started: Instant,
    done: u64,
}

impl Pacer {
    /// `None`: as fast as the disks go.
    pub fn new(bytes_per_s: Option<u64>) -> Self {
        Self {
            bytes_per_s,
            started: Instant::now(),
            done: 0,
        }
    }

    /// Accounts for `bytes` of work about to be done, sleeping first as long
    /// as the limit requires.
    pub fn admit(&mut self, bytes: u64) {
        let wait = delay(self.bytes_per_s, self.done, self.started.elapsed());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        self.done += bytes;
    }
}

/// How long to wait before more work, when `done` bytes took `elapsed` at a
/// limit of `bytes_per_s`: until `done` would have taken at that rate.
pub fn delay(bytes_per_s: Option<u64>, done: u64, elapsed: Duration) -> Duration {
    match bytes_per_s {
        None | Some(0) => Duration::ZERO,
        Some(rate) => {
            let due = Duration::from_secs_f64(done as f64 / rate as f64);
            due.saturating_sub(elapsed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_follows_the_rate() {
        let s = Duration::from_secs;
        assert_eq!(delay(None, 1 << 30, s(0)), Duration::ZERO);
        assert_eq!(delay(Some(100), 0, s(0)), Duration::ZERO);
        assert_eq!(delay(Some(100), 300, s(1)), s(2));
        assert_eq!(delay(Some(100), 300, s(5)), Duration::ZERO);
    }
}
