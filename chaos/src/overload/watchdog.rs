//! Protects the machine from the node under test: if its RSS passes a cap
//! (a node that buffers without bound would take the machine's memory, and
//! other processes with it), the watchdog kills it with SIGKILL and says so.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::memory;

/// How often RSS is sampled: an unbounded node grows by at most a few
/// hundred MiB between samples.
const SAMPLE: Duration = Duration::from_millis(10);

/// A running watchdog.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    /// The RSS at which it killed the node, 0 while it has not.
    killed_at: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Watches process `pid`, killing it past `cap` bytes.
    pub fn start(pid: u32, cap: u64) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let killed_at = Arc::new(AtomicU64::new(0));
        let (thread_stop, thread_killed) = (stop.clone(), killed_at.clone());
        let thread = std::thread::spawn(move || {
            while !thread_stop.load(Ordering::Relaxed) {
                // A process that is gone has no status: nothing to guard.
                let Ok(rss) = memory::rss(pid) else { return };
                if rss.now > cap {
                    // SAFETY: sends a signal to our own child process,
                    // which is not reaped while the watchdog runs.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                    thread_killed.store(rss.now, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(SAMPLE);
            }
        });
        Watchdog {
            stop,
            killed_at,
            thread: Some(thread),
        }
    }

    /// The RSS at which it killed the node, if it did.
    pub fn killed_at(&self) -> Option<u64> {
        match self.killed_at.load(Ordering::Relaxed) {
            0 => None,
            rss => Some(rss),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
