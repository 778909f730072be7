//! The client's background thread for work that must wait or block:
//! resending after a backoff, reconnecting a session, or sending a request
//! that an I/O thread could not admit without waiting.
//!
//! One thread per client, running jobs in due order. Jobs only come from
//! requests already admitted once or from sessions (at most one recovery
//! job each), so the queue is bounded by the connections' in-flight limits
//! plus the number of sessions.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::ClientError;
use crate::sync::{lock, wait, wait_timeout};

type Job = Box<dyn FnOnce() + Send>;

/// Handle to the background thread; closing it drops the queued jobs, whose
/// completers then fail with "client closed".
pub(crate) struct Retrier {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    due: Condvar,
}

struct Queue {
    jobs: BinaryHeap<Timed>,
    next_seq: u64,
    closed: bool,
}

struct Timed {
    at: Instant,
    seq: u64,
    job: Job,
}

// Earliest first (BinaryHeap is a max-heap), ties in scheduling order.
impl Ord for Timed {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}
impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl Eq for Timed {}

impl Retrier {
    /// Starts the thread.
    pub(crate) fn start() -> Result<Retrier, ClientError> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: BinaryHeap::new(),
                next_seq: 0,
                closed: false,
            }),
            due: Condvar::new(),
        });
        let for_thread = Arc::clone(&shared);
        thread::Builder::new()
            .name("spate-retrier".into())
            .spawn(move || run(&for_thread))
            .map_err(|e| ClientError::io("starting the retry thread", &e))?;
        Ok(Retrier { shared })
    }

    /// Runs `job` on the background thread after `delay`. Returns false
    /// after close: the job was dropped at once (its completers fail; a
    /// session must also give up itself).
    pub(crate) fn after(&self, delay: Duration, job: impl FnOnce() + Send + 'static) -> bool {
        let mut queue = lock(&self.shared.queue);
        if queue.closed {
            drop(queue);
            drop(job);
            return false;
        }
        let seq = queue.next_seq;
        queue.next_seq += 1;
        queue.jobs.push(Timed {
            at: Instant::now() + delay,
            seq,
            job: Box::new(job),
        });
        self.shared.due.notify_one();
        true
    }

    /// Stops the thread; queued jobs are dropped. Does not join: the last
    /// client handle may be dropped by a job on that very thread.
    pub(crate) fn close(&self) {
        let jobs = {
            let mut queue = lock(&self.shared.queue);
            queue.closed = true;
            std::mem::take(&mut queue.jobs)
        };
        self.shared.due.notify_all();
        // Dropped outside the lock: dropping a job may schedule another.
        drop(jobs);
    }
}

fn run(shared: &Shared) {
    while let Some(job) = next_due(shared) {
        job();
    }
}

/// Waits for the earliest job to fall due; `None` once closed.
fn next_due(shared: &Shared) -> Option<Job> {
    let mut queue = lock(&shared.queue);
    loop {
        if queue.closed {
            return None;
        }
        let now = Instant::now();
        match queue.jobs.peek().map(|timed| timed.at) {
            Some(at) if at <= now => return queue.jobs.pop().map(|timed| timed.job),
            Some(at) => queue = wait_timeout(&shared.due, queue, at - now),
            None => queue = wait(&shared.due, queue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn jobs_run_in_due_order() {
        let retrier = Retrier::start().expect("thread starts");
        let (tx, rx) = mpsc::channel();
        for (delay, tag) in [(30, "late"), (0, "now"), (10, "soon")] {
            let tx = tx.clone();
            retrier.after(Duration::from_millis(delay), move || {
                let _ = tx.send(tag);
            });
        }
        let order: Vec<_> = (0..3).filter_map(|_| rx.recv().ok()).collect();
        assert_eq!(order, ["now", "soon", "late"]);
        retrier.close();
    }

    #[test]
    fn closing_drops_queued_jobs() {
        let retrier = Retrier::start().expect("thread starts");
        let (tx, rx) = mpsc::channel::<()>();
        retrier.after(Duration::from_secs(60), move || drop(tx));
        retrier.close();
        // The job (and the sender it owns) was dropped without running.
        assert!(rx.recv().is_err());
    }
}
