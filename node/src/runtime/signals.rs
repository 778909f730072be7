//! SIGINT and SIGTERM, turned into a message for the main thread.
//!
//! The signals are blocked in every thread (the mask is inherited by the
//! cores' threads, so no core is interrupted), and one thread waits for them
//! with `sigwait`.

use std::sync::mpsc;

use super::CoreEvent;

fn termination_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill the local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Blocks SIGINT and SIGTERM in this thread and every thread it starts.
pub(crate) fn block_termination_signals() {
    let set = termination_set();
    // SAFETY: changes only this thread's signal mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Starts the thread that waits for a termination signal and reports it.
pub(crate) fn forward_to(events: mpsc::Sender<CoreEvent>) {
    std::thread::Builder::new()
        .name("spate-signals".into())
        .spawn(move || {
            let set = termination_set();
            let mut signal = 0;
            // SAFETY: waits for a signal of the blocked set.
            unsafe { libc::sigwait(&set, &mut signal) };
            let _ = events.send(CoreEvent::Signal);
        })
        .expect("the signal thread starts");
}
