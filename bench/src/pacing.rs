//! Sending at intended times: an open loop charges the sender's own lateness
//! to the system under test, so the sender must not be late.

use std::time::Instant;

/// Asks the kernel to wake this thread when its sleeps end rather than up to
/// 50 µs later (the default timer slack, which lets it batch wake-ups). In an
/// open loop the sender's lateness counts against the system under test, so
/// a lazy sender would inflate every latency it reports.
pub(crate) fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only changes
    // this thread's timer slack.
    let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    if rc != 0 {
        eprintln!(
            "warning: could not lower the timer slack; latencies may include up to 50 µs of sender lateness"
        );
    }
}

/// Waits until `t` (the journal's floor probe paces its writes the same way).
pub(crate) fn wait_until(t: Instant) {
    spate_journal::direct::floor::sleep_until(t);
}
