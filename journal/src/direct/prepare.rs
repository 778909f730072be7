//! The background thread that prepares journal files.
//!
//! Zero-filling a 128 MiB file takes tens of milliseconds or more; doing it on
//! the journal's thread would stall every append behind it. One worker thread
//! takes prepare jobs from a bounded queue, and after each job posts the result
//! and bumps an eventfd. The storage keeps a read of that eventfd in its ring,
//! so a thread blocked in the ring wakes up when a prepare finishes.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use super::files::prepare_file;

/// Prepare jobs that may wait for the worker. The journal keeps one or two
/// files ahead, so a full queue means a bug in the caller.
pub(crate) const MAX_QUEUED_PREPARES: usize = 8;

struct Job {
    token: u64,
    path: PathBuf,
    len: u64,
}

/// A finished prepare: the token it was submitted with, and its outcome.
pub(crate) type Prepared = (u64, io::Result<()>);

/// The worker thread and the two channels to it.
pub(crate) struct PrepareWorker {
    jobs: Option<SyncSender<Job>>,
    results: Receiver<Prepared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PrepareWorker {
    /// Starts the worker; it bumps `wakeup` (an eventfd) after every job.
    pub fn start(wakeup: File) -> io::Result<Self> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(MAX_QUEUED_PREPARES);
        let (result_tx, results) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let worker_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("spate-journal-prepare".into())
            .spawn(move || run(&job_rx, &result_tx, &wakeup, &worker_stop))?;
        Ok(Self {
            jobs: Some(jobs),
            results,
            stop,
            thread: Some(thread),
        })
    }

    /// Queues a prepare of `path` to `len` bytes. Never blocks: a job that
    /// cannot be queued is answered with an error right away.
    pub fn submit(&mut self, token: u64, path: PathBuf, len: u64) -> Result<(), Prepared> {
        let Some(jobs) = &self.jobs else {
            return Err((token, Err(io::Error::other("prepare worker stopped"))));
        };
        match jobs.try_send(Job { token, path, len }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) => {
                let msg = format!("more than {MAX_QUEUED_PREPARES} file prepares queued");
                Err((
                    job.token,
                    Err(io::Error::new(io::ErrorKind::WouldBlock, msg)),
                ))
            }
            Err(TrySendError::Disconnected(job)) => {
                Err((job.token, Err(io::Error::other("prepare worker died"))))
            }
        }
    }

    /// A finished prepare, if one is waiting.
    pub fn try_result(&mut self) -> Option<Prepared> {
        self.results.try_recv().ok()
    }
}

impl Drop for PrepareWorker {
    fn drop(&mut self) {
        // Abandon the current job between chunks, let the queue close, and wait:
        // the thread must not outlive the storage that owns its files.
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            // A panic in the worker has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

fn run(jobs: &Receiver<Job>, results: &mpsc::Sender<Prepared>, wakeup: &File, stop: &AtomicBool) {
    while let Ok(job) = jobs.recv() {
        let result = prepare_file(&job.path, job.len, stop);
        if results.send((job.token, result)).is_err() {
            return; // The storage is gone.
        }
        // An eventfd write only fails if the counter would overflow, which
        // needs 2^64 unread wakeups.
        let bumped = (&*wakeup).write_all(&1u64.to_ne_bytes());
        assert!(bumped.is_ok(), "eventfd write failed: {bumped:?}");
    }
}
